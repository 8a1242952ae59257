"""Workers' positions, dispatch candidates and claimable service requests, checked against pyproj's geodesics."""

import datetime as dt

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from pyproj import Geod

from grid.crs import from_wgs84, to_wgs84
from grid.models import Incident, Role, WorkerStatus
from grid.selectors.dispatch import worker_candidates
from grid.services.workforce import worker_status_update
from tests.factories import IncidentFactory, UserFactory

POSITION_URL = "/api/v1/workers/me/position/"
CLAIMABLE_URL = "/api/v1/incidents/claimable/"
GEOD = Geod(ellps="WGS84")


def candidates_url(incident: Incident) -> str:
    return f"/api/v1/incidents/{incident.pk}/candidates/"


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def at_distance(lon: float, lat: float, azimuth: float, distance_m: float) -> tuple[float, float]:
    """The point `distance_m` metres from (lon, lat) along `azimuth` degrees, on the WGS 84 spheroid."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth, distance_m)
    return lon2, lat2


def located_worker(*, lon, lat, grid=None, role=Role.GRID_WORKER, on_duty=True, minutes_ago=1, **fields):
    user = UserFactory(role=role, **fields)
    if grid is not None:
        grid.workers.add(user)
    WorkerStatus.objects.create(
        user=user,
        on_duty=on_duty,
        location=Point(lon, lat, srid=4326),
        accuracy_m=10,
        position_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
    )
    return user


# ── positions ────────────────────────────────────────────────────────────────────────────────────────


def test_a_position_posted_in_gcj02_is_stored_in_wgs84(api_as, people):
    lon, lat = 109.925, 35.175
    response = api_as(people["worker"]).post(
        POSITION_URL, {"lon": lon, "lat": lat, "crs": "gcj02", "accuracy_m": 8, "on_duty": True}, format="json"
    )
    assert response.status_code == 200, response.content
    status = WorkerStatus.objects.get(user=people["worker"])
    expected = to_wgs84(lon, lat, "gcj02")
    # the conversion moved the point by hundreds of metres, and the stored point is the converted one
    assert metres(lon, lat, *expected) > 100
    assert metres(status.location.x, status.location.y, *expected) < 0.01
    assert (status.on_duty, status.accuracy_m) == (True, 8)
    assert abs((timezone.now() - status.position_at).total_seconds()) < 60
    body = response.json()
    assert body["on_duty"] is True and body["accuracy_m"] == 8
    assert body["location"]["coordinates"] == pytest.approx(list(expected), abs=1e-6)


def test_a_geojson_position_in_bd09_is_stored_in_wgs84(api_as, people):
    wgs = (109.93, 35.21)
    bd = from_wgs84(*wgs, "bd09")
    response = api_as(people["worker"]).post(
        POSITION_URL, {"location": {"type": "Point", "coordinates": list(bd)}, "crs": "bd09"}, format="json"
    )
    assert response.status_code == 200, response.content
    status = WorkerStatus.objects.get(user=people["worker"])
    assert metres(status.location.x, status.location.y, *wgs) < 0.01
    assert status.on_duty is False  # not given, so the default: a position alone does not put anyone on duty


def test_an_older_fix_does_not_overwrite_a_newer_one(api_as, people):
    client, now = api_as(people["worker"]), timezone.now()
    newer = {"lon": 109.93, "lat": 35.18, "on_duty": True, "at": (now - dt.timedelta(minutes=1)).isoformat()}
    older = {"lon": 109.91, "lat": 35.16, "on_duty": False, "at": (now - dt.timedelta(minutes=3)).isoformat()}
    assert client.post(POSITION_URL, newer, format="json").status_code == 200
    # the phone resends a queued fix taken earlier: it changes nothing, position or duty
    response = client.post(POSITION_URL, older, format="json")
    assert response.status_code == 200
    status = WorkerStatus.objects.get(user=people["worker"])
    assert (status.location.x, status.location.y, status.on_duty) == pytest.approx((109.93, 35.18, True))
    assert status.position_at == dt.datetime.fromisoformat(newer["at"])
    assert response.json()["location"]["coordinates"] == pytest.approx([109.93, 35.18])
    # a later fix does move it
    latest = {"lon": 109.94, "lat": 35.19, "at": now.isoformat()}
    assert client.post(POSITION_URL, latest, format="json").status_code == 200
    status.refresh_from_db()
    assert (status.location.x, status.location.y, status.on_duty) == pytest.approx((109.94, 35.19, True))
    assert WorkerStatus.objects.count() == 1


def test_on_duty_alone_keeps_the_position_and_a_form_post_without_it_keeps_the_duty(api_as, people):
    client = api_as(people["worker"])
    assert client.post(POSITION_URL, {"lon": 109.93, "lat": 35.18, "on_duty": True}, format="json").status_code == 200
    response = client.post(POSITION_URL, {"on_duty": False}, format="json")
    assert response.status_code == 200
    status = WorkerStatus.objects.get(user=people["worker"])
    assert (status.on_duty, status.location.x, status.location.y) == (False, 109.93, 35.18)
    client.post(POSITION_URL, {"on_duty": True}, format="json")
    # multipart, as a web form sends it: a missing boolean must not read as False
    assert client.post(POSITION_URL, {"lon": "109.92", "lat": "35.17"}).status_code == 200
    status.refresh_from_db()
    assert (status.on_duty, status.location.x) == (True, 109.92)
    assert api_as(UserFactory(role=Role.GRID_WORKER)).get(POSITION_URL).json()["location"] is None
    got = client.get(POSITION_URL)
    assert got.status_code == 200
    assert got.json()["on_duty"] is True and got.json()["location"]["coordinates"] == [109.92, 35.17]


def test_the_service_stores_one_row_per_account_and_ignores_stale_fixes(people):
    worker, now = people["worker"], timezone.now()
    worker_status_update(user=worker, location=Point(109.93, 35.18, srid=4326), at=now)
    stale = worker_status_update(
        user=worker, location=Point(109.91, 35.16, srid=4326), on_duty=True, at=now - dt.timedelta(seconds=1)
    )
    assert (stale.location.x, stale.on_duty, stale.position_at) == (109.93, False, now)
    assert WorkerStatus.objects.filter(user=worker).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_fixes_make_one_row_holding_the_latest_fix():
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    worker, start = UserFactory(role=Role.GRID_WORKER), timezone.now() - dt.timedelta(minutes=1)
    fixes = [(start + dt.timedelta(seconds=i), Point(109.90 + i / 1000, 35.18, srid=4326)) for i in range(8)]

    def post(fix):
        try:
            worker_status_update(user=worker, location=fix[1], on_duty=True, at=fix[0])
        finally:
            connection.close()

    # sent all at once, latest first: whichever arrives last, the row must end with the latest fix
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(post, list(reversed(fixes))))
    status = WorkerStatus.objects.get(user=worker)
    assert (status.position_at, status.location.x) == (fixes[-1][0], pytest.approx(109.907))


@pytest.mark.parametrize(
    "body, field",
    [
        ({"lon": 109.93, "lat": 91}, "lat"),
        ({"lon": "nan", "lat": 35.18}, "lon"),
        ({"lon": 109.93, "lat": "inf"}, "lat"),
        ({"lon": 109.93}, "lat"),
        ({"lat": 35.18, "on_duty": True}, "lon"),
        ({"lon": 109.93, "lat": 35.18, "accuracy_m": -1}, "accuracy_m"),
        ({"lon": 109.93, "lat": 35.18, "accuracy_m": 10001}, "accuracy_m"),
        ({"lon": 109.93, "lat": 35.18, "crs": "utm"}, "crs"),
        ({"lon": 109.93, "lat": 35.18, "on_duty": "maybe"}, "on_duty"),
        ({"lon": 109.93, "lat": 35.18, "at": "yesterday"}, "at"),
        ({"accuracy_m": 5, "on_duty": True}, "accuracy_m"),
        ({"location": {"type": "Point", "coordinates": [109.93, 35.18]}, "lon": 109.93}, "location"),
        ({}, "location"),
    ],
)
def test_bad_positions_are_refused_with_a_field_message(api_as, people, body, field):
    response = api_as(people["worker"]).post(POSITION_URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not WorkerStatus.objects.exists()


def test_a_fix_more_than_five_minutes_in_the_future_is_refused(api_as, people):
    client, now = api_as(people["worker"]), timezone.now()
    ahead = {"lon": 109.93, "lat": 35.18, "at": (now + dt.timedelta(minutes=6)).isoformat()}
    response = client.post(POSITION_URL, ahead, format="json")
    assert response.status_code == 400 and "at" in response.json()
    # a clock a little fast is tolerated
    slightly = {"lon": 109.93, "lat": 35.18, "at": (now + dt.timedelta(minutes=4)).isoformat()}
    assert client.post(POSITION_URL, slightly, format="json").status_code == 200


@pytest.mark.parametrize("who", ["dispatcher_a", "admin", "auditor", "resident"])
def test_only_grid_workers_and_volunteers_post_positions(api_as, people, who):
    client = api_as(people[who])
    assert client.post(POSITION_URL, {"lon": 109.93, "lat": 35.18}, format="json").status_code == 403
    assert client.get(POSITION_URL).status_code == 403
    assert not WorkerStatus.objects.exists()


def test_a_volunteer_resident_posts_a_position_and_anonymous_callers_cannot(api, api_as, people):
    volunteer = UserFactory(role=Role.RESIDENT, volunteer=True)
    assert api_as(volunteer).post(POSITION_URL, {"lon": 109.93, "lat": 35.18}, format="json").status_code == 200
    assert api.post(POSITION_URL, {"lon": 109.93, "lat": 35.18}, format="json").status_code in (401, 403)
    assert WorkerStatus.objects.get().user == volunteer


# ── dispatch candidates ──────────────────────────────────────────────────────────────────────────────

# In grid A-S (community A), 550 m west of grid B-S (community B).
CASE = (109.944, 35.175)


@pytest.fixture
def case(territory):
    return IncidentFactory(
        location=Point(*CASE, srid=4326),
        status=Incident.Status.ACCEPTED,
        grid=territory.grids["A-S"],
        community=territory.community_a,
        street=territory.street_a,
        county=territory.county,
    )


@pytest.fixture
def crew(territory):
    """Workers around the case, made farthest first. Naive degree distances rank `north` before `east`; the
    spheroid does not."""
    g = territory.grids
    return {
        "diagonal": located_worker(lon=CASE[0] - 0.007, lat=CASE[1] + 0.007, grid=g["A-S"], username="diagonal"),
        "north": located_worker(lon=CASE[0], lat=CASE[1] + 0.009, grid=g["A-N"], username="north"),
        "east": located_worker(lon=CASE[0] - 0.010, lat=CASE[1], grid=g["A-S"], username="east", phone="13800000001"),
        "stale": located_worker(lon=CASE[0], lat=CASE[1] + 0.001, grid=g["A-S"], minutes_ago=31, username="stale"),
        "off": located_worker(lon=CASE[0], lat=CASE[1] - 0.001, grid=g["A-S"], on_duty=False, username="off"),
        "other_area": located_worker(lon=CASE[0] + 0.008, lat=CASE[1], grid=g["B-S"], username="other-area"),
        "volunteer": located_worker(
            lon=CASE[0] - 0.002, lat=CASE[1], role=Role.RESIDENT, volunteer=True, username="volunteer"
        ),
        "resident": located_worker(lon=CASE[0] - 0.001, lat=CASE[1], role=Role.RESIDENT, username="plain-resident"),
    }


def expected_ranking(users) -> list[tuple[str, float]]:
    ranked = [(u.username, metres(*CASE, u.worker_status.location.x, u.worker_status.location.y)) for u in users]
    return sorted(ranked, key=lambda pair: pair[1])


def assert_ranked_as_pyproj(rows, users):
    expected = expected_ranking(users)
    assert [row["username"] for row in rows] == [name for name, _ in expected]
    for row, (_, distance) in zip(rows, expected, strict=True):
        assert abs(row["distance_m"] - distance) < 0.5


def test_candidates_are_on_duty_fresh_workers_of_the_callers_grids_by_geodesic_distance(api_as, people, case, crew):
    response = api_as(people["dispatcher_a"]).get(candidates_url(case))
    assert response.status_code == 200, response.content
    rows = response.json()
    # the naive ranking differs, so the order below is the spheroid's
    assert 0.010 > 0.009 and metres(*CASE, CASE[0] - 0.010, CASE[1]) < metres(*CASE, CASE[0], CASE[1] + 0.009)
    assert_ranked_as_pyproj(rows, [crew["east"], crew["north"], crew["diagonal"]])
    east = rows[0]
    assert east["phone"] == "*******0001" and east["grids"] == ["G-A-S"]
    # rounded to 0.001° (about 100 m): where to look on the map, not where the worker stands
    assert east["position"]["coordinates"] == [round(CASE[0] - 0.010, 3), round(CASE[1], 3)]
    assert rows[1]["grids"] == ["G-A-N"]


def test_the_county_administrator_sees_workers_of_every_grid(api_as, people, case, crew):
    rows = api_as(people["admin"]).get(candidates_url(case)).json()
    assert_ranked_as_pyproj(rows, [crew["east"], crew["north"], crew["diagonal"], crew["other_area"]])
    assert rows[0]["username"] == "other-area"


def test_volunteers_join_the_candidates_only_when_asked(api_as, people, case, crew):
    client = api_as(people["dispatcher_a"])
    rows = client.get(candidates_url(case), {"include_volunteers": "true", "limit": 3}).json()
    assert_ranked_as_pyproj(rows, [crew["volunteer"], crew["east"], crew["north"]])
    assert rows[0]["volunteer"] is True and rows[0]["grids"] == []
    assert "volunteer" not in [row["username"] for row in client.get(candidates_url(case)).json()]


def test_a_position_older_than_the_setting_is_stale(api_as, people, case, crew, settings):
    settings.WORKER_POSITION_MAX_AGE_MINUTES = 60
    rows = api_as(people["dispatcher_a"]).get(candidates_url(case)).json()
    assert rows[0]["username"] == "stale"
    assert "off" not in [row["username"] for row in rows]


def test_open_cases_count_dispatched_and_in_progress_cases(api_as, people, case, crew):
    for status in ("dispatched", "in_progress", "in_progress", "resolved", "closed", "accepted"):
        IncidentFactory(assignee=crew["north"], status=status)
    IncidentFactory(assignee=crew["east"], status="dispatched")
    rows = api_as(people["dispatcher_a"]).get(candidates_url(case)).json()
    assert {row["username"]: row["open_cases"] for row in rows} == {"east": 1, "north": 3, "diagonal": 0}


def test_candidates_take_a_fixed_number_of_queries(
    api_as, people, territory, case, crew, django_assert_max_num_queries
):
    for i in range(5):
        located_worker(lon=CASE[0] - 0.02, lat=CASE[1] - 0.001 * i, grid=territory.grids["A-S"])
        IncidentFactory(assignee=crew["east"], status="dispatched")
    client = api_as(people["dispatcher_a"])
    # token + user, the dispatcher's areas (scope of the incident), the incident, areas (grid scope), candidates
    with django_assert_max_num_queries(5):
        rows = client.get(candidates_url(case), {"limit": 50}).json()
    assert len(rows) == 8
    dispatcher = type(people["dispatcher_a"]).objects.get(pk=people["dispatcher_a"].pk)
    with django_assert_max_num_queries(2):  # the areas of the scope, then one query for everything
        assert len(worker_candidates(incident=case, user=dispatcher, limit=50)) == 8


def test_limit_keeps_the_nearest(api_as, people, case, crew):
    rows = api_as(people["dispatcher_a"]).get(candidates_url(case), {"limit": 2}).json()
    assert [row["username"] for row in rows] == ["east", "north"]


def test_a_dispatcher_of_another_area_gets_404_for_the_case(api_as, people, case, crew):
    assert api_as(people["dispatcher_street_b"]).get(candidates_url(case)).status_code == 404
    assert api_as(people["dispatcher_a"]).get(f"/api/v1/incidents/{case.pk + 1000}/candidates/").status_code == 404


@pytest.mark.parametrize("who", ["worker", "auditor", "resident"])
def test_only_dispatchers_and_administrators_see_candidates(api_as, people, case, crew, who):
    assert api_as(people[who]).get(candidates_url(case)).status_code == 403


def test_a_superuser_sees_candidates(api_as, case, crew):
    root = UserFactory(is_superuser=True, role=Role.RESIDENT)
    assert [row["username"] for row in api_as(root).get(candidates_url(case)).json()][0] == "other-area"


@pytest.mark.parametrize(
    "query, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"include_volunteers": "maybe"}, "include_volunteers"),
    ],
)
def test_bad_candidate_queries_are_refused_with_a_field_message(api_as, people, case, query, field):
    response = api_as(people["dispatcher_a"]).get(candidates_url(case), query)
    assert response.status_code == 400 and field in response.json()


# ── claimable service requests ───────────────────────────────────────────────────────────────────────

HERE = (109.93, 35.19)


def request_at(distance_m: float, azimuth: float = 90, **fields) -> Incident:
    lon, lat = at_distance(*HERE, azimuth, distance_m)
    values = {"kind": "request", "status": "accepted", "open_to_volunteers": True, **fields}
    return IncidentFactory(location=Point(lon, lat, srid=4326), note=f"{distance_m:.0f} m", **values)


@pytest.fixture
def requests_around(db):
    deadline = timezone.now() + dt.timedelta(hours=2)
    claimable = {
        "near": request_at(500, azimuth=30, deadline=deadline),
        "inside": request_at(2995, azimuth=0),
        "mid": request_at(1500, azimuth=200),
    }
    request_at(3005, azimuth=0)  # just outside the default 3000 m
    # within the radius but not claimable
    request_at(100, assignee=UserFactory(volunteer=True))
    request_at(110, status="dispatched")
    request_at(120, status="reported")
    request_at(130, kind="report")
    request_at(140, open_to_volunteers=False)
    return claimable


def posted_here(client, lon_lat=HERE):
    """The client, after its phone posted its position at `lon_lat`, as a volunteer's app does before asking."""
    response = client.post(POSITION_URL, {"lon": lon_lat[0], "lat": lon_lat[1], "on_duty": True}, format="json")
    assert response.status_code == 200, response.content
    return client


