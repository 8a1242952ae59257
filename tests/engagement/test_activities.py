"""Activities: created by those who run a branch (idempotent by client_uuid), the venue converted once and placed in
grid's grid, found near a point (geodesic order, checked with pyproj), by branch, kind, time and "mine"; the
organizer's points once an activity with a record ended; the face check-in meeting made or linked."""

import datetime as dt
import uuid

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from pyproj import Geod

from engagement.models import Activity, ActivityMedia, CheckIn, PointsEntry, PointsRule
from engagement.services.activities import activities_organized_award
from engagement.tasks import activities_organized_task
from grid.crs import wgs84_to_gcj02
from grid.models import Role
from layers.models import Organization, Person, PersonCategory, Place
from tests.factories import StationFactory, UserFactory
from vision.attendance.models import Meeting
from vision.models import Camera

LIST = "/api/v1/engagement/activities/"
GEOD = Geod(ellps="WGS84")


@pytest.fixture
def world(territory):
    branch_a = Organization.objects.create(
        code="BR-A", name="甲支部", kind=Organization.Kind.BRANCH, geometry=Point(109.92, 35.17, srid=4326),
        grid=territory.grids["A-S"],
    )  # fmt: skip
    branch_b = Organization.objects.create(
        code="BR-B", name="乙支部", kind=Organization.Kind.BRANCH, geometry=Point(109.97, 35.17, srid=4326),
        grid=territory.grids["B-S"],
    )  # fmt: skip
    dispatcher_a = UserFactory(username="disp-a", role=Role.DISPATCHER, areas=[territory.street_a])
    dispatcher_b = UserFactory(username="disp-b", role=Role.DISPATCHER, areas=[territory.street_b])
    member_user = UserFactory(username="member-a", role=Role.GIG_WORKER)
    member = Person.objects.create(
        name="党员甲", branch=branch_a, account=member_user, categories=[PersonCategory.PARTY_MEMBER],
        grid=territory.grids["A-S"],
    )  # fmt: skip
    return {"a": branch_a, "b": branch_b, "disp_a": dispatcher_a, "disp_b": dispatcher_b, "member": member,
            "member_user": member_user, "territory": territory}  # fmt: skip


def body(branch, **extra):
    data = {
        "kind": "theme_day",
        "branch": branch.pk,
        "title": "主题党日",
        "lon": 109.92,
        "lat": 35.17,
        "starts_at": "2030-05-01T09:00:00+08:00",
        "ends_at": "2030-05-01T11:00:00+08:00",
        "client_uuid": str(uuid.uuid4()),
    }
    data.update(extra)
    return data


def make(branch, *, lon=109.92, lat=35.17, starts=None, hours=2, **extra) -> Activity:
    starts = starts or timezone.now() + dt.timedelta(days=1)
    return Activity.objects.create(
        kind=extra.pop("kind", Activity.Kind.THEME_DAY), branch=branch, title=extra.pop("title", "活动"),
        location=Point(lon, lat, srid=4326), starts_at=starts, ends_at=starts + dt.timedelta(hours=hours), **extra,
    )  # fmt: skip


def test_a_runner_creates_once_per_client_uuid_with_the_venue_converted_and_placed(world, api_as):
    api = api_as(world["disp_a"])
    lon, lat = wgs84_to_gcj02(109.93, 35.18)  # an Amap position of the venue
    data = body(world["a"], lon=lon, lat=lat, crs="gcj02", radius_m=150, grace_minutes=5)
    first = api.post(LIST, data, format="json")
    again = api.post(LIST, data, format="json")
    assert first.status_code == 201, first.content
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    activity = Activity.objects.get()
    assert abs(activity.location.x - 109.93) < 1e-6 and abs(activity.location.y - 35.18) < 1e-6
    assert activity.grid == world["territory"].grids["A-S"]
    assert (activity.radius_m, activity.grace_minutes, activity.created_by) == (150, 5, world["disp_a"])
    props = first.json()["properties"]
    assert props["may_run"] is True and props["minutes"] == "" and props["expected_count"] == 1


