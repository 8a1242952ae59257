"""Camera rules: an episode must hold M minutes, fires once, never while its incident is open, and again only for a
new episode once that incident has ended. Observations are fed as a camera's analysis stores them."""

import datetime as dt

import pytest
from django.contrib.gis.geos import Point

from grid.models import Category, Incident, IncidentPhoto, Role
from grid.services import TransitionInput, incident_transition
from tests.factories import UserFactory
from vision.models import Camera, Frame, Rule
from vision.rules import rule_client_uuid, rules_evaluate
from vision.services import FrameAnalysis, camera_save, observation_record

T0 = dt.datetime(2025, 6, 2, 1, 0, tzinfo=dt.UTC)  # a Monday, 09:00 in Asia/Shanghai


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


@pytest.fixture
def camera(territory) -> Camera:
    return camera_save(
        camera=Camera(
            code="CAM-1",
            name="驿站候车区",
            location=Point(109.93, 35.17, srid=4326),
            source_kind=Camera.SourceKind.FILE,
            source="nonexistent",
            analyses=["counts"],
            interval_seconds=60,
        )
    )


def rule_for(camera: Camera, **fields) -> Rule:
    defaults = dict(
        name="拥挤",
        kind=Rule.Kind.COUNT_AT_LEAST,
        object_class="person",
        threshold=3,
        minutes=5,
        category=Category.objects.get(code="public_security"),
    )
    return Rule.objects.create(camera=camera, **{**defaults, **fields})


def observe(camera: Camera, at: dt.datetime, persons: int, *, zone: int | None = None, frame=None) -> list[Incident]:
    """Store an observation as the analysis does and evaluate the camera's rules on it."""
    analysis = FrameAnalysis(counts={"person": persons}, zone_counts={} if zone is None else {"person": zone})
    observation = observation_record(camera=camera, at=at, analysis=analysis, backend="test")
    return rules_evaluate(camera=camera, observation=observation, frame=frame)


def close(incident: Incident) -> None:
    """Take the incident through the workflow to closed, as the county's administrator would."""
    admin = UserFactory(role=Role.ADMINISTRATOR, areas=[incident.county])
    worker = UserFactory(role=Role.GRID_WORKER)
    incident.grid.workers.add(worker)
    for move in (
        TransitionInput(action="accept"),
        TransitionInput(action="dispatch", assignee=worker),
        TransitionInput(action="resolve", note="已疏导"),
        TransitionInput(action="close"),
    ):
        incident_transition(incident_id=incident.pk, actor=admin, move=move)
    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED


def test_crowding_fires_once_after_m_minutes_and_again_only_for_a_new_episode(camera):
    rule = rule_for(camera, minutes=5)
    # crowded from T0 on: not yet at 0, 2 and 4 minutes
    assert [observe(camera, minutes(m), 4) for m in (0, 1, 2, 3, 4)] == [[]] * 5
    assert not Incident.objects.exists()
    # at 5 minutes it has held for M minutes: one incident, at the camera's point, in its grid
    (incident,) = observe(camera, minutes(5), 5)
    assert incident.reporter is None and incident.category.code == "public_security"
    assert incident.location.coords == camera.location.coords and incident.grid == camera.grid
    assert incident.status in Incident.OPEN_STATUSES
    assert incident.client_uuid == rule_client_uuid(rule, minutes(0))
    # still crowded, the incident still open: nothing more
    assert [observe(camera, minutes(m), 6) for m in (6, 7, 8, 9, 10, 11, 12)] == [[]] * 7
    assert Incident.objects.count() == 1
    rule.refresh_from_db()
    assert rule.incident == incident and rule.condition_since == minutes(0) and rule.last_fired_at == minutes(5)

    # closed while the same crowd stands there: the episode has been reported, nothing new
    close(incident)
    assert observe(camera, minutes(13), 5) == []
    # the crowd disperses, then gathers anew: a new incident once the new episode has held 5 minutes
    assert observe(camera, minutes(14), 1) == []
    assert [observe(camera, minutes(m), 3) for m in (15, 17, 19)] == [[]] * 3
    (second,) = observe(camera, minutes(20), 3)
    assert second.pk != incident.pk and Incident.objects.count() == 2
    assert second.client_uuid == rule_client_uuid(rule, minutes(15))


def test_a_new_episode_while_the_incident_is_open_fires_only_after_it_is_closed(camera):
    rule_for(camera, minutes=0)
    (first,) = observe(camera, minutes(0), 3)
    assert observe(camera, minutes(1), 0) == []  # episode over
    assert observe(camera, minutes(2), 4) == []  # a new one, but the first incident is still open
    close(first)
    (second,) = observe(camera, minutes(3), 4)  # the same (new) episode, now reported
    assert second.pk != first.pk
    assert Incident.objects.count() == 2


