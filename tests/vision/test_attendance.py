"""Face attendance as a county uses it: a dispatcher enrols cadres through the API, the duty room's camera sees them
(frames made from real photos pasted on a real background), the no-show sweep tells the responsible person, the
summaries count the days, and a meeting room's camera checks members in. Strangers leave no trace.

The days are in March 2025 (Asia/Shanghai), all past, so every scheduled day is due when the summary is asked.
"""

import calendar
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grid.models import Notification
from layers.models import PersonCategory
from tests.layers.helpers import person
from tests.vision.test_faces import astronaut, cv2, grace_hopper, lfw_faces, skimage_data
from vision.attendance.models import DutyAttendance, DutySchedule, FaceEnrolment, Meeting, MeetingCheckin
from vision.attendance.services import attendance_observe, duty_no_shows, template_decrypt
from vision.engine.faces import FaceEngine, available_methods, template_method
from vision.models import Camera, Frame
from vision.services import camera_save

pytestmark = pytest.mark.skipif("lbph" not in available_methods(), reason="opencv-contrib is not installed")

SHANGHAI = ZoneInfo("Asia/Shanghai")
MON, TUE, WED = dt.date(2025, 3, 10), dt.date(2025, 3, 11), dt.date(2025, 3, 12)
WORKDAYS = [0, 1, 2, 3, 4]


def at(day: dt.date, hhmm: str) -> dt.datetime:
    hour, minute = map(int, hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), SHANGHAI)


def jpeg_upload(image_bgr: np.ndarray, name: str) -> SimpleUploadedFile:
    ok, data = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return SimpleUploadedFile(name, data.tobytes(), content_type="image/jpeg")


def background() -> np.ndarray:
    """A room-sized 1280x720 frame of a real photo with no face in it (skimage's coffee cup)."""
    return cv2.resize(cv2.cvtColor(skimage_data.coffee(), cv2.COLOR_RGB2BGR), (1280, 720))


def frame_with(photo: np.ndarray, x: int, y: int, side: int = 330) -> np.ndarray:
    """The background with `photo` pasted as a side x side picture at (x, y), as a person stands in the room."""
    frame = background()
    frame[y : y + side, x : x + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    return frame


@pytest.fixture
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def room(territory, people, media):
    """Two cadres of community A (grid A-S), enrolled through the API by its dispatcher, each on duty Monday to
    Friday 09:00–17:00 in the duty room whose camera is in A-S, the dispatcher answering for both."""
    dispatcher = people["dispatcher_a"]
    camera = camera_save(
        camera=Camera(
            code="DUTY-1",
            name="甲社区值班室",
            location=Point(109.93, 35.17, srid=4326),
            source_kind=Camera.SourceKind.FILE,
            source="nonexistent",
            analyses=[Camera.Analysis.ATTENDANCE],
        )
    )
    eileen = person("柯林斯", "A-S", [PersonCategory.CADRE])
    grace = person("霍珀", "A-S", [PersonCategory.CADRE])
    schedules = {}
    for cadre in (eileen, grace):
        schedules[cadre.pk] = DutySchedule.objects.create(
            person=cadre,
            camera=camera,
            village=territory.community_a,
            weekdays=WORKDAYS,
            start=dt.time(9, 0),
            end=dt.time(17, 0),
            no_show_after_minutes=30,
            responsible=dispatcher,
        )
    return {"camera": camera, "eileen": eileen, "grace": grace, "schedules": schedules, "dispatcher": dispatcher}


def enrol(client, cadre, *photos: tuple[str, np.ndarray], **extra):
    data = {"person": cadre.pk, "consent": "true", "photos": [jpeg_upload(img, name) for name, img in photos]}
    data.update(extra)
    return client.post(reverse("attendance-enrolments"), data, format="multipart", HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def enrolled(room, api_as):
    client = api_as(room["dispatcher"])
    for cadre, photo in ((room["eileen"], astronaut()), (room["grace"], grace_hopper())):
        response = enrol(client, cadre, ("face.jpg", photo))
        assert response.status_code == 201, response.content
    return room


def test_enrolment_stores_an_encrypted_template_and_no_photo(room, api_as, media, settings):
    client = api_as(room["dispatcher"])
    response = enrol(client, room["eileen"], ("a.jpg", astronaut()), ("b.jpg", cv2.flip(astronaut(), 1)))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["person"] == room["eileen"].pk and body["photos"] == 2
    assert body["method"] == settings.VISION_FACE_METHOD
    assert "template" not in str(body)
    enrolment = FaceEnrolment.objects.get(pk=body["id"])
    assert enrolment.consent and enrolment.consent_recorded_by == room["dispatcher"]
    # encrypted at rest: the stored text is a Fernet token, which decrypts to a template of the method
    assert enrolment.template_encrypted.startswith("gAAAA")
    assert template_method(template_decrypt(enrolment.template_encrypted)) == settings.VISION_FACE_METHOD
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))  # the photos are not kept

    # withdrawn consent: DELETE removes the enrolment with its template
    url = reverse("attendance-enrolment", kwargs={"pk": enrolment.pk})
    assert client.get(url).status_code == 200
    assert client.delete(url).status_code == 204
    assert not FaceEnrolment.objects.filter(pk=enrolment.pk).exists()


