import json
import uuid

import pytest
from django.contrib.gis.geos import Point

from grid.crs import from_wgs84
from grid.models import Grid, Incident
from grid.services import grid_save, incidents_place
from tests.factories import IncidentFactory, box

URL = "/api/v1/incidents/"


def report(client, **fields):
    body = {
        "lon": 109.92,
        "lat": 35.17,
        "category": "litter",
        "note": "垃圾堆放在路口",
        "client_uuid": str(uuid.uuid4()),
        **fields,
    }
    return client.post(URL, body, format="json")


def test_report_is_stored_in_the_grid_of_its_point(api_as, people, territory):
    response = report(api_as(people["worker"]))
    assert response.status_code == 201
    feature = response.json()
    incident = Incident.objects.get(pk=feature["id"])
    assert (incident.grid.code, incident.community, incident.street, incident.county) == (
        "G-A-S",
        territory.community_a,
        territory.street_a,
        territory.county,
    )
    assert feature["properties"]["grid"]["code"] == "G-A-S"
    assert feature["properties"]["status"] == "reported"
    assert feature["properties"]["reporter"] == "worker-as"
    assert feature["geometry"]["coordinates"] == pytest.approx([109.92, 35.17])


def test_the_same_client_uuid_again_returns_the_same_record(api_as, people, territory):
    client, key = api_as(people["worker"]), str(uuid.uuid4())
    first = report(client, client_uuid=key)
    again = report(client, client_uuid=key, note="重发")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["properties"]["note"] == "垃圾堆放在路口"
    assert Incident.objects.filter(client_uuid=key).count() == 1


def test_a_client_uuid_of_another_account_is_a_conflict(api_as, people, territory):
    key = str(uuid.uuid4())
    report(api_as(people["worker"]), client_uuid=key)
    response = report(api_as(people["resident"]), client_uuid=key)
    assert response.status_code == 409 and "client_uuid" in response.json()
    assert Incident.objects.count() == 1


def test_geojson_location_and_gcj02_are_converted_to_wgs84(api_as, people, territory):
    lon, lat = from_wgs84(109.97, 35.22, "gcj02")
    payload = {
        "location": {"type": "Point", "coordinates": [lon, lat]},
        "crs": "gcj02",
        "category": "litter",
        "client_uuid": str(uuid.uuid4()),
    }
    response = api_as(people["admin"]).post(URL, payload, format="json")
    assert response.status_code == 201
    incident = Incident.objects.get(pk=response.json()["id"])
    assert incident.grid.code == "G-B-N"
    assert (incident.location.x, incident.location.y) == pytest.approx((109.97, 35.22), abs=1e-8)


def test_a_point_outside_every_grid_is_refused(api_as, people, territory):
    response = report(api_as(people["worker"]), lon=108.0, lat=34.0)
    assert response.status_code == 400 and "location" in response.json()
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"lon": None}, "lon"),
        ({"lat": "north"}, "lat"),
        ({"lon": 200}, "lon"),
        ({"lat": "inf"}, "lat"),
        ({"crs": "gcj03"}, "crs"),
        ({"category": "aliens"}, "category"),
        ({"client_uuid": "not-a-uuid"}, "client_uuid"),
        ({"note": "长" * 2001}, "note"),
    ],
)
def test_bad_report_is_a_400_naming_the_field(api_as, people, territory, fields, field):
    body = {"lon": 109.92, "lat": 35.17, "category": "litter", "client_uuid": str(uuid.uuid4()), **fields}
    body = {k: v for k, v in body.items() if v is not None}
    response = api_as(people["worker"]).post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    "location",
    [
        "not json",
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
        {"type": "Point", "coordinates": ["a", "b"]},
        {"type": "Point", "coordinates": [109.9]},
        {"type": "Point", "coordinates": [190, 35]},
        {"type": "Point"},
    ],
)
def test_malformed_geojson_is_a_400(api_as, people, territory, location):
    body = {"location": location, "category": "litter", "client_uuid": str(uuid.uuid4())}
    response = api_as(people["worker"]).post(URL, body, format="json")
    assert response.status_code == 400 and "location" in response.json()