def test_claimable_requests_lie_within_the_radius_by_geodesic_distance(api_as, people, requests_around):
    response = posted_here(api_as(people["worker"])).get(CLAIMABLE_URL, {"lon": HERE[0], "lat": HERE[1]})
    assert response.status_code == 200, response.content
    rows = response.json()
    expected = ["near", "mid", "inside"]
    assert [row["id"] for row in rows] == [requests_around[name].pk for name in expected]
    for row in rows:
        incident = Incident.objects.get(pk=row["id"])
        assert abs(row["distance_m"] - metres(*HERE, incident.location.x, incident.location.y)) < 0.5
    assert rows[0]["category"] == "litter" and rows[0]["category_name"]
    assert rows[0]["deadline"] is not None and rows[1]["deadline"] is None
    assert rows[0]["note"] == "500 m"
    assert set(rows[0]) == {"id", "location", "distance_m", "category", "category_name", "note", "created", "deadline"}


def test_a_smaller_radius_and_a_gcj02_point_give_the_same_geodesic_answer(api_as, requests_around):
    volunteer = UserFactory(role=Role.RESIDENT, volunteer=True)
    lon, lat = from_wgs84(*HERE, "gcj02")
    client = posted_here(api_as(volunteer))
    rows = client.get(CLAIMABLE_URL, {"lon": lon, "lat": lat, "crs": "gcj02", "radius_m": 1000}).json()
    assert [row["id"] for row in rows] == [requests_around["near"].pk]
    assert abs(rows[0]["distance_m"] - 500) < 0.5


