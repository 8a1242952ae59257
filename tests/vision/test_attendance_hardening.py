"""Face attendance as the people layer reads the register: people of sensitive categories are invisible to
accounts without clearance in enrolments, summaries and meetings; and enrolment photos are bounded (pixels,
bytes, count), decoded small and refused with a field message, nothing written."""

import datetime as dt
import struct
import zlib
from io import BytesIO

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from layers.models import PersonCategory
from tests.factories import UserFactory
from tests.layers.helpers import person
from tests.vision.test_attendance import MON, WORKDAYS, at, enrol, media, room
from tests.vision.test_faces import astronaut, grace_hopper
from vision.attendance.models import DutyAttendance, DutySchedule, FaceEnrolment, Meeting, MeetingCheckin
from vision.attendance.services import ENROL_MAX_SIDE, photos_read
from vision.engine.faces import available_methods

# the attendance tests' fixtures (a duty room with two cadres of community A), used here by name
SHARED_FIXTURES = (media, room)
pytestmark = pytest.mark.skipif("lbph" not in available_methods(), reason="opencv-contrib is not installed")


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (its one row of data would never fill them)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 7)) + chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) is rewritten to claim width x height pixels."""
    buffer = BytesIO()
    Image.new("RGB", (16, 16), (120, 120, 120)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def post_photos(client, cadre, *files: SimpleUploadedFile):
    return client.post(
        reverse("attendance-enrolments"),
        {"person": cadre.pk, "consent": "true", "photos": list(files)},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )


# --- enrolment photos -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("wide.png", png_claiming(6000, 5000), "too many pixels"),  # 30 MP: under Pillow's own limit, over ours
        ("huge.jpg", jpeg_claiming(65000, 65000), "too many pixels"),  # 4.2 GP: a decompression bomb
        ("big.png", png_claiming(5001, 5000), "too many pixels"),
    ],
)
def test_a_crafted_oversized_photo_is_a_400_with_a_field_message_and_nothing_written(
    room, api_as, name, content, expected
):
    response = post_photos(
        api_as(room["dispatcher"]),
        room["eileen"],
        SimpleUploadedFile("face.jpg", _jpeg(astronaut()), content_type="image/jpeg"),
        SimpleUploadedFile(name, content, content_type="image/png"),
    )
    assert response.status_code == 400
    (message,) = response.json()["photos"]
    assert message.startswith(f"Photo 2 ({name})") and expected in message and "25000000" in message
    assert not FaceEnrolment.objects.exists()


def test_photos_over_the_total_size_are_refused_before_decoding(room, api_as, settings, monkeypatch):
    from vision.attendance import services

    monkeypatch.setattr(services, "ENROL_MAX_TOTAL_BYTES", 100_000)
    photo = _jpeg(astronaut())
    assert 100_000 / 3 < len(photo) < 100_000  # two fit, three do not
    response = post_photos(
        api_as(room["dispatcher"]),
        room["eileen"],
        *[SimpleUploadedFile(f"{i}.jpg", photo, content_type="image/jpeg") for i in range(3)],
    )
    assert response.status_code == 400 and "together" in response.json()["photos"][0]
    assert not FaceEnrolment.objects.exists()


def test_a_large_photo_is_decoded_scaled_down_to_the_enrolment_size():
    big = np.zeros((3000, 4000, 3), dtype=np.uint8)  # 12 MP, 4:3
    big[1000:2000, 1500:2500] = 200
    (image,) = photos_read([SimpleUploadedFile("big.jpg", _jpeg(big), content_type="image/jpeg")])
    # the longer side at the enrolment size, the aspect ratio kept (4:3, to a pixel)
    assert max(image.shape[:2]) == ENROL_MAX_SIDE
    assert image.shape[:2] == (round(ENROL_MAX_SIDE * 3 / 4), ENROL_MAX_SIDE)
    assert image.shape[2] == 3 and image.dtype == np.uint8


def _jpeg(image_bgr: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return data.tobytes()


# --- clearance --------------------------------------------------------------------------------------------------------


@pytest.fixture
def with_released(room, api_as, territory):
    """Room's cadres, plus a cadre released after sentence (a sensitive category) in the same grid: enrolled by a
    dispatcher with clearance, on duty, a member of a meeting who checked in."""
    cleared = UserFactory(
        username="disp-cleared", role="dispatcher", areas=[territory.community_a], sensitive_clearance=True
    )
    released = person("释放人员", "A-S", [PersonCategory.CADRE, PersonCategory.RELEASED])
    for cadre, photo in ((room["eileen"], astronaut()), (released, grace_hopper())):
        assert enrol(api_as(cleared), cadre, ("face.jpg", photo)).status_code == 201
    duty = DutySchedule.objects.create(
        person=released,
        camera=room["camera"],
        village=territory.community_a,
        weekdays=WORKDAYS,
        start=dt.time(9, 0),
        end=dt.time(17, 0),
    )
    DutyAttendance.objects.create(
        schedule=duty, date=MON, arrived_at=at(MON, "09:00"), left_at=at(MON, "17:00"), status="present"
    )
    meeting = Meeting.objects.create(
        title="例会", camera=room["camera"], starts_at=at(MON, "14:00"), ends_at=at(MON, "15:00")
    )
    meeting.members.set([room["eileen"], released])
    MeetingCheckin.objects.create(meeting=meeting, person=room["eileen"], at=at(MON, "14:01"))
    MeetingCheckin.objects.create(meeting=meeting, person=released, at=at(MON, "14:02"))
    return {**room, "released": released, "cleared": cleared, "meeting": meeting}


def test_attendance_hides_people_of_sensitive_categories_without_clearance(with_released, api_as, people):
    data = with_released
    eileen, grace, released = data["eileen"], data["grace"], data["released"]
    meeting = data["meeting"]
    summary_query = {"period": "week", "date": MON.isoformat()}
    for user, sees_released in ((data["dispatcher"], False), (people["worker"], False), (data["cleared"], True)):
        client = api_as(user)
        enrolments = client.get(reverse("attendance-enrolments")).json()["results"]
        expected = {eileen.pk, released.pk} if sees_released else {eileen.pk}
        assert {e["person"] for e in enrolments} == expected, user.username
        assert all(e["person_name"] != "释放人员" for e in enrolments) or sees_released
        hidden = FaceEnrolment.objects.get(person=released)
        detail = client.get(reverse("attendance-enrolment", kwargs={"pk": hidden.pk}))
        assert detail.status_code == (200 if sees_released else 404)

        summary = client.get(reverse("attendance-summary"), summary_query).json()
        names = {row["name"] for row in summary["people"]}
        assert names == ({eileen.name, grace.name, released.name} if sees_released else {eileen.name, grace.name})
        # the village's totals hold only the duties listed above: nothing to subtract a hidden person from
        (village,) = summary["villages"]
        assert village["scheduled"] == sum(row["scheduled"] for row in summary["people"])
        assert village["present"] == sum(row["present"] for row in summary["people"])

        listing = client.get(reverse("attendance-meetings")).json()["results"]
        assert [(m["members"], m["checked_in"]) for m in listing] == [(2, 2) if sees_released else (1, 1)]
        checkins = client.get(reverse("attendance-meeting", kwargs={"pk": meeting.pk})).json()["checkins"]
        expected_names = [eileen.name, released.name] if sees_released else [eileen.name]
        assert [c["name"] for c in checkins] == expected_names
        body = b"".join(
            client.get(url).content for url in (reverse("attendance-enrolments"), reverse("attendance-meetings"))
        )
        assert ("释放人员".encode() in body) == sees_released


def test_a_dispatcher_without_clearance_cannot_enrol_a_hidden_person(with_released, api_as):
    released = with_released["released"]
    before = FaceEnrolment.objects.count()
    response = enrol(api_as(with_released["dispatcher"]), released, ("face.jpg", grace_hopper()))
    assert response.status_code == 404 and FaceEnrolment.objects.count() == before


def test_the_attendance_admin_hides_them_from_staff_without_clearance(with_released, client, territory):
    from django.contrib.auth.models import Permission

    staff = UserFactory(username="staff-a", role="dispatcher", areas=[territory.community_a], is_staff=True)
    staff.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="attendance", codename__in=["view_faceenrolment", "view_dutyschedule"]
        )
    )
    client.force_login(staff)
    for url in ("/admin/attendance/faceenrolment/", "/admin/attendance/dutyschedule/"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "释放人员".encode() not in page.content and with_released["eileen"].name.encode() in page.content