def test_location_and_lon_lat_together_or_missing_both(api_as, people, territory):
    client = api_as(people["worker"])
    both = {
        "lon": 1,
        "lat": 2,
        "location": {"type": "Point", "coordinates": [1, 2]},
        "category": "litter",
        "client_uuid": str(uuid.uuid4()),
    }
    assert "location" in client.post(URL, both, format="json").json()
    response = client.post(URL, {"category": "litter", "client_uuid": str(uuid.uuid4())}, format="json")
    assert response.status_code == 400 and {"lon", "lat"} <= set(response.json())


def test_oversized_and_non_json_bodies_are_refused(api_as, people, territory):
    client = api_as(people["worker"])
    huge = client.post(URL, json.dumps({"note": "x" * 2_000_000}), content_type="application/json")
    assert huge.status_code == 413 and "detail" in huge.json()
    broken = client.post(URL, "{not json", content_type="application/json")
    assert broken.status_code == 400 and "detail" in broken.json()


def test_anonymous_users_neither_see_nor_report(api, territory):
    IncidentFactory(location=Point(109.92, 35.17, srid=4326))
    assert api.get(URL).status_code in (401, 403)
    assert report(api).status_code in (401, 403)


def test_auditors_read_but_do_not_report(api_as, people, territory):
    assert report(api_as(people["auditor"])).status_code == 403


@pytest.fixture
def spread(people, territory):
    """One incident in each grid, each reported by the resident."""
    incidents = {}
    for key, (lon, lat) in {
        "A-S": (109.92, 35.17),
        "A-N": (109.92, 35.22),
        "B-S": (109.97, 35.17),
        "B-N": (109.97, 35.22),
    }.items():
        incidents[key] = IncidentFactory(location=Point(lon, lat, srid=4326), reporter=people["resident"])
    incidents_place()
    return incidents


@pytest.mark.parametrize(
    "who, visible",
    [
        ("worker", {"A-S"}),
        ("dispatcher_a", {"A-S", "A-N"}),
        ("dispatcher_street_b", {"B-S", "B-N"}),
        ("admin", {"A-S", "A-N", "B-S", "B-N"}),
        ("auditor", {"A-S", "A-N", "B-S", "B-N"}),
        ("resident", {"A-S", "A-N", "B-S", "B-N"}),  # the resident reported all four
    ],
)
def test_each_role_sees_its_scope(api_as, people, spread, who, visible):
    body = api_as(people[who]).get(URL).json()
    ids = {f["id"] for f in body["features"]}
    assert ids == {spread[key].pk for key in visible}


def test_a_grid_worker_never_sees_another_grids_incident_but_sees_own_reports(api_as, people, spread, territory):
    client = api_as(people["worker"])
    mine = report(client, lon=109.97, lat=35.22).json()  # reported by the worker in grid B-N
    ids = {f["id"] for f in client.get(URL).json()["features"]}
    assert ids == {spread["A-S"].pk, mine["id"]}
    assert spread["B-N"].pk not in ids


def test_list_filters_and_bad_filters(api_as, people, spread):
    client = api_as(people["admin"])
    spread["B-N"].category_id = None
    in_bbox = client.get(URL, {"in_bbox": "109.96,35.16,109.98,35.18"}).json()["features"]
    assert [f["id"] for f in in_bbox] == [spread["B-S"].pk]
    assert len(client.get(URL, {"status": "reported", "category": "litter"}).json()["features"]) == 4
    assert client.get(URL, {"category": "fire_hazard"}).json()["features"] == []
    for query, field in (({"status": "lost"}, "status"), ({"category": "aliens"}, "category")):
        response = client.get(URL, query)
        assert response.status_code == 400 and field in response.json()
    assert client.get(URL, {"in_bbox": "a,b"}).status_code == 400


def test_listing_costs_a_fixed_number_of_queries(api_as, people, spread, django_assert_max_num_queries):
    client = api_as(people["admin"])
    for i in range(20):
        IncidentFactory(location=Point(109.91 + i * 0.001, 35.16, srid=4326))
    incidents_place()
    with django_assert_max_num_queries(5):  # token user, areas of scope, count, page
        body = client.get(URL).json()
    assert len(body["features"]) == 24


