"""The retention purge keeps young frames and observations and deletes old ones, old frames with their files."""

import datetime as dt
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile
from django.utils import timezone

from vision.models import Camera, Frame, Observation
from vision.services import camera_save
from vision.tasks import frames_purge_task


@pytest.fixture
def camera(territory, settings, tmp_path) -> Camera:
    settings.MEDIA_ROOT = tmp_path
    settings.VISION_FRAME_RETENTION_DAYS = 30
    settings.VISION_OBSERVATION_RETENTION_DAYS = 180
    return camera_save(
        camera=Camera(
            code="CAM-P", name="保留", location=Point(109.93, 35.17, srid=4326), source_kind="file", source="x"
        )
    )


def frame_aged(camera: Camera, days: float, purpose: str = Frame.Purpose.RULE) -> Frame:
    frame = Frame(camera=camera, at=timezone.now() - dt.timedelta(days=days), purpose=purpose)
    frame.image.save(f"f{days}.jpg", ContentFile(b"\xff\xd8\xff" + str(days).encode()), save=True)
    return frame


def test_the_purge_respects_retention_and_deletes_old_files(camera, tmp_path):
    young = [frame_aged(camera, d) for d in (0, 10, 29.9)]
    old = [frame_aged(camera, d, purpose) for d, purpose in ((30.1, "rule"), (45, "meeting"), (400, "attendance"))]
    old_files = [Path(tmp_path / f.image.name) for f in old]
    assert all(p.exists() for p in old_files)
    now = timezone.now()
    for days in (0, 100, 179.9, 180.1, 365):
        Observation.objects.create(camera=camera, at=now - dt.timedelta(days=days), counts={"person": int(days)})

    assert frames_purge_task.apply().result == {"frames": 3, "observations": 2}

    assert set(Frame.objects.values_list("pk", flat=True)) == {f.pk for f in young}
    assert all((tmp_path / f.image.name).exists() for f in young)
    assert not any(p.exists() for p in old_files)
    assert sorted(Observation.objects.values_list("counts__person", flat=True)) == [0, 100, 179]
    # a second run finds nothing more to do
    assert frames_purge_task.apply().result == {"frames": 0, "observations": 0}
