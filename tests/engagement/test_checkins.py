"""Check-ins at activities: by position, by the rotating code, by the organizer and by face; who may check in;
bad input named in the answer; idempotent resends; cross-branch check-ins counted for the home branch."""

import datetime as dt
import re
import uuid
from dataclasses import dataclass

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from pyproj import Geod

from engagement.models import Activity, BranchCadre, CheckIn, PointsEntry, PointsRule
from engagement.selectors.checkins import (
    CODE_STEP_S,
    activity_code,
    checkins_counted_for,
    checkins_shown_at,
)
from engagement.services.checkins import AUDIT_ORGANIZER_CHECKIN, face_client_uuid
from grid.crs import from_wgs84
from grid.models import Role
from layers.models import AuditEntry, Organization, Person, PersonCategory
from tests.factories import UserFactory
from vision.attendance.hooks import meeting_checkins_recorded
from vision.attendance.models import Meeting, MeetingCheckin
from vision.models import Camera

GEOD = Geod(ellps="WGS84")
VENUE = (109.92, 35.17)  # in grid A-S of the territory


def geod_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def east_of(origin: tuple[float, float], metres: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], 90, metres)
    return lon, lat


@dataclass
class Scene:
    branch_a: Organization
    branch_b: Organization
    activity: Activity
    members: dict  # name -> (user, person)
    runner: object
    outsider: object


def _member(name: str, branch, grid, categories=(PersonCategory.PARTY_MEMBER,)):
    user = UserFactory(username=f"cm-{name}", role=Role.RESIDENT)
    person = Person.objects.create(
        name=name,
        grid=grid,
        location=Point(*VENUE, srid=4326),
        branch=branch,
        account=user,
        categories=list(categories),
    )
    return user, person


@pytest.fixture
def scene(territory) -> Scene:
    # a transactional test elsewhere may have flushed the rules that the data migration seeded
    PointsRule.objects.get_or_create(
        code="activity_checkin", defaults={"name": "check-in at an activity", "amount": 2, "daily_cap": 10}
    )
    grid_a, grid_b = territory.grids["A-S"], territory.grids["B-S"]
    branch_a = Organization.objects.create(
        code="CK-A", name="甲支部", kind=Organization.Kind.BRANCH, geometry=Point(*VENUE, srid=4326), grid=grid_a
    )
    branch_b = Organization.objects.create(
        code="CK-B", name="乙支部", kind=Organization.Kind.BRANCH, geometry=Point(109.97, 35.17, srid=4326), grid=grid_b
    )
    now = timezone.now()
    activity = Activity.objects.create(
        kind=Activity.Kind.THEME_DAY,
        branch=branch_a,
        title="主题党日",
        location=Point(*VENUE, srid=4326),
        grid=grid_a,
        starts_at=now - dt.timedelta(minutes=10),
        ends_at=now + dt.timedelta(hours=1),
        radius_m=200,
        grace_minutes=15,
        cross_branch=True,
    )
    members = {
        "a1": _member("a1", branch_a, grid_a),
        "a2": _member("a2", branch_a, grid_a),
        "a3": _member("a3", branch_a, grid_a),
        "b1": _member("b1", branch_b, grid_b),
        "rider": _member("rider", None, grid_a, categories=(PersonCategory.GIG_WORKER,)),
    }
    runner, runner_person = _member("secretary", branch_a, grid_a)
    BranchCadre.objects.create(branch=branch_a, person=runner_person)
    outsider = UserFactory(username="cm-nobody", role=Role.RESIDENT)
    return Scene(branch_a, branch_b, activity, members, runner, outsider)


def url(activity: Activity, tail: str = "checkins/") -> str:
    return f"/api/v1/engagement/activities/{activity.pk}/{tail}"


def by_position(lon: float, lat: float, *, accuracy: float = 10, crs: str = "wgs84", **extra) -> dict:
    return {"client_uuid": str(uuid.uuid4()), "method": "geofence", "lon": lon, "lat": lat, "crs": crs,
            "accuracy": accuracy, **extra}  # fmt: skip


def points_of(person: Person) -> list[int]:
    return list(PointsEntry.objects.filter(person=person, reason="activity_checkin").values_list("amount", flat=True))


# ---- by position ---------------------------------------------------------------------------------------------------