def test_the_venue_may_be_a_station_place_or_organization_whose_point_is_copied(world, api_as):
    station = StationFactory(location=Point(109.91, 35.16, srid=4326), name="小哥驿站")
    place = Place.objects.create(
        code="P-1", name="文化广场", kind=Place.Kind.OTHER, location=Point(109.94, 35.21, srid=4326)
    )
    api = api_as(world["disp_a"])
    for key, source, point in (("station", station, (109.91, 35.16)), ("place", place, (109.94, 35.21)),
                               ("organization", world["a"], (109.92, 35.17))):  # fmt: skip
        data = body(world["a"], **{key: source.pk})
        del data["lon"], data["lat"]
        response = api.post(LIST, data, format="json")
        assert response.status_code == 201, response.content
        activity = Activity.objects.get(pk=response.json()["id"])
        assert getattr(activity, f"venue_{key}") == source and activity.venue_name == source.name
        assert (round(activity.location.x, 6), round(activity.location.y, 6)) == point


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"ends_at": "2030-05-01T08:00:00+08:00"}, "ends_at"),
        ({"radius_m": 5}, "radius_m"),
        ({"radius_m": "far"}, "radius_m"),
        ({"lon": 120.5, "lat": 30.1}, "venue"),  # in no grid of the territory
        ({"lon": "nan"}, "lon"),
        ({"station": 2147483000}, "station"),
        ({"kind": "party"}, "kind"),
        ({"audience": "branches"}, "invited_branches"),
        ({"client_uuid": "nope"}, "client_uuid"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(world, api_as, extra, field):
    response = api_as(world["disp_a"]).post(LIST, body(world["a"], **extra), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Activity.objects.exists()


def test_a_dispatcher_of_street_b_cannot_create_change_or_cancel_for_branch_a(world, api_as):
    api = api_as(world["disp_b"])
    response = api.post(LIST, body(world["a"]), format="json")
    assert response.status_code == 400 and "branch" in response.json()
    activity = make(world["a"])
    assert api.patch(f"{LIST}{activity.pk}/", {"title": "x"}, format="json").status_code == 403
    assert api.post(f"{LIST}{activity.pk}/cancel/").status_code == 403
    assert api_as(world["member_user"]).post(LIST, body(world["a"]), format="json").status_code == 403
    activity.refresh_from_db()
    assert (activity.title, activity.status) == ("活动", Activity.Status.PLANNED)
    assert Activity.objects.count() == 1
    assert api.get(f"{LIST}2147483000/").status_code == 404


def test_a_runner_changes_and_cancels_and_the_window_is_checked_again(world, api_as):
    activity = make(world["a"])
    api = api_as(world["disp_a"])
    url = f"{LIST}{activity.pk}/"
    bad = api.patch(url, {"ends_at": (activity.starts_at - dt.timedelta(hours=1)).isoformat()}, format="json")
    assert bad.status_code == 400 and "ends_at" in bad.json()
    moved = api.patch(url, {"title": "改期", "lon": 109.97, "lat": 35.22}, format="json")
    assert moved.status_code == 200, moved.content
    activity.refresh_from_db()
    assert activity.title == "改期" and activity.grid == world["territory"].grids["B-N"]
    assert api.post(f"{url}cancel/").json()["properties"]["status"] == "cancelled"
    assert api.post(f"{url}cancel/").status_code == 200


def test_near_lists_nearest_first_within_the_radius_by_geodesic_distance(world, api):
    here = (109.92, 35.17)
    offsets = {"near": 0.001, "mid": 0.004, "far": 0.03}
    made = {name: make(world["a"], lon=here[0] + d, lat=here[1], title=name) for name, d in offsets.items()}
    response = api.get(LIST, {"near": f"{here[0]},{here[1]}", "radius": 1000})
    assert response.status_code == 200
    features = response.json()["features"]
    assert [f["id"] for f in features] == [made["near"].pk, made["mid"].pk]
    for feature, name in zip(features, ("near", "mid"), strict=True):
        expected = GEOD.inv(*here, here[0] + offsets[name], here[1])[2]
        assert abs(feature["properties"]["distance_m"] - expected) < 1
    assert "name" not in features[0]["properties"]  # public: no attendance here
    bd = api.get(LIST, {"near": "109.93,35.18", "crs": "bd09", "radius": 10})
    assert bd.status_code == 200
    assert api.get(LIST, {"near": "109.9"}).status_code == 400
    assert api.get(LIST, {"radius": 100}).status_code == 400


def test_filters_by_branch_kind_time_and_mine(world, api, api_as):
    now = timezone.now()
    of_a = make(world["a"], starts=now + dt.timedelta(days=2), kind=Activity.Kind.PARTY_LECTURE)
    of_b = make(world["b"], starts=now + dt.timedelta(days=10))
    invited = make(world["b"], starts=now - dt.timedelta(days=3), audience=Activity.Audience.BRANCHES)
    invited.invited_branches.add(world["a"])
    attended = make(world["b"], starts=now - dt.timedelta(days=20), audience=Activity.Audience.ALL)
    CheckIn.objects.create(activity=attended, person=world["member"], home_branch=world["a"], method="code",
                           at=attended.starts_at, client_uuid=uuid.uuid4())  # fmt: skip
    ids = lambda response: {f["id"] for f in response.json()["features"]}  # noqa: E731
    assert ids(api.get(LIST, {"branch": world["b"].pk})) == {of_b.pk, invited.pk, attended.pk}
    assert ids(api.get(LIST, {"kind": "party_lecture"})) == {of_a.pk}
    assert ids(api.get(LIST, {"from": (now + dt.timedelta(days=5)).date().isoformat()})) == {of_b.pk}
    mine = api_as(world["member_user"]).get(LIST, {"mine": 1})
    assert ids(mine) == {of_a.pk, invited.pk, attended.pk}
    checked = {f["id"]: f["properties"]["checked_in"] for f in mine.json()["features"]}
    assert checked == {of_a.pk: False, invited.pk: False, attended.pk: True}
    assert api.get(LIST, {"mine": 1}).status_code == 401
    assert api.get(LIST, {"kind": "nope"}).status_code == 400


def test_the_list_keeps_a_query_budget(world, api_as, django_assert_max_num_queries):
    for i in range(15):
        make(world["a"], lon=109.92 + i * 0.001)
    api = api_as(world["member_user"])
    with django_assert_max_num_queries(9):
        response = api.get(LIST, {"mine": 1})
    assert response.json()["count"] == 15


def test_organizer_points_once_when_an_activity_with_a_record_ended(world):
    PointsRule.objects.get_or_create(code="activity_organized", defaults={"name": "organized", "amount": 5})
    secretary_user = UserFactory(username="sec", role=Role.RESIDENT)
    secretary = Person.objects.create(name="书记", branch=world["a"], account=secretary_user)
    ended = make(world["a"], starts=timezone.now() - dt.timedelta(hours=3), created_by=secretary_user, minutes="纪要")
    make(world["a"], starts=timezone.now() - dt.timedelta(hours=3), created_by=secretary_user)  # no record
    running = make(world["a"], starts=timezone.now() - dt.timedelta(hours=1), created_by=secretary_user)
    ActivityMedia.objects.create(activity=running, kind="photo", file="x.jpg", content_type="image/jpeg", size=1,
                                 sha256="0" * 64)  # fmt: skip
    assert activities_organized_task() == 1
    assert activities_organized_award() == 0  # a second sweep: nothing more
    entry = PointsEntry.objects.get()
    assert (entry.person, entry.amount, entry.idempotency_key) == (
        secretary,
        5,
        f"activity_organized:engagement.activity:{ended.pk}",
    )


def test_creating_with_a_camera_makes_the_face_meeting_and_an_existing_one_links_in_scope(world, api_as):
    territory = world["territory"]
    camera = Camera.objects.create(code="C-A", name="会议室", location=Point(109.92, 35.17, srid=4326),
                                   grid=territory.grids["A-S"], source_kind="file", source="m/a")  # fmt: skip
    camera_b = Camera.objects.create(code="C-B", name="乙会议室", location=Point(109.97, 35.17, srid=4326),
                                     grid=territory.grids["B-S"], source_kind="file", source="m/b")  # fmt: skip
    api = api_as(world["disp_a"])
    made = api.post(LIST, body(world["a"], camera=camera.pk), format="json")
    assert made.status_code == 201, made.content
    activity = Activity.objects.get(pk=made.json()["id"])
    meeting = activity.meeting
    assert (meeting.camera, meeting.starts_at, meeting.ends_at) == (camera, activity.starts_at, activity.ends_at)
    assert list(meeting.members.all()) == [world["member"]]
    foreign = Meeting.objects.create(title="乙", camera=camera_b, starts_at=timezone.now(), ends_at=timezone.now())
    refused = api.post(LIST, body(world["a"], meeting=foreign.pk), format="json")
    assert refused.status_code == 400 and "meeting" in refused.json()
    taken = api.post(LIST, body(world["a"], meeting=meeting.pk), format="json")
    assert taken.status_code == 400 and "meeting" in taken.json()
    assert api.post(LIST, body(world["a"], camera=camera_b.pk), format="json").status_code == 400
