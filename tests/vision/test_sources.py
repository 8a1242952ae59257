"""Frame sources: folders replayed by time, video files, snapshot URLs; and broken ones (a refused RTSP stream, a
corrupt file, an HTTP 500) reported on the camera and retried with backoff, never failing the task."""

import datetime as dt
import http.server
import threading
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone, translation

from vision.models import Camera, Observation
from vision.services import backoff_seconds, camera_save, cameras_claim_due
from vision.sources import SourceError, frames_grab, source_display
from vision.tasks import camera_analyse_task, cameras_due_task

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")

BROKEN_RTSP = "rtsp://127.0.0.1:9/none"


@pytest.fixture(autouse=True)
def quick_timeouts(settings, tmp_path):
    settings.VISION_SOURCE_TIMEOUT_S = 3.0
    settings.MEDIA_ROOT = tmp_path / "media"
    # the files these tests replay lie in tmp_path; the local servers they fetch from, on loopback
    settings.VISION_REPLAY_DIR = str(tmp_path)
    settings.VISION_SOURCE_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def image(path: Path, width: int, height: int, value: int = 128) -> Path:
    """A plain image of a given size: which one a replay picked shows in the frame's shape."""
    cv2.imwrite(str(path), np.full((height, width, 3), value, dtype=np.uint8))
    return path


@pytest.fixture
def http_server():
    """A local HTTP server: /ok.jpg serves a JPEG, /text a page, anything else answers 500."""
    ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 200, dtype=np.uint8))
    assert ok

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # the stdlib's name for it
            if self.path == "/ok.jpg":
                body, status, kind = jpeg.tobytes(), 200, "image/jpeg"
            elif self.path == "/text":
                body, status, kind = b"<html>not a camera</html>", 200, "text/html"
            else:
                body, status, kind = b"camera firmware crashed", 500, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def grab(kind: str, source: str, *, at: dt.datetime | None = None, interval: int = 60, count: int = 1):
    return frames_grab(kind=kind, source=source, at=at or timezone.now(), interval_seconds=interval, count=count)


# --- sources that work ------------------------------------------------------------------------------------------------


def test_a_folder_replays_its_images_in_name_order_one_per_interval(tmp_path):
    folder = tmp_path / "replay"
    folder.mkdir()
    for name, width in (("b.png", 30), ("a.jpg", 20), ("c.jpg", 40)):  # name order: a (20), b (30), c (40)
        image(folder / name, width, 10)
    (folder / "notes.txt").write_text("not an image")
    epoch = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    base = int(epoch.timestamp()) // 60  # the interval number of `epoch`
    widths = [grab("file", str(folder), at=epoch + dt.timedelta(minutes=k)).pop().shape[1] for k in range(6)]
    expected = [(20, 30, 40)[(base + k) % 3] for k in range(6)]
    assert widths == expected
    # a burst ends at "now": the two images before it, in order
    burst = grab("file", str(folder), at=epoch, count=3)
    assert [f.shape[1] for f in burst] == [(20, 30, 40)[(base + k) % 3] for k in (-2, -1, 0)]


def test_a_relative_source_is_read_in_the_replay_folder_by_default_under_media_root(settings):
    settings.VISION_REPLAY_DIR = ""
    folder = Path(settings.MEDIA_ROOT) / "vision" / "replay" / "demo" / "x"
    folder.mkdir(parents=True)
    image(folder / "one.png", 33, 11)
    (frame,) = grab("file", "demo/x")
    assert frame.shape == (11, 33, 3)


