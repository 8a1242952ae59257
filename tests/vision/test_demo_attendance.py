"""The demo county's face attendance: cadres enrolled from the photos its cameras replay, so that the meeting room
checks a member in and the duty room records an arrival when their photo comes round, as under `make run`."""

import datetime as dt
import math
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from fixtures.demo.attendance import MEETING_TITLE
from vision.attendance.models import DutyAttendance, DutySchedule, FaceEnrolment, Meeting, MeetingCheckin
from vision.models import Camera
from vision.services import camera_analyse

pytest.importorskip("cv2")
pytest.importorskip("vision.engine.faces")

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _moment_showing(camera: Camera, photo: str, after: dt.datetime) -> dt.datetime:
    """The first moment after `after` at which the camera's replay folder shows `photo` (one image per interval)."""
    from vision.sources import source_path

    images = sorted(p.name for p in source_path(camera.source).iterdir())
    wanted = next(i for i, name in enumerate(images) if name.endswith(photo))
    slot = math.floor(after.timestamp() / camera.interval_seconds)
    while slot % len(images) != wanted:
        slot += 1
    return dt.datetime.fromtimestamp(slot * camera.interval_seconds + 1, tz=dt.UTC)


@pytest.fixture
def demo(db, settings, tmp_path, time_machine):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VISION_DETECTOR_WEIGHTS = "hog"  # counts do not matter here; HOG is quick
    time_machine.move_to(dt.datetime(2026, 11, 18, 10, 0, tzinfo=SHANGHAI), tick=False)  # a Wednesday
    call_command("load_demo", stdout=StringIO())


def test_the_demo_enrols_two_cadres_with_duties_and_a_meeting(demo):
    enrolled = FaceEnrolment.objects.select_related("person")
    assert enrolled.count() == 2 and all(e.consent and e.template_encrypted for e in enrolled)
    duty_room = Camera.objects.get(code="DEMO-CAM-DUTY")
    assert DutySchedule.objects.filter(camera=duty_room).count() == 2
    meeting = Meeting.objects.get(title=MEETING_TITLE)
    assert set(meeting.members.all()) == {e.person for e in enrolled}


def test_the_meeting_room_checks_in_the_member_whose_photo_it_shows(demo, time_machine):
    camera = Camera.objects.get(code="DEMO-CAM-MEETING")
    meeting = Meeting.objects.get(title=MEETING_TITLE)
    astronaut = FaceEnrolment.objects.order_by("pk").first().person  # enrolled from astronaut.png
    at = _moment_showing(camera, "astronaut.png", meeting.starts_at + dt.timedelta(minutes=5))
    time_machine.move_to(at, tick=False)
    assert camera_analyse(camera_id=camera.pk, at=at) is not None
    assert list(MeetingCheckin.objects.filter(meeting=meeting).values_list("person", flat=True)) == [astronaut.pk]


def test_the_duty_room_records_the_arrival_of_the_cadre_it_shows(demo, time_machine):
    camera = Camera.objects.get(code="DEMO-CAM-DUTY")
    hopper = FaceEnrolment.objects.order_by("pk").last().person  # enrolled from grace_hopper.jpg
    morning = dt.datetime(2026, 11, 18, 8, 20, tzinfo=SHANGHAI)  # before the 08:30 start
    at = _moment_showing(camera, "grace_hopper.jpg", morning)
    time_machine.move_to(at, tick=False)
    assert camera_analyse(camera_id=camera.pk, at=at) is not None
    (day,) = DutyAttendance.objects.filter(schedule__camera=camera)
    assert day.schedule.person == hopper and day.arrived_at == at and day.status == DutyAttendance.Status.PRESENT