def test_a_member_inside_the_radius_is_checked_in_once_with_points_and_the_geodesic_distance(scene, api_as):
    user, person = scene.members["a1"]
    spot = east_of(VENUE, 120)
    response = api_as(user).post(url(scene.activity), by_position(*spot), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["method"] == "geofence" and body["person"] == person.pk and body["home_branch"] == scene.branch_a.pk
    assert abs(body["distance_m"] - geod_m(VENUE, spot)) < 1  # PostGIS geography against pyproj
    assert abs(body["distance_m"] - 120) < 1
    assert body["cross_branch"] is False
    assert points_of(person) == [2]
    entry = PointsEntry.objects.get(person=person)
    assert entry.idempotency_key == f"activity_checkin:engagement.checkin:{body['id']}"


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_a_position_from_a_chinese_map_sdk_is_converted_once(scene, api_as, crs):
    user, _person = scene.members["a1"]
    spot = east_of(VENUE, 150)
    shown = from_wgs84(*spot, crs)  # hundreds of metres off in WGS 84 terms: refused if not converted
    assert geod_m(shown, VENUE) > 300
    response = api_as(user).post(url(scene.activity), by_position(*shown, crs=crs), format="json")
    assert response.status_code == 201, response.content
    assert abs(response.json()["distance_m"] - 150) < 1


def test_outside_the_radius_is_refused_naming_the_distance_and_the_radius(scene, api_as):
    user, person = scene.members["a1"]
    spot = east_of(VENUE, 350)
    response = api_as(user).post(url(scene.activity), by_position(*spot), format="json")
    assert response.status_code == 400
    message = response.json()["position"][0]
    assert re.search(r"\b350 (m|米)", message) and re.search(r"\b200 (m|米)", message), message
    assert not CheckIn.objects.exists() and points_of(person) == []


def test_a_position_less_accurate_than_the_radius_is_refused(scene, api_as):
    user, _person = scene.members["a1"]
    response = api_as(user).post(url(scene.activity), by_position(*VENUE, accuracy=450), format="json")
    assert response.status_code == 400
    assert "450 m" in response.json()["accuracy"][0] and "200 m" in response.json()["accuracy"][0]
    assert not CheckIn.objects.exists()


def test_outside_the_window_is_refused_naming_the_window_in_local_time(scene, api_as):
    user, _person = scene.members["a1"]
    activity = scene.activity
    activity.starts_at = timezone.now() + dt.timedelta(hours=2)
    activity.ends_at = activity.starts_at + dt.timedelta(hours=1)
    activity.save()
    response = api_as(user).post(url(activity), by_position(*VENUE), format="json")
    assert response.status_code == 400
    message = response.json()["at"][0]
    opens = timezone.localtime(activity.starts_at - dt.timedelta(minutes=15))
    assert opens.strftime("%Y-%m-%d %H:%M") in message and "Asia/Shanghai" in message
    assert not CheckIn.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "geofence", "lon": 109.92}, "lat"),
        ({"method": "geofence", "lon": 109.92, "lat": 35.17}, "accuracy"),
        ({"method": "geofence", "lon": 200, "lat": 35.17, "accuracy": 5}, "lon"),
        ({"method": "code"}, "code"),
        ({"method": "code", "code": "12345a"}, "code"),
        ({"method": "face", "code": "123456"}, "method"),
        ({"method": "geofence", "lon": 109.92, "lat": 35.17, "accuracy": 5, "crs": "utm"}, "crs"),
    ],
)
def test_malformed_input_is_refused_by_field(scene, api_as, body, field):
    user, _person = scene.members["a1"]
    response = api_as(user).post(url(scene.activity), {"client_uuid": str(uuid.uuid4()), **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()


# ---- offline: a check-in queued on the phone -------------------------------------------------------------------------


def test_a_queued_check_in_counts_at_the_time_the_phone_made_it(scene, api_as):
    user, person = scene.members["a1"]
    activity = scene.activity
    activity.starts_at = timezone.now() - dt.timedelta(hours=5)
    activity.ends_at = timezone.now() - dt.timedelta(hours=3)
    activity.save()
    made = timezone.now() - dt.timedelta(hours=4)
    response = api_as(user).post(url(activity), by_position(*VENUE, at=made.isoformat()), format="json")
    assert response.status_code == 201, response.content
    assert CheckIn.objects.get(person=person).at == made


@pytest.mark.parametrize(("hours", "words"), [(25, "24 hours"), (-1, "future")])
def test_a_queued_check_in_too_old_or_from_the_future_is_refused(scene, api_as, hours, words):
    user, _person = scene.members["a1"]
    at = timezone.now() - dt.timedelta(hours=hours)
    response = api_as(user).post(url(scene.activity), by_position(*VENUE, at=at.isoformat()), format="json")
    assert response.status_code == 400
    assert words in response.json()["at"][0]


# ---- by the rotating code --------------------------------------------------------------------------------------------


def test_the_code_of_now_and_of_the_step_before_are_accepted_older_or_forged_ones_are_not(scene, api_as):
    activity = scene.activity
    now = timezone.now()

    def send(member: str, code: str):
        body = {"client_uuid": str(uuid.uuid4()), "method": "code", "code": code}
        return api_as(scene.members[member][0]).post(url(activity), body, format="json")

    current = activity_code(activity=activity, at=now).code
    before = activity_code(activity=activity, at=now - dt.timedelta(seconds=CODE_STEP_S)).code
    stale = activity_code(activity=activity, at=now - dt.timedelta(seconds=3 * CODE_STEP_S)).code
    forged = f"{(int(current) + 1) % 1_000_000:06d}"
    assert send("a1", current).status_code == 201
    assert send("a2", before).status_code == 201
    for code in {stale, forged} - {current, before}:
        response = send("a3", code)
        assert response.status_code == 400
        assert "stale or wrong" in response.json()["code"][0]
    assert CheckIn.objects.filter(method="code").count() == 2


def test_another_activitys_code_is_refused(scene, api_as):
    other = Activity.objects.create(
        kind=Activity.Kind.TRAINING,
        branch=scene.branch_a,
        title="培训",
        location=Point(*VENUE, srid=4326),
        starts_at=scene.activity.starts_at,
        ends_at=scene.activity.ends_at,
    )
    code = activity_code(activity=other).code
    body = {"client_uuid": str(uuid.uuid4()), "method": "code", "code": code}
    response = api_as(scene.members["a1"][0]).post(url(scene.activity), body, format="json")
    assert response.status_code == 400 or activity_code(activity=scene.activity).code == code


def test_the_organizer_reads_the_code_and_a_qr_of_the_check_in_address(scene, api_as):
    response = api_as(scene.runner).get(url(scene.activity, "code/"))
    assert response.status_code == 200
    body = response.json()
    assert body["code"].isdigit() and len(body["code"]) == 6
    assert body["qr_svg"].startswith("<svg") and 1 <= body["valid_for_s"] <= CODE_STEP_S
    assert body["url"].endswith(f"/m/activities/?activity={scene.activity.pk}&code={body['code']}")
    assert response["Cache-Control"] == "no-store"
    member = api_as(scene.members["a1"][0])
    assert member.get(url(scene.activity, "code/")).status_code == 404  # a member may not show it


# ---- who may check in ----------------------------------------------------------------------------------------------


def test_a_member_of_another_branch_checks_in_only_where_the_activity_lets_other_branches_in(scene, api_as):
    user, _person = scene.members["b1"]
    activity = scene.activity
    activity.cross_branch = False
    activity.save()
    refused = api_as(user).post(url(activity), by_position(*VENUE), format="json")
    assert refused.status_code == 403
    assert "other branches" in refused.json()["detail"]
    activity.audience = Activity.Audience.BRANCHES
    activity.save()
    activity.invited_branches.add(scene.branch_b)
    assert api_as(user).post(url(activity), by_position(*VENUE), format="json").status_code == 201


def test_a_cross_branch_check_in_counts_for_the_home_branch_and_shows_at_both(scene, api_as):
    user, person = scene.members["b1"]
    response = api_as(user).post(url(scene.activity), by_position(*VENUE), format="json")
    assert response.status_code == 201
    assert response.json()["cross_branch"] is True and response.json()["home_branch"] == scene.branch_b.pk
    checkin = CheckIn.objects.get(person=person)
    assert list(checkins_counted_for(branch=scene.branch_b)) == [checkin]
    assert list(checkins_counted_for(branch=scene.branch_a)) == []
    assert list(checkins_shown_at(branch=scene.branch_a)) == [checkin]
    assert list(checkins_shown_at(branch=scene.branch_b)) == [checkin]
    # the home branch is the one at the time: a later move does not carry the check-in along
    Person.objects.filter(pk=person.pk).update(branch=scene.branch_a)
    assert list(checkins_counted_for(branch=scene.branch_b)) == [checkin]


def test_a_gig_worker_outside_the_party_checks_in_only_to_volunteering_and_training_open_to_all(scene, api_as):
    user, _person = scene.members["rider"]
    activity = scene.activity
    activity.audience = Activity.Audience.ALL
    activity.save()
    refused = api_as(user).post(url(activity), by_position(*VENUE), format="json")
    assert refused.status_code == 403 and "party members" in refused.json()["detail"]
    activity.kind = Activity.Kind.VOLUNTEER
    activity.save()
    assert api_as(user).post(url(activity), by_position(*VENUE), format="json").status_code == 201


def test_accounts_without_a_register_entry_and_anonymous_callers_do_not_check_in(scene, api, api_as):
    assert api_as(scene.outsider).post(url(scene.activity), by_position(*VENUE), format="json").status_code == 403
    assert api.post(url(scene.activity), by_position(*VENUE), format="json").status_code == 401
    auditor = UserFactory(username="cm-auditor", role=Role.AUDITOR)
    assert api_as(auditor).post(url(scene.activity), by_position(*VENUE), format="json").status_code == 403


def test_a_cancelled_or_missing_activity(scene, api_as):
    user, _person = scene.members["a1"]
    scene.activity.status = Activity.Status.CANCELLED
    scene.activity.save()
    response = api_as(user).post(url(scene.activity), by_position(*VENUE), format="json")
    assert response.status_code == 400 and "cancelled" in response.json()["non_field_errors"][0]
    missing = "/api/v1/engagement/activities/2147483000/checkins/"
    assert api_as(user).post(missing, by_position(*VENUE), format="json").status_code == 404


# ---- idempotency -----------------------------------------------------------------------------------------------------


def test_a_resend_answers_the_same_check_in_and_writes_nothing(scene, api_as):
    user, person = scene.members["a1"]
    client = api_as(user)
    body = by_position(*VENUE)
    first = client.post(url(scene.activity), body, format="json")
    again = client.post(url(scene.activity), body, format="json")
    other_uuid = client.post(url(scene.activity), by_position(*VENUE), format="json")
    by_code = client.post(
        url(scene.activity),
        {"client_uuid": str(uuid.uuid4()), "method": "code", "code": activity_code(activity=scene.activity).code},
        format="json",
    )
    assert first.status_code == 201
    assert [r.status_code for r in (again, other_uuid, by_code)] == [200, 200, 200]
    assert {r.json()["id"] for r in (first, again, other_uuid, by_code)} == {first.json()["id"]}
    assert CheckIn.objects.count() == 1 and points_of(person) == [2]


def test_a_client_uuid_of_another_members_check_in_is_a_conflict(scene, api_as):
    body = by_position(*VENUE)
    assert api_as(scene.members["a1"][0]).post(url(scene.activity), body, format="json").status_code == 201
    response = api_as(scene.members["a2"][0]).post(url(scene.activity), body, format="json")
    assert response.status_code == 409 and "client_uuid" in response.json()
    assert CheckIn.objects.count() == 1


# ---- by the organizer ------------------------------------------------------------------------------------------------


def test_the_organizer_checks_a_member_in_with_a_reason_audited_once(scene, api_as):
    _user, person = scene.members["a1"]
    body = {"person": person.pk, "reason": "手机没电", "client_uuid": str(uuid.uuid4())}
    client = api_as(scene.runner)
    first = client.post(url(scene.activity, "checkins/organizer/"), body, format="json")
    again = client.post(url(scene.activity, "checkins/organizer/"), body, format="json")
    assert first.status_code == 201, first.content
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    checkin = CheckIn.objects.get()
    assert (checkin.method, checkin.reason, checkin.recorded_by) == ("organizer", "手机没电", scene.runner)
    entry = AuditEntry.objects.get(action=AUDIT_ORGANIZER_CHECKIN)
    assert entry.actor == scene.runner and entry.target == f"engagement.checkin:{checkin.pk}"
    assert entry.reason == "手机没电" and entry.area == scene.activity.grid.community
    assert points_of(person) == [2]


def test_the_organizers_check_in_needs_a_reason_and_a_member_it_may_check_in(scene, api_as):
    _user, person = scene.members["a1"]
    client = api_as(scene.runner)
    no_reason = client.post(
        url(scene.activity, "checkins/organizer/"),
        {"person": person.pk, "reason": "  ", "client_uuid": str(uuid.uuid4())},
        format="json",
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    scene.activity.cross_branch = False
    scene.activity.save()
    stranger = scene.members["b1"][1]
    response = client.post(
        url(scene.activity, "checkins/organizer/"),
        {"person": stranger.pk, "reason": "x", "client_uuid": str(uuid.uuid4())},
        format="json",
    )
    assert response.status_code == 400 and response.json()["person"] == ["No such member."]
    assert not CheckIn.objects.exists() and not AuditEntry.objects.filter(action=AUDIT_ORGANIZER_CHECKIN).exists()


def test_wrong_area_the_organizer_of_one_branch_reaches_no_other_branchs_activity(scene, api_as, territory):
    activity_b = Activity.objects.create(
        kind=Activity.Kind.THEME_DAY,
        branch=scene.branch_b,
        title="乙支部主题党日",
        location=Point(109.97, 35.17, srid=4326),
        grid=territory.grids["B-S"],
        starts_at=scene.activity.starts_at,
        ends_at=scene.activity.ends_at,
    )
    _user, person = scene.members["b1"]
    body = {"person": person.pk, "reason": "x", "client_uuid": str(uuid.uuid4())}
    dispatcher_a = UserFactory(username="cm-dispatcher", role=Role.DISPATCHER, areas=[territory.street_a])
    for caller in (scene.runner, dispatcher_a):
        client = api_as(caller)
        assert client.post(url(activity_b, "checkins/organizer/"), body, format="json").status_code == 404
        assert client.get(url(activity_b, "code/")).status_code == 404
    # the area's dispatcher runs the branch placed in it
    own = {"person": scene.members["a2"][1].pk, "reason": "x", "client_uuid": str(uuid.uuid4())}
    assert api_as(dispatcher_a).post(url(scene.activity, "checkins/organizer/"), own, format="json").status_code == 201
    assert not CheckIn.objects.filter(activity=activity_b).exists()


# ---- by face -------------------------------------------------------------------------------------------------------


def _meeting(scene, territory, people) -> Meeting:
    camera = Camera.objects.create(
        code="CK-CAM", name="会议室", location=Point(*VENUE, srid=4326), grid=territory.grids["A-S"],
        source_kind="file", source="ck/cam",
    )  # fmt: skip
    meeting = Meeting.objects.create(
        title="会议", camera=camera, starts_at=scene.activity.starts_at, ends_at=scene.activity.ends_at
    )
    meeting.members.set(people)
    scene.activity.meeting = meeting
    scene.activity.save()
    return meeting


def test_the_face_sweep_turns_meeting_check_ins_into_check_ins_once(scene, territory):
    from engagement.tasks import checkins_from_meetings_task

    people = [scene.members[m][1] for m in ("a1", "a2", "rider")]
    meeting = _meeting(scene, territory, people)
    seen = [MeetingCheckin.objects.create(meeting=meeting, person=p) for p in people]
    unlinked = Meeting.objects.create(title="别的会", camera=meeting.camera, starts_at=meeting.starts_at,
                                      ends_at=meeting.ends_at)  # fmt: skip
    MeetingCheckin.objects.create(meeting=unlinked, person=scene.members["a3"][1])

    assert checkins_from_meetings_task.apply(kwargs={}).get() == 2  # the rider is no party member
    made = set(CheckIn.objects.values_list("person_id", "method", "client_uuid"))
    assert made == {(m.person_id, "face", face_client_uuid(m.pk)) for m in seen[:2]}
    assert checkins_from_meetings_task.apply(kwargs={}).get() == 0
    assert CheckIn.objects.count() == 2
    assert PointsEntry.objects.filter(reason="activity_checkin").count() == 2


def test_a_face_check_in_reaches_the_activity_through_attendances_hook(
    scene, territory, monkeypatch, django_capture_on_commit_callbacks
):
    from engagement import tasks

    monkeypatch.setattr(
        tasks.checkins_from_meetings_task, "delay", lambda **kw: tasks.checkins_from_meetings_task.apply(kwargs=kw)
    )
    person = scene.members["a1"][1]
    meeting = _meeting(scene, territory, [person])
    row = MeetingCheckin.objects.create(meeting=meeting, person=person)
    with django_capture_on_commit_callbacks(execute=True):
        meeting_checkins_recorded([row.pk])
    assert CheckIn.objects.get(person=person).method == "face"


def test_a_member_already_checked_in_by_position_is_not_checked_in_again_by_face(scene, territory, api_as):
    from engagement.services.checkins import checkins_from_meetings

    user, person = scene.members["a1"]
    assert api_as(user).post(url(scene.activity), by_position(*VENUE), format="json").status_code == 201
    meeting = _meeting(scene, territory, [person])
    MeetingCheckin.objects.create(meeting=meeting, person=person)
    assert checkins_from_meetings() == []
    assert CheckIn.objects.get(person=person).method == "geofence"