def test_claimable_requests_outside_the_callers_area_are_found_near_his_position(api_as, people, territory):
    # a request in community B, found by the worker of grid A-S who cannot see it in the incident list
    far = request_at(800, azimuth=90, community=territory.community_b)
    client = posted_here(api_as(people["worker"]))
    assert far.pk not in [f["id"] for f in client.get("/api/v1/incidents/").json()["features"]]
    rows = client.get(CLAIMABLE_URL, {"lon": HERE[0], "lat": HERE[1]}).json()
    assert [row["id"] for row in rows] == [far.pk]


@pytest.mark.parametrize("who", ["auditor", "resident", "dispatcher_a"])
def test_only_grid_workers_and_volunteers_see_claimable_requests(api_as, people, requests_around, who):
    assert api_as(people[who]).get(CLAIMABLE_URL, {"lon": HERE[0], "lat": HERE[1]}).status_code == 403


@pytest.mark.parametrize(
    "query, field",
    [
        ({"lon": HERE[0], "lat": HERE[1], "radius_m": 0}, "radius_m"),
        ({"lon": HERE[0], "lat": HERE[1], "radius_m": 50001}, "radius_m"),
        ({"lon": HERE[0], "lat": HERE[1], "radius_m": "nan"}, "radius_m"),
        ({"lon": HERE[0], "lat": HERE[1], "radius_m": "far"}, "radius_m"),
        ({"lon": HERE[0]}, "lat"),
        ({"lon": HERE[0], "lat": 91}, "lat"),
        ({"lon": HERE[0], "lat": HERE[1], "crs": "bd11"}, "crs"),
    ],
)
def test_bad_claimable_queries_are_refused_with_a_field_message(api_as, people, query, field):
    response = api_as(people["worker"]).get(CLAIMABLE_URL, query)
    assert response.status_code == 400 and field in response.json()