def test_a_missed_observation_does_not_restart_the_episode_but_a_long_hole_does(camera):
    rule_for(camera, minutes=5)
    observe(camera, minutes(0), 3)
    observe(camera, minutes(1), 3)
    # 2 and 3 minutes missing (a slow queue): the episode still runs from 0
    (incident,) = observe(camera, minutes(5), 3)
    assert incident.client_uuid == rule_client_uuid(Rule.objects.get(), minutes(0))

    other = camera_save(
        camera=Camera(
            code="CAM-2",
            name="二号",
            location=Point(109.97, 35.22, srid=4326),
            source_kind="file",
            source="nonexistent",
            interval_seconds=60,
        )
    )
    rule_for(other, minutes=5)
    observe(other, minutes(0), 3)
    # nothing seen for 20 minutes: what happened meanwhile is unknown, the time held starts again at 20
    assert observe(other, minutes(20), 3) == []
    assert Rule.objects.get(camera=other).condition_since == minutes(20)
    assert observe(other, minutes(24), 3) == []
    assert len(observe(other, minutes(25), 3)) == 1


def test_evaluating_the_same_observation_twice_reports_once(camera):
    rule = rule_for(camera, minutes=0)
    observation = observation_record(
        camera=camera, at=minutes(0), analysis=FrameAnalysis(counts={"person": 3}), backend="test"
    )
    (first,) = rules_evaluate(camera=camera, observation=observation)
    # a retried task: the rule state rolled back to before the report (the incident itself committed)
    Rule.objects.filter(pk=rule.pk).update(incident=None, last_fired_at=None)
    (again,) = rules_evaluate(camera=camera, observation=observation)
    assert again.pk == first.pk and Incident.objects.count() == 1


def test_counts_in_the_zone_and_other_classes(camera):
    camera.zone = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]
    camera.save()
    rule_for(camera, minutes=0, in_zone=True, threshold=2)
    rule_for(camera, name="bus", object_class="bus", threshold=1, minutes=0)
    assert observe(camera, minutes(0), 5, zone=1) == []  # five people, only one of them in the zone
    (incident,) = observe(camera, minutes(1), 5, zone=2)
    assert "拥挤" in incident.note


def test_nobody_present_during_duty_hours_only(camera):
    camera.interval_seconds = 600  # one look every 10 minutes
    camera.save()
    duty = {day: [["08:30", "17:30"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    rule_for(camera, name="无人值班", kind=Rule.Kind.NOBODY_PRESENT, minutes=30, active_hours=duty)
    night = dt.datetime(2025, 6, 1, 14, 0, tzinfo=dt.UTC)  # Sunday 22:00 local: not on duty
    assert [observe(camera, night + dt.timedelta(minutes=m), 0) for m in range(0, 61, 10)] == [[]] * 7
    # Monday 09:00 on: empty for half an hour → one incident
    assert [observe(camera, minutes(m), 0) for m in (0, 10, 20)] == [[]] * 3
    (incident,) = observe(camera, minutes(30), 0)
    assert Incident.objects.count() == 1 and incident.status == Incident.Status.REPORTED


def test_presence_in_a_closed_area_at_night(camera):
    night = {day: [["00:00", "06:00"], ["22:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    rule_for(camera, name="夜间有人", kind=Rule.Kind.PRESENCE, threshold=1, minutes=0, active_hours=night)
    assert observe(camera, minutes(0), 2) == []  # 09:00: open hours, people are expected
    late = dt.datetime(2025, 6, 2, 15, 0, tzinfo=dt.UTC)  # 23:00 local
    assert observe(camera, late, 0) == []
    (incident,) = observe(camera, late + dt.timedelta(minutes=1), 1)
    assert incident.category.code == "public_security"


def test_the_frame_becomes_the_incidents_photo_and_is_kept(camera, settings, tmp_path):
    np = pytest.importorskip("numpy")
    pytest.importorskip("cv2")
    settings.MEDIA_ROOT = tmp_path
    rule_for(camera, minutes=0)
    frame = np.zeros((120, 160, 3), dtype=np.uint8)
    frame[30:90, 40:120] = (0, 0, 255)  # a red block: a real JPEG of a real frame
    (incident,) = observe(camera, minutes(0), 3, frame=frame)
    photo = IncidentPhoto.objects.get(incident=incident)
    assert (photo.content_type, photo.width, photo.height) == ("image/jpeg", 160, 120)
    kept = Frame.objects.get(camera=camera)
    assert kept.purpose == Frame.Purpose.RULE and kept.at == minutes(0)
    assert (tmp_path / kept.image.name).read_bytes()[:3] == b"\xff\xd8\xff"


def test_a_camera_outside_every_grid_reports_nothing_and_does_not_fail(territory):
    far = camera_save(
        camera=Camera(
            code="CAM-FAR",
            name="远处",
            location=Point(100.0, 30.0, srid=4326),
            source_kind="file",
            source="nonexistent",
        )
    )
    assert far.grid is None
    rule_for(far, minutes=0)
    assert observe(far, minutes(0), 9) == []
    assert not Incident.objects.exists()