def test_a_video_file_gives_a_burst_of_consecutive_frames(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(30):
        writer.write(np.full((48, 64, 3), i * 8, dtype=np.uint8))
    writer.release()
    frames = grab("file", str(path), count=5)
    assert len(frames) == 5 and frames[0].shape == (48, 64, 3)
    levels = [int(f.mean()) for f in frames]
    assert all(b - a == pytest.approx(8, abs=3) for a, b in zip(levels, levels[1:], strict=False))


def test_an_http_snapshot_is_fetched_and_decoded(http_server):
    (frame,) = grab("http", f"{http_server}/ok.jpg")
    assert frame.shape == (48, 64, 3) and abs(int(frame.mean()) - 200) <= 2


# --- broken sources ---------------------------------------------------------------------------------------------------


def test_broken_sources_raise_a_clear_source_error(tmp_path, http_server):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    garbage_video = tmp_path / "garbage.mp4"
    garbage_video.write_bytes(b"\x00" * 4096)
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = {
        ("rtsp", BROKEN_RTSP): "stream could not be opened",
        ("file", str(corrupt)): "not an image",
        ("file", str(garbage_video)): "stream could not be opened",
        ("file", str(empty)): "no image in the folder",
        ("file", str(tmp_path / "missing")): "no such file or folder",
        ("http", f"{http_server}/broken"): "HTTP error",
        ("http", f"{http_server}/text"): "not an image",
        ("http", "http://127.0.0.1:9/snapshot.jpg"): "connection refused",
    }
    with_english = {}
    with translation.override("en"):
        for kind, source in cases:
            with pytest.raises(SourceError) as caught:
                grab(kind, source)
            with_english[(kind, source)] = str(caught.value)
    # the reason is exactly one of the short generic ones: no error text, path or address in it
    assert with_english == cases


def test_credentials_in_a_stream_url_never_reach_the_message():
    assert source_display("rtsp://admin:s3cret@10.0.0.8:554/stream1") == "rtsp://***@10.0.0.8:554/stream1"
    with pytest.raises(SourceError) as caught:
        grab("rtsp", "rtsp://admin:s3cret@127.0.0.1:9/stream1")
    assert "s3cret" not in str(caught.value)


# --- health, backoff and the due sweep --------------------------------------------------------------------------------


def camera_with(source_kind: str, source: str, **fields) -> Camera:
    return camera_save(
        camera=Camera(
            code=fields.pop("code", "CAM-S"),
            name="测试",
            location=Point(109.93, 35.17, srid=4326),
            source_kind=source_kind,
            source=source,
            analyses=["counts"],
            **fields,
        )
    )


@pytest.mark.parametrize("broken", ["rtsp", "corrupt", "http500"])
def test_a_broken_source_is_reported_on_the_camera_and_retried_later_not_fatal(
    territory, tmp_path, http_server, settings, broken
):
    settings.VISION_RETRY_MAX_S = 100
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    kind, source = {
        "rtsp": ("rtsp", BROKEN_RTSP),
        "corrupt": ("file", str(corrupt)),
        "http500": ("http", f"{http_server}/broken"),
    }[broken]
    camera = camera_with(kind, source)
    delays = []
    for failures in (1, 2, 3, 4):
        before = timezone.now()
        result = camera_analyse_task.apply(kwargs={"camera_id": camera.pk})
        # the task ends normally (no exception for Celery to log as a crash, no retry storm)
        assert result.successful() and result.result is None
        camera.refresh_from_db()
        assert camera.failures == failures and camera.health == "failing" and camera.last_frame_at is None
        assert camera.last_error and before <= camera.last_error_at <= timezone.now()
        delays.append((camera.next_attempt_at - camera.last_error_at).total_seconds())
        # not due again before its backoff has passed
        assert camera.pk not in cameras_claim_due(now=camera.last_error_at + dt.timedelta(seconds=1))
        Camera.objects.filter(pk=camera.pk).update(next_attempt_at=None)
    # 30 s doubling, less up to a quarter at random, capped at VISION_RETRY_MAX_S
    for delay, full in zip(delays, (30, 60, 100, 100), strict=True):
        assert 0.75 * full - 0.01 <= delay <= full + 0.01
    assert not Observation.objects.exists()


def test_backoff_doubles_and_is_capped(settings):
    settings.VISION_RETRY_MAX_S = 1800
    assert [backoff_seconds(n, jitter=0) for n in (1, 2, 3, 4, 7, 50)] == [30, 60, 120, 240, 1800, 1800]
    assert backoff_seconds(3, jitter=1) == 90


def test_a_source_that_works_again_resets_the_failures(territory, settings):
    detectors = pytest.importorskip("vision.engine.detectors")
    folder = Path(settings.VISION_REPLAY_DIR) / "cam"
    folder.mkdir(parents=True)
    image(folder / "empty.png", 64, 128)
    camera = camera_with("rtsp", BROKEN_RTSP, interval_seconds=60)
    camera_analyse_task.apply(kwargs={"camera_id": camera.pk})
    camera.refresh_from_db()
    assert camera.failures == 1
    # the operator fixes the source in the admin
    camera.source_kind, camera.source = Camera.SourceKind.FILE, "cam"
    camera_save(camera=camera)
    detectors.load_detector("hog")  # warm; the task below uses the configured detector
    settings.VISION_DETECTOR_WEIGHTS = "hog"
    observation_id = camera_analyse_task.apply(kwargs={"camera_id": camera.pk}).result
    camera.refresh_from_db()
    observation = Observation.objects.get(pk=observation_id)
    assert camera.failures == 0 and camera.health == "ok" and camera.last_frame_at is not None
    assert observation.backend == "hog" and observation.counts == {"person": 0}
    assert camera.latest_counts == {"person": 0} and camera.latest_observed_at == observation.at
    assert camera.next_attempt_at == observation.at + dt.timedelta(seconds=60)


def test_due_cameras_are_claimed_once_by_interval_schedule_and_enabled(territory):
    now = timezone.now()
    always = camera_with("file", "x", code="C-ALWAYS")
    closed_today = {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    never = camera_with("file", "x", code="C-CLOSED", schedule=closed_today)
    disabled = camera_with("file", "x", code="C-OFF", enabled=False)
    later = camera_with("file", "x", code="C-LATER", next_attempt_at=now + dt.timedelta(minutes=5))
    assert cameras_claim_due(now=now) == [always.pk]
    # leased: the next beat, 15 s later, does not enqueue it again while its analysis waits or runs
    assert cameras_claim_due(now=now + dt.timedelta(seconds=15)) == []
    assert set(cameras_claim_due(now=now + dt.timedelta(minutes=6))) == {always.pk, later.pk}
    assert never.pk not in cameras_claim_due(now=now + dt.timedelta(days=8))
    assert disabled.pk not in cameras_claim_due(now=now + dt.timedelta(days=8))


def test_the_beat_task_enqueues_the_due_cameras_analysis(territory, settings, monkeypatch):
    pytest.importorskip("vision.engine.detectors")
    from project.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)  # .delay() runs here instead of on a worker
    settings.VISION_DETECTOR_WEIGHTS = "hog"
    folder = Path(settings.VISION_REPLAY_DIR) / "due"
    folder.mkdir(parents=True)
    image(folder / "one.png", 64, 128)
    camera = camera_with("file", "due", code="C-DUE")
    camera_with("file", "due", code="C-OFF", enabled=False)
    assert cameras_due_task.apply().result == 1
    assert list(Observation.objects.values_list("camera__code", flat=True)) == ["C-DUE"]
    camera.refresh_from_db()
    assert camera.health == "ok" and camera.next_attempt_at > timezone.now()
    assert cameras_due_task.apply().result == 0  # analysed: due again one interval later