@pytest.mark.skipif("dlib" not in available_methods(), reason="dlib or face_recognition_models is not installed")
def test_duty_day_recorded_with_dlib_embeddings(room, api_as, settings):
    settings.VISION_FACE_METHOD = "dlib"
    client = api_as(room["dispatcher"])
    response = enrol(client, room["eileen"], ("a.jpg", astronaut()))
    assert response.status_code == 201 and response.json()["method"] == "dlib"
    # an LBPH enrolment of Grace is not compared by the dlib engine (and cannot be)
    assert enrol(client, room["grace"], ("g.jpg", grace_hopper()), method="lbph").json()["method"] == "lbph"
    camera, photo = room["camera"], astronaut()
    attendance_observe(camera=camera, frame=frame_with(photo, 900, 40, side=280), at=at(MON, "09:03"))
    attendance_observe(camera=camera, frame=frame_with(photo, 60, 300), at=at(MON, "16:45"))
    attendance_observe(camera=camera, frame=frame_with(grace_hopper(), 500, 300), at=at(MON, "12:00"))
    days = list(DutyAttendance.objects.all())
    assert [(d.schedule.person_id, d.arrived_at, d.left_at, d.status) for d in days] == [
        (room["eileen"].pk, at(MON, "09:03"), at(MON, "16:45"), "present")
    ]


