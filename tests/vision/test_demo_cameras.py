"""The demo county's cameras: on the map as GeoJSON, replaying shipped photos, and the station's crowding rule
raising exactly one incident from bus.jpg however often its analysis runs."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from fixtures.demo.cameras import CAMERAS
from grid.models import Incident, IncidentPhoto, User
from vision.models import Camera, Frame, Rule
from vision.sources import source_path
from vision.tasks import camera_analyse_task

pytest.importorskip("cv2")


@pytest.fixture
def demo(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("load_demo", stdout=StringIO())


def test_the_demo_cameras_are_on_the_map_and_replay_shipped_photos(demo, api_as, settings):
    admin = User.objects.get(username="admin")
    response = api_as(admin).get("/api/v1/cameras/")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert sorted(f["properties"]["code"] for f in body["features"]) == sorted(spec.code for spec in CAMERAS)
    for feature in body["features"]:
        assert feature["geometry"]["type"] == "Point" and feature["properties"]["grid"]
    station = Camera.objects.select_related("station").get(code="DEMO-CAM-STATION")
    assert station.station is not None and station.location.distance(station.station.location) < 1e-9
    assert {"attendance"} <= set(Camera.objects.get(code="DEMO-CAM-DUTY").analyses)
    assert {"meeting"} <= set(Camera.objects.get(code="DEMO-CAM-MEETING").analyses)
    # the replay folders hold the photos, as real image files
    for camera in Camera.objects.all():
        folder = source_path(camera.source)
        # in the replay folder under MEDIA_ROOT, the one file sources may read by default
        assert folder.is_relative_to(Path(settings.MEDIA_ROOT).resolve() / "vision" / "replay")
        images = sorted(folder.iterdir())
        assert images and all(
            p.read_bytes()[:4] in (b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb", b"\x89PNG") for p in images
        )
    legend = {layer["name"]: layer for layer in api_as(admin).get("/api/v1/layers/").json()}
    assert legend["cameras"]["count"] == len(CAMERAS)


def test_the_station_crowding_rule_fires_once_on_the_bus_photo(demo, settings):
    detectors = pytest.importorskip("vision.engine.detectors")
    if detectors.default_weights() == detectors.HOG:
        pytest.skip("the shipped person model is not installed (HOG finds only 2 people on bus.jpg)")
    settings.VISION_DETECTOR_WEIGHTS = ""  # the default: the shipped person model
    camera = Camera.objects.get(code="DEMO-CAM-STATION")
    last_before = Incident.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    first = camera_analyse_task.apply(kwargs={"camera_id": camera.pk})
    second = camera_analyse_task.apply(kwargs={"camera_id": camera.pk})
    assert first.successful() and second.successful() and first.result and second.result
    camera.refresh_from_db()
    assert camera.latest_counts["person"] >= 3 and camera.health == "ok"
    rule = Rule.objects.get(camera=camera)
    (incident,) = Incident.objects.filter(pk__gt=last_before)  # exactly one new incident, from two analyses
    assert rule.incident == incident and incident.reporter is None and incident.grid == camera.grid
    assert incident.category == rule.category and "驿站拥挤" in incident.note
    assert IncidentPhoto.objects.filter(incident=incident).count() == 1
    assert Frame.objects.filter(camera=camera, purpose=Frame.Purpose.RULE).count() == 1


def test_the_duty_room_camera_hands_its_frame_to_attendance_without_failing(demo, settings):
    pytest.importorskip("vision.engine.detectors")
    settings.VISION_DETECTOR_WEIGHTS = "hog"  # counts do not matter here; HOG is quick
    camera = Camera.objects.get(code="DEMO-CAM-DUTY")
    result = camera_analyse_task.apply(kwargs={"camera_id": camera.pk})
    camera.refresh_from_db()
    assert result.successful() and result.result is not None
    assert camera.failures == 0 and camera.last_error == "" and camera.latest_observed_at is not None