# ── candidates and claims stay within the incident's area or the claim radius ─────────────────────────


def test_volunteer_candidates_are_those_of_the_incidents_area_or_within_the_radius(
    api_as, people, territory, case, crew, settings
):
    far_lon, far_lat = at_distance(*CASE, 270, 4000)
    located_worker(lon=far_lon, lat=far_lat, role=Role.RESIDENT, volunteer=True, username="far-stranger")
    member = located_worker(
        lon=far_lon, lat=far_lat, role=Role.RESIDENT, volunteer=True, username="far-member", phone="139-1234-5678"
    )
    member.areas.set([territory.community_a])
    client = api_as(people["dispatcher_a"])
    rows = client.get(candidates_url(case), {"include_volunteers": "true", "limit": 50}).json()
    names = [row["username"] for row in rows]
    # 4000 m away: the stranger is past the default 3000 m, the member of the case's community is not filtered
    assert "far-stranger" not in names and "far-member" in names and "volunteer" in names
    assert next(row for row in rows if row["username"] == "far-member")["phone"] == "*******5678"
    # a smaller radius leaves out the volunteer 180 m away who has no area
    settings.VOLUNTEER_CLAIM_RADIUS_M = int(metres(*CASE, CASE[0] - 0.002, CASE[1])) - 10
    names = [row["username"] for row in client.get(candidates_url(case), {"include_volunteers": "true"}).json()]
    assert "volunteer" not in names and "far-member" in names


