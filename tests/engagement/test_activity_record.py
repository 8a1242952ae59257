"""The record of an activity: minutes, photos (checked as incident photos are) and short videos (known by their
bytes, never by what the client says), a face meeting's frames; and the attendance list, whose names only those who
know the organizing branch read in full, and each home branch for its own members."""

import datetime as dt
import io
import uuid

import pytest
from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from engagement.models import Activity, ActivityMedia, CheckIn
from grid.models import Role
from layers.models import Organization, Person, PersonCategory
from tests.factories import UserFactory
from vision.attendance.models import Meeting
from vision.models import Camera, Frame

LIST = "/api/v1/engagement/activities/"

MP4 = b"\x00\x00\x00\x14ftypisom\x00\x00\x02\x00isom" + b"\x00\x00\x00\x08moov" + b"\x00\x00\x00\x10mdat" + b"\x01" * 8
MOV = b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + b"\x00\x00\x00\x08moov" + b"\x00\x00\x00\x0cmdat" + b"\x02" * 4
WEBM = b"\x1a\x45\xdf\xa3\x87\x42\x82\x84webm" + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" + b"\x00" * 16


def jpeg(colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def setup(territory, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    grid_a, grid_b = territory.grids["A-S"], territory.grids["B-S"]
    branch_a = Organization.objects.create(code="BR-A", name="甲支部", kind="branch", grid=grid_a,
                                           geometry=Point(109.92, 35.17, srid=4326))  # fmt: skip
    branch_b = Organization.objects.create(code="BR-B", name="乙支部", kind="branch", grid=grid_b,
                                           geometry=Point(109.97, 35.17, srid=4326))  # fmt: skip
    now = timezone.now()
    activity = Activity.objects.create(kind="theme_day", branch=branch_a, title="主题党日", grid=grid_a,
                                       location=Point(109.92, 35.17, srid=4326), starts_at=now - dt.timedelta(hours=1),
                                       ends_at=now + dt.timedelta(hours=1))  # fmt: skip
    users = {
        "disp_a": UserFactory(username="disp-a", role=Role.DISPATCHER, areas=[territory.street_a]),
        "disp_b": UserFactory(username="disp-b", role=Role.DISPATCHER, areas=[territory.street_b]),
        "member_b": UserFactory(username="member-b", role=Role.RESIDENT),
        "outsider": UserFactory(username="outsider", role=Role.RESIDENT),
    }
    members = {
        "a": Person.objects.create(name="甲党员", branch=branch_a, categories=[PersonCategory.PARTY_MEMBER]),
        "b": Person.objects.create(
            name="乙党员", branch=branch_b, account=users["member_b"], categories=[PersonCategory.PARTY_MEMBER]
        ),  # fmt: skip
    }
    for key, home in (("a", branch_a), ("b", branch_b)):
        CheckIn.objects.create(activity=activity, person=members[key], home_branch=home, method="geofence", at=now,
                               client_uuid=uuid.uuid4())  # fmt: skip
    return {
        "activity": activity,
        "users": users,
        "members": members,
        "branch_b": branch_b,
        "url": f"{LIST}{activity.pk}/",
    }


def upload(api, url, name, content, content_type):
    file = SimpleUploadedFile(name, content, content_type)
    return api.post(url + "media/", {"file": file}, format="multipart", HTTP_ACCEPT_LANGUAGE="en")


def test_minutes_photos_and_videos_join_the_record_once_each(setup, api_as):
    api, url = api_as(setup["users"]["disp_a"]), setup["url"]
    assert api.patch(url + "record/", {"minutes": "学习了党章"}, format="json").json()["minutes"] == "学习了党章"
    photo = upload(api, url, "a.jpg", jpeg(), "image/jpeg")
    assert photo.status_code == 201, photo.content
    # the client's content type and name say nothing: the bytes do
    kinds = {}
    for name, content in (("clip.bin", MP4), ("clip.jpg", MOV), ("x", WEBM)):
        response = upload(api, url, name, content, "application/octet-stream")
        assert response.status_code == 201, response.content
        kinds[name] = response.json()["content_type"]
    assert kinds == {"clip.bin": "video/mp4", "clip.jpg": "video/quicktime", "x": "video/webm"}
    again = upload(api, url, "other-name.mp4", MP4, "video/mp4")
    assert again.status_code == 200 and ActivityMedia.objects.count() == 4
    record = api.get(url + "media/").json()
    assert record["minutes"] == "学习了党章" and len(record["results"]) == 4
    file = api.get(record["results"][0]["url"])
    assert file.status_code == 200 and file["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(file.streaming_content))).size == (40, 30)
    thumb = api.get(record["results"][0]["thumbnail_url"])
    assert thumb.status_code == 200
    video = ActivityMedia.objects.get(content_type="video/webm")
    assert video.file.name.endswith(".webm") and video.file.read() == WEBM


@pytest.mark.parametrize(
    ("name", "content", "status", "words"),
    [
        ("notes.csv", b"code,name\nA,b\n", 415, "MP4"),
        ("fake.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 4, 400, "damaged"),  # its box runs past the end
        (
            "nomoov.mp4",
            b"\x00\x00\x00\x14ftypisom\x00\x00\x02\x00isom" + b"\x00\x00\x00\x0cmdat" + b"\x00" * 4,
            400,
            "damaged",
        ),  # fmt: skip
        ("matroska.mkv", b"\x1a\x45\xdf\xa3\x8b\x42\x82\x88matroska" + b"\x18\x53\x80\x67" + b"\x00" * 8, 415, "WebM"),
        ("broken.jpg", jpeg()[:60], 400, "broken.jpg"),
        ("empty.mp4", b"", 400, ""),
    ],
)
def test_a_wrong_type_or_damaged_file_is_refused_naming_the_reason_and_nothing_is_written(
    setup, api_as, tmp_path, name, content, status, words
):
    response = upload(api_as(setup["users"]["disp_a"]), setup["url"], name, content, "video/mp4")
    assert response.status_code == status, response.content
    assert "file" in response.json() and words in response.json()["file"][0]
    assert not ActivityMedia.objects.exists()
    assert not list((tmp_path / "activities").rglob("*")) if (tmp_path / "activities").exists() else True


def test_a_video_over_the_limit_is_a_413(setup, api_as, settings):
    settings.ENGAGEMENT_VIDEO_MAX_BYTES = len(MP4) - 1
    response = upload(api_as(setup["users"]["disp_a"]), setup["url"], "big.mp4", MP4, "video/mp4")
    assert response.status_code == 413 and "MB" in response.json()["file"][0]
    assert not ActivityMedia.objects.exists()


def test_the_record_of_another_area_is_as_one_that_does_not_exist(setup, api_as):
    url = setup["url"]
    ActivityMedia.objects.create(activity=setup["activity"], kind="photo", file=ContentFile(jpeg(), name="p.jpg"),
                                 content_type="image/jpeg", size=1, sha256="1" * 64)  # fmt: skip
    media = ActivityMedia.objects.get()
    foreign = api_as(setup["users"]["disp_b"])
    assert foreign.get(url + "media/").status_code == 404
    assert foreign.get(f"{url}media/{media.pk}/").status_code == 404
    assert foreign.patch(url + "record/", {"minutes": "x"}, format="json").status_code == 404
    assert upload(foreign, url, "a.jpg", jpeg((1, 2, 3)), "image/jpeg").status_code == 404
    assert foreign.get(url).json()["properties"]["minutes"] is None  # the activity itself is public
    assert api_as(setup["users"]["outsider"]).get(url + "attendance/").status_code == 404
    assert ActivityMedia.objects.count() == 1
    assert api_as(setup["users"]["disp_a"]).get(f"{url}media/2147483000/").status_code == 404
    assert api_as(setup["users"]["disp_a"]).get(f"{url}media/{media.pk}/?size=huge").status_code == 400
    assert api_as(setup["users"]["disp_a"]).patch(url + "record/", {"minutes": None}, format="json").status_code == 400


def test_attendance_in_full_for_the_organizers_and_a_home_branch_sees_its_own_members(setup, api_as):
    url = setup["url"] + "attendance/"
    full = api_as(setup["users"]["disp_a"]).get(url).json()
    assert full["complete"] is True and full["count"] == 2 and full["cross_branch"] == 1
    assert full["expected"] == 1  # branch a's members
    assert {r["name"]: r["cross_branch"] for r in full["results"]} == {"甲党员": False, "乙党员": True}
    own = api_as(setup["users"]["member_b"]).get(url).json()
    assert own["complete"] is False and [r["name"] for r in own["results"]] == ["乙党员"]
    assert own["results"][0]["home_branch"]["name"] == "乙支部"


def test_the_face_meetings_frames_are_listed_with_the_frame_endpoint(setup, api_as):
    activity = setup["activity"]
    camera = Camera.objects.create(code="C-A", name="会议室", location=activity.location, grid=activity.grid,
                                   source_kind="file", source="m/a")  # fmt: skip
    meeting = Meeting.objects.create(title="m", camera=camera, starts_at=activity.starts_at, ends_at=activity.ends_at)
    frame = Frame.objects.create(camera=camera, purpose="meeting", image=ContentFile(jpeg(), name="f.jpg"))
    meeting.frames.add(frame)
    Activity.objects.filter(pk=activity.pk).update(meeting=meeting)
    api = api_as(setup["users"]["disp_a"])
    frames = api.get(setup["url"] + "media/").json()["frames"]
    assert [f["id"] for f in frames] == [frame.pk]
    assert frames[0]["url"].endswith(f"/api/v1/attendance/meetings/{meeting.pk}/frames/{frame.pk}/")
    assert api.get(frames[0]["url"]).status_code == 200