def test_enrolment_refuses_missing_consent_no_face_and_bad_files(room, api_as):
    client = api_as(room["dispatcher"])
    eileen = room["eileen"]
    response = client.post(
        reverse("attendance-enrolments"),
        {"person": eileen.pk, "photos": [jpeg_upload(astronaut(), "a.jpg")]},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "consent" in response.json()["consent"][0]
    response = enrol(client, eileen, ("a.jpg", astronaut()), consent="false")
    assert response.status_code == 400 and list(response.json()) == ["consent"]

    coffee = cv2.cvtColor(skimage_data.coffee(), cv2.COLOR_RGB2BGR)
    response = enrol(client, eileen, ("eileen.jpg", astronaut()), ("cup.jpg", coffee))
    assert response.status_code == 400
    assert response.json() == {"photos": ["No face found in photo 2 (cup.jpg)."]}

    response = client.post(
        reverse("attendance-enrolments"),
        {"person": eileen.pk, "consent": "true", "photos": [SimpleUploadedFile("x.gif", b"GIF89a...")]},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400 and "photos" in response.json()
    response = enrol(client, eileen, *[(f"{i}.jpg", astronaut()) for i in range(11)])
    assert response.status_code == 400 and "photos" in response.json()
    response = client.post(
        reverse("attendance-enrolments"), {"person": eileen.pk, "consent": "true"}, format="multipart"
    )
    assert response.status_code == 400 and "photos" in response.json()
    response = enrol(client, eileen, ("a.jpg", astronaut()), person="abc")
    assert response.status_code == 400 and "person" in response.json()
    assert not FaceEnrolment.objects.exists()


def test_enrolment_is_scoped(room, api_as, people):
    eileen = room["eileen"]
    # a dispatcher of the other street does not reach community A's cadres
    response = enrol(api_as(people["dispatcher_street_b"]), eileen, ("a.jpg", astronaut()))
    assert response.status_code == 404
    # a grid worker of A-S sees them, but enrolling faces is for dispatchers and administrators
    assert enrol(api_as(people["worker"]), eileen, ("a.jpg", astronaut())).status_code == 403
    # the county's administrator may
    response = enrol(api_as(people["admin"]), eileen, ("a.jpg", astronaut()))
    assert response.status_code == 201
    url = reverse("attendance-enrolment", kwargs={"pk": response.json()["id"]})
    assert api_as(people["dispatcher_street_b"]).get(url).status_code == 404
    assert api_as(people["dispatcher_street_b"]).delete(url).status_code == 404
    assert api_as(people["worker"]).delete(url).status_code == 403
    assert FaceEnrolment.objects.count() == 1


def test_duty_arrival_leaving_no_show_and_summaries(enrolled, api_as, people):
    camera, eileen, grace = enrolled["camera"], enrolled["eileen"], enrolled["grace"]
    eileen_duty, grace_duty = enrolled["schedules"][eileen.pk], enrolled["schedules"][grace.pk]
    photo = astronaut()

    # Monday: Eileen is seen from 08:55 to 17:10 at different places in the room; before 08:00 nothing counts.
    assert attendance_observe(camera=camera, frame=frame_with(photo, 40, 60), at=at(MON, "07:30")).duty_days == []
    seen = attendance_observe(camera=camera, frame=frame_with(photo, 40, 60), at=at(MON, "08:55"))
    assert seen.recognised == {eileen.pk}
    attendance_observe(camera=camera, frame=frame_with(photo, 600, 300), at=at(MON, "12:00"))
    attendance_observe(camera=camera, frame=frame_with(photo, 900, 100), at=at(MON, "17:10"))
    monday = DutyAttendance.objects.get(schedule=eileen_duty, date=MON)
    assert (monday.arrived_at, monday.left_at, monday.status) == (at(MON, "08:55"), at(MON, "17:10"), "present")
    # Grace was scheduled and never seen: no arrival recorded for her
    assert not DutyAttendance.objects.filter(schedule=grace_duty, date=MON, arrived_at__isnull=False).exists()

    # Tuesday: Eileen arrives at 09:20 (late: more than 5 minutes after the start) and leaves at 16:00.
    attendance_observe(camera=camera, frame=frame_with(photo, 300, 200, side=280), at=at(TUE, "09:20"))
    attendance_observe(camera=camera, frame=frame_with(photo, 700, 250, side=380), at=at(TUE, "16:00"))
    tuesday = DutyAttendance.objects.get(schedule=eileen_duty, date=TUE)
    assert (tuesday.arrived_at, tuesday.left_at, tuesday.status) == (at(TUE, "09:20"), at(TUE, "16:00"), "late")

    # Wednesday: nobody comes. At 09:29 nobody is overdue; at 09:31 both are, and the sweep runs twice.
    assert duty_no_shows(at(WED, "09:29")) == []
    first = duty_no_shows(at(WED, "09:31"))
    again = duty_no_shows(at(WED, "09:45"))
    assert len(first) == 2 and again == []
    for duty in (eileen_duty, grace_duty):
        day = DutyAttendance.objects.get(schedule=duty, date=WED)
        assert day.status == "absent" and day.no_show_notified_at == at(WED, "09:31")
    notices = list(Notification.objects.filter(recipient=enrolled["dispatcher"], kind="duty_no_show"))
    assert len(notices) == 2 and all(n.incident_id is None for n in notices)
    # one notice per cadre, naming them
    assert sorted(eileen.name in n.message for n in notices) == [False, True]
    assert sorted(grace.name in n.message for n in notices) == [False, True]
    # Monday's sweep (run late) tells about Grace only: Eileen had arrived
    monday_sweep = duty_no_shows(at(MON, "23:00"))
    assert [DutyAttendance.objects.get(pk=pk).schedule_id for pk in monday_sweep] == [grace_duty.pk]
    assert Notification.objects.filter(kind="duty_no_show").count() == 3

    # The summaries, counted here from what happened above: every Monday–Friday of the period is due (all past);
    # Eileen was present on Monday and late on Tuesday, every other due day is an absence.
    visits = {eileen.pk: {MON: ("08:55", "17:10", "present"), TUE: ("09:20", "16:00", "late")}, grace.pk: {}}

    def expected(first_day: dt.date, last_day: dt.date) -> dict:
        days = [
            first_day + dt.timedelta(days=n)
            for n in range((last_day - first_day).days + 1)
            if (first_day + dt.timedelta(days=n)).weekday() < 5
        ]
        out = {}
        for pk, seen_days in visits.items():
            present = sum(1 for d in days if seen_days.get(d, (0, 0, ""))[2] == "present")
            late = sum(1 for d in days if seen_days.get(d, (0, 0, ""))[2] == "late")
            minutes = sum(
                (at(d, seen_days[d][1]) - at(d, seen_days[d][0])).seconds // 60 for d in days if d in seen_days
            )
            out[pk] = {
                "scheduled": len(days),
                "present": present,
                "late": late,
                "absent": len(days) - present - late,
                "rate": round((present + late) / len(days), 4),
                "minutes": minutes,
            }
        return out

    client = api_as(people["admin"])
    url = reverse("attendance-summary")
    week = client.get(url, {"period": "week", "date": "2025-03-12"}).json()
    assert (week["from"], week["to"]) == ("2025-03-10", "2025-03-16")
    want = expected(dt.date(2025, 3, 10), dt.date(2025, 3, 16))
    assert want[eileen.pk]["minutes"] == 495 + 400 and want[eileen.pk]["absent"] == 3
    got = {row["person"]: {k: row[k] for k in want[eileen.pk]} for row in week["people"]}
    assert got == want
    village = week["villages"]
    assert [v["code"] for v in village] == [enrolled["schedules"][eileen.pk].village.code]
    assert village[0]["scheduled"] == 10 and village[0]["present"] == 1 and village[0]["late"] == 1
    assert village[0]["absent"] == 8 and village[0]["minutes"] == 895 and village[0]["rate"] == 0.2

    month = client.get(url, {"period": "month", "date": "2025-03-31"}).json()
    want = expected(dt.date(2025, 3, 1), dt.date(2025, 3, 31))
    weekdays_in_march = sum(1 for week_row in calendar.monthcalendar(2025, 3) for d in week_row[:5] if d)
    assert want[grace.pk]["scheduled"] == weekdays_in_march == 21
    assert {row["person"]: {k: row[k] for k in want[grace.pk]} for row in month["people"]} == want

    quarter = client.get(url, {"period": "quarter", "date": "2025-02-14", "area": "610527001"}).json()
    assert (quarter["from"], quarter["to"]) == ("2025-01-01", "2025-03-31")
    assert quarter["people"][0]["scheduled"] == sum(
        1 for m in (1, 2, 3) for week_row in calendar.monthcalendar(2025, m) for d in week_row[:5] if d
    )
    # another area has none of them, and neither does another street's dispatcher
    other = client.get(url, {"period": "week", "date": "2025-03-12", "area": "610527002001"}).json()
    assert other["people"] == [] and other["villages"] == []
    foreign = api_as(people["dispatcher_street_b"]).get(url, {"period": "week", "date": "2025-03-12"}).json()
    assert foreign["people"] == []


def test_summary_refuses_bad_queries(territory, people, api_as):
    client = api_as(people["admin"])
    url = reverse("attendance-summary")
    for query, field in (
        ({}, "period"),
        ({"period": "year"}, "period"),
        ({"period": ""}, "period"),
        ({"period": "week", "date": "2025-13-01"}, "date"),
        ({"period": "week", "date": "12/03/2025"}, "date"),
        ({"period": "week", "date": "1000-01-01"}, "date"),
        ({"period": "week", "area": "999999"}, "area"),
    ):
        response = client.get(url, query)
        assert response.status_code == 400, query
        assert field in response.json(), (query, response.json())
    assert api_as(people["resident"]).get(url, {"period": "week"}).json()["people"] == []


def test_meeting_checks_members_in_once_and_keeps_a_few_frames(enrolled, api_as, people, settings, media):
    settings.VISION_MEETING_FRAMES = 3
    room_camera = camera_save(
        camera=Camera(
            code="MEET-1",
            name="甲社区会议室",
            location=Point(109.92, 35.18, srid=4326),
            source_kind=Camera.SourceKind.FILE,
            source="nonexistent",
            analyses=[Camera.Analysis.MEETING],
        )
    )
    eileen, grace = enrolled["eileen"], enrolled["grace"]
    meeting = Meeting.objects.create(
        title="党员大会", camera=room_camera, starts_at=at(WED, "14:00"), ends_at=at(WED, "16:00")
    )
    meeting.members.set([eileen, grace])
    photo = astronaut()
    times = ["13:20", "13:40", "14:05", "14:10", "14:20", "14:40", "15:30"]
    for n, hhmm in enumerate(times):
        attendance_observe(camera=room_camera, frame=frame_with(photo, 100 + 120 * n, 80 + 40 * n), at=at(WED, hhmm))
    # 13:20 is before the 30 minutes ahead of the start in which members are taken; 13:40 is inside them
    checkins = list(MeetingCheckin.objects.filter(meeting=meeting))
    assert [(c.person_id, c.at) for c in checkins] == [(eileen.pk, at(WED, "13:40"))]
    kept = list(meeting.frames.order_by("at"))
    assert [f.at for f in kept] == [at(WED, t) for t in ("13:40", "14:05", "14:10")]
    assert all(f.purpose == Frame.Purpose.MEETING and f.camera == room_camera for f in kept)
    # the duty room's schedules are another camera's: nothing recorded for duty
    assert not DutyAttendance.objects.exists()

    client = api_as(people["dispatcher_a"])
    listing = client.get(reverse("attendance-meetings")).json()
    assert [(m["id"], m["members"], m["checked_in"]) for m in listing["results"]] == [(meeting.pk, 2, 1)]
    detail = client.get(reverse("attendance-meeting", kwargs={"pk": meeting.pk})).json()
    assert [(c["person"], c["name"]) for c in detail["checkins"]] == [(eileen.pk, eileen.name)]
    assert len(detail["frames"]) == 3
    image = client.get(detail["frames"][0]["url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    decoded = cv2.imdecode(np.frombuffer(b"".join(image.streaming_content), np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (720, 1280, 3)
    # the frame is served only through the scoped API
    foreign = api_as(people["dispatcher_street_b"])
    assert foreign.get(reverse("attendance-meeting", kwargs={"pk": meeting.pk})).status_code == 404
    assert foreign.get(detail["frames"][0]["url"]).status_code == 404
    assert foreign.get(reverse("attendance-meetings")).json()["results"] == []


def test_a_stranger_is_recorded_nowhere(enrolled, media):
    camera = enrolled["camera"]
    meeting = Meeting.objects.create(title="例会", camera=camera, starts_at=at(MON, "09:00"), ends_at=at(MON, "11:00"))
    meeting.members.set([enrolled["eileen"], enrolled["grace"]])
    engine = FaceEngine()
    templates = {
        e.pk: template_decrypt(e.template_encrypted) for e in FaceEnrolment.objects.filter(method=engine.method)
    }
    # strangers whose faces the camera does find (a face not found would prove nothing)
    strangers = []
    for face in lfw_faces():
        frame = frame_with(face, 500, 200, side=300)
        matches = engine.identify(frame, templates)
        if matches:
            assert all(m.key is None for m in matches)
            strangers.append(frame)
        if len(strangers) == 3:
            break
    assert len(strangers) == 3
    for n, frame in enumerate(strangers):
        seen = attendance_observe(camera=camera, frame=frame, at=at(MON, "09:10") + dt.timedelta(minutes=n))
        assert seen.recognised == set()
    assert not DutyAttendance.objects.exists()
    assert not MeetingCheckin.objects.exists()
    assert not Frame.objects.exists() and meeting.frames.count() == 0
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_nobody_expected_means_no_search(enrolled):
    """Outside every duty window and meeting, a frame with an enrolled face changes nothing."""
    seen = attendance_observe(camera=enrolled["camera"], frame=frame_with(astronaut(), 40, 60), at=at(MON, "20:30"))
    assert seen.recognised == set() and not DutyAttendance.objects.exists()
    # a Saturday is not a duty day
    saturday = dt.date(2025, 3, 15)
    attendance_observe(camera=enrolled["camera"], frame=frame_with(astronaut(), 40, 60), at=at(saturday, "09:00"))
    assert not DutyAttendance.objects.exists()
    assert duty_no_shows(at(saturday, "12:00")) == []


def test_roles_outside_register_get_nothing(enrolled, api_as, people):
    resident = api_as(people["resident"])
    assert resident.get(reverse("attendance-enrolments")).json()["results"] == []
    assert resident.get(reverse("attendance-meetings")).json()["results"] == []
    assert api_as(people["dispatcher_a"]).get(reverse("attendance-enrolments")).json()["count"] == 2


def test_no_show_task_tells_the_responsible_person_once(room):
    from vision.attendance.tasks import duty_no_shows_task

    # a duty every day from midnight, overdue at once: due whenever the test runs, without moving the clock
    duty = room["schedules"][room["grace"].pk]
    DutySchedule.objects.filter(pk=duty.pk).update(
        weekdays=list(range(7)), start=dt.time(0, 0), no_show_after_minutes=0
    )
    DutySchedule.objects.exclude(pk=duty.pk).update(active=False)
    assert duty_no_shows_task() == 1
    assert duty_no_shows_task() == 0
    assert Notification.objects.filter(recipient=room["dispatcher"], kind="duty_no_show").count() == 1
    assert DutyAttendance.objects.get(schedule=duty).status == "absent"


def test_list_endpoints_take_a_fixed_number_of_queries(enrolled, api_as, people, django_assert_max_num_queries):
    for n in range(5):
        meeting = Meeting.objects.create(
            title=f"会议{n}", camera=enrolled["camera"], starts_at=at(MON, "14:00"), ends_at=at(MON, "15:00")
        )
        meeting.members.set([enrolled["eileen"], enrolled["grace"]])
        MeetingCheckin.objects.create(meeting=meeting, person=enrolled["eileen"], at=at(MON, "14:01"))
    client = api_as(people["admin"])
    # token, the caller's areas, count, page, members, check-ins: the same for 5 meetings as for 500; the summary
    # reads token, areas, schedules (people, villages joined) and the period's duty days
    with django_assert_max_num_queries(6):
        body = client.get(reverse("attendance-meetings")).json()
    assert body["count"] == 5 and all(m["checked_in"] == 1 for m in body["results"])
    with django_assert_max_num_queries(4):
        assert client.get(reverse("attendance-enrolments")).json()["count"] == 2
    with django_assert_max_num_queries(4):
        summary = client.get(reverse("attendance-summary"), {"period": "quarter", "date": "2025-03-01"}).json()
    assert len(summary["people"]) == 2