def test_a_volunteer_far_from_a_request_neither_sees_nor_claims_it(api_as, people, territory):
    from grid.models import IncidentEvent

    request = request_at(500, azimuth=90, community=territory.community_b)
    volunteer = api_as(UserFactory(role=Role.RESIDENT, volunteer=True))
    posted_here(volunteer, at_distance(*HERE, 270, 3500))  # 4000 m from the request
    # asking around the request's own point does not help: the reach is from the posted position
    lon, lat = request.location.x, request.location.y
    assert volunteer.get(CLAIMABLE_URL, {"lon": lon, "lat": lat}).json() == []
    claim = volunteer.post(f"/api/v1/incidents/{request.pk}/transitions/", {"action": "claim"}, format="json")
    missing = volunteer.post(f"/api/v1/incidents/{request.pk + 1000}/transitions/", {"action": "claim"}, format="json")
    assert claim.status_code == missing.status_code == 404 and claim.json() == missing.json()
    request.refresh_from_db()
    assert (request.assignee, request.status, request.open_to_volunteers) == (None, "accepted", True)
    assert not IncidentEvent.objects.filter(incident=request).exists()
    # once near it (within the radius of the posted position), he sees it and may claim it
    posted_here(volunteer)
    assert [row["id"] for row in volunteer.get(CLAIMABLE_URL, {"lon": lon, "lat": lat}).json()] == [request.pk]
    claim = volunteer.post(f"/api/v1/incidents/{request.pk}/transitions/", {"action": "claim"}, format="json")
    assert claim.status_code == 200, claim.content
    assert claim.json()["properties"]["assignee"] is not None