def test_moving_a_boundary_re_places_incidents_and_a_second_run_changes_nothing(
    people, spread, territory, django_capture_on_commit_callbacks
):
    # grid A-N grows south over part of A-S (A-S shrinks first, so they never overlap)
    a_s, a_n = territory.grids["A-S"], territory.grids["A-N"]
    a_s.boundary = box(109.90, 35.15, 109.95, 35.16)
    a_n.boundary = box(109.90, 35.16, 109.95, 35.25)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        grid_save(grid=a_s)
        grid_save(grid=a_n)
    assert len(callbacks) == 2  # re-placement is queued for after the commit
    assert incidents_place(grid_ids=[a_s.pk, a_n.pk]) == 1
    assert Incident.objects.get(pk=spread["A-S"].pk).grid == a_n
    assert incidents_place(grid_ids=[a_s.pk, a_n.pk]) == 0
    assert incidents_place() == 0
    # and a point that no grid covers any more loses its grid
    Grid.objects.filter(pk=territory.grids["B-S"].pk).update(boundary=box(109.99, 35.15, 110.00, 35.16))
    assert incidents_place() == 1
    assert Incident.objects.get(pk=spread["B-S"].pk).grid is None


def test_categories_list(api, db):
    body = api.get("/api/v1/incidents/categories/").json()
    codes = [c["code"] for c in body]
    assert {
        "city_appearance",
        "public_security",
        "neighbour_dispute",
        "facility_damage",
        "gig_worker_appeal",
        "flood_control",
    } <= set(codes)
    assert {"code", "name"} <= set(body[0])
    assert next(c for c in body if c["code"] == "litter")["parent"] == "city_appearance"


def test_deleting_a_grid_re_places_its_incidents_and_stations(
    people, spread, territory, django_capture_on_commit_callbacks
):
    from grid.models import Station
    from grid.services import grids_delete, places_refresh, stations_place
    from tests.factories import StationFactory

    station = StationFactory(location=Point(109.92, 35.17, srid=4326))
    assert stations_place() == 1 and Station.objects.get(pk=station.pk).grid == territory.grids["A-S"]
    # A-N grows over A-S's area (allowed once A-S is gone); then A-S is deleted
    a_s, a_n = territory.grids["A-S"], territory.grids["A-N"]
    with django_capture_on_commit_callbacks(execute=True):
        grids_delete(grids=Grid.objects.filter(pk=a_s.pk))
    a_n.boundary = box(109.90, 35.15, 109.95, 35.25)
    with django_capture_on_commit_callbacks(execute=False):
        grid_save(grid=a_n)
    assert places_refresh(grid_ids=[a_n.pk]) == {"incidents": 1, "stations": 1}
    moved = Incident.objects.get(pk=spread["A-S"].pk)
    assert (moved.grid, moved.community, moved.street) == (a_n, territory.community_a, territory.street_a)
    assert Station.objects.get(pk=station.pk).grid == a_n
    assert places_refresh(grid_ids=[a_n.pk]) == {"incidents": 0, "stations": 0}


def test_a_deleted_grid_with_no_neighbour_leaves_no_stale_community(
    people, spread, territory, django_capture_on_commit_callbacks
):
    from grid.services import grids_delete, places_refresh

    with django_capture_on_commit_callbacks(execute=False):
        grids_delete(grids=Grid.objects.filter(pk=territory.grids["B-N"].pk))
    assert places_refresh(grid_ids=[]) == {"incidents": 1, "stations": 0}
    orphan = Incident.objects.get(pk=spread["B-N"].pk)
    assert (orphan.grid, orphan.community, orphan.street, orphan.county) == (None, None, None, None)


def test_deleting_several_grids_queues_one_re_placement(people, spread, territory, django_capture_on_commit_callbacks):
    from grid.services import grids_delete, places_refresh

    codes = ["G-B-S", "G-B-N"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert grids_delete(grids=Grid.objects.filter(code__in=codes)) == 2
    assert len(callbacks) == 1
    assert places_refresh(grid_ids=[]) == {"incidents": 2, "stations": 0}
    assert not Incident.objects.filter(pk__in=[spread["B-S"].pk, spread["B-N"].pk], community__isnull=False).exists()