def test_a_volunteer_claims_requests_of_his_community_wherever_he_is(api_as, territory, settings):
    request = request_at(500, azimuth=90, community=territory.community_a)
    user = UserFactory(role=Role.RESIDENT, volunteer=True, areas=[territory.community_a])
    volunteer = api_as(user)  # no position posted at all
    lon, lat = request.location.x, request.location.y
    assert [row["id"] for row in volunteer.get(CLAIMABLE_URL, {"lon": lon, "lat": lat}).json()] == [request.pk]
    assert (
        volunteer.post(f"/api/v1/incidents/{request.pk}/transitions/", {"action": "claim"}, format="json").status_code
        == 200
    )
    request.refresh_from_db()
    assert request.assignee == user


def test_a_stale_position_gives_no_reach(api_as, db, settings):
    request = request_at(500, azimuth=90)
    user = located_worker(lon=HERE[0], lat=HERE[1], role=Role.RESIDENT, volunteer=True, minutes_ago=31)
    rows = api_as(user).get(CLAIMABLE_URL, {"lon": HERE[0], "lat": HERE[1]}).json()
    assert request.pk not in [row["id"] for row in rows]
    settings.WORKER_POSITION_MAX_AGE_MINUTES = 60
    assert [row["id"] for row in api_as(user).get(CLAIMABLE_URL, {"lon": HERE[0], "lat": HERE[1]}).json()] == [
        request.pk
    ]
