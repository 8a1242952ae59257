"""Frame sources: where a camera's frames come from. An RTSP stream or a video file (OpenCV's VideoCapture),
an HTTP(S) snapshot URL (fetched, then decoded by OpenCV), or a folder or image file replayed for demos and
tests. Every failure becomes a SourceError whose message says what went wrong, for the camera's health.

Only the workers of the `vision` queue import this module's heavy parts: cv2 and numpy load inside the functions.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    import numpy as np

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# A snapshot larger than this is refused before decoding (a misconfigured URL serving a video, say).
SNAPSHOT_MAX_BYTES = 20 * 1024 * 1024

_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


class SourceError(Exception):
    """The source gave no frame: unreachable, refused, not an image, empty folder…; the message says which."""


def source_display(source: str) -> str:
    """The source as it may appear in messages and logs: credentials in a URL (rtsp://user:pass@…) hidden."""
    return _CREDENTIALS.sub("***@", source)


def frames_grab(*, kind: str, source: str, at: dt.datetime, interval_seconds: int, count: int = 1) -> list[np.ndarray]:
    """`count` consecutive BGR frames of the source as it is at `at` (a replayed folder or video: the frame that
    `at` falls on); the last one is "now". Raises SourceError."""
    count = max(1, count)
    if kind == "rtsp":
        return _stream_frames(source, count=count)
    if kind == "http":
        return [_snapshot(source) for _ in range(count)]
    if kind == "file":
        return _file_frames(source, at=at, interval_seconds=interval_seconds, count=count)
    raise SourceError(_("Unknown source kind %(kind)s.") % {"kind": kind})


def _timeout_s() -> float:
    return float(settings.VISION_SOURCE_TIMEOUT_S)


# --- streams and video files ------------------------------------------------------------------------------------------


def _capture(target: str):
    """An opened VideoCapture, with open and read timeouts for network streams, or SourceError."""
    import cv2

    timeout_ms = int(_timeout_s() * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
    try:
        capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
    except cv2.error as exc:
        raise SourceError(
            _("The stream %(source)s could not be opened: %(error)s")
            % {"source": source_display(target), "error": str(exc).strip()[:200]}
        ) from exc
    if not capture.isOpened():
        capture.release()
        raise SourceError(
            _("The stream %(source)s could not be opened (unreachable, refused or not a video, within %(s)s s).")
            % {"source": source_display(target), "s": f"{_timeout_s():g}"}
        )
    return capture


def _read(capture, count: int, target: str) -> list[np.ndarray]:
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok or frame is None or not frame.size:
            break  # the end of a video file, or a stream that stalled past its read timeout
        frames.append(frame)
    if not frames:
        raise SourceError(_("The stream %(source)s gave no frame.") % {"source": source_display(target)})
    return frames


def _stream_frames(url: str, *, count: int) -> list[np.ndarray]:
    capture = _capture(url)
    try:
        return _read(capture, count, url)
    finally:
        capture.release()


def _video_frames(path: Path, *, at: dt.datetime, count: int) -> list[np.ndarray]:
    """A video file replayed in a loop: the burst that ends at `at` modulo the video's length."""
    import cv2

    capture = _capture(str(path))
    try:
        frames_total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0)
        if frames_total > count and fps > 0 and math.isfinite(fps):
            now = int(at.timestamp() * fps) % frames_total
            capture.set(cv2.CAP_PROP_POS_FRAMES, max(0, min(now - count + 1, frames_total - count)))
        return _read(capture, count, str(path))
    finally:
        capture.release()


# --- HTTP snapshots ---------------------------------------------------------------------------------------------------


def _snapshot(url: str) -> np.ndarray:
    import cv2
    import numpy as np

    shown = source_display(url)
    request = urllib.request.Request(url, headers={"User-Agent": "gridline-vision"})
    try:
        with urllib.request.urlopen(request, timeout=_timeout_s()) as response:  # noqa: S310 - http(s) only (clean())
            body = response.read(SNAPSHOT_MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise SourceError(
            _("The snapshot URL %(source)s answered HTTP %(status)s.") % {"source": shown, "status": exc.code}
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise SourceError(
            _("The snapshot URL %(source)s could not be fetched: %(error)s")
            % {"source": shown, "error": str(reason)[:200]}
        ) from exc
    if len(body) > SNAPSHOT_MAX_BYTES:
        raise SourceError(
            _("The snapshot at %(source)s is larger than %(mb)d MB.")
            % {"source": shown, "mb": SNAPSHOT_MAX_BYTES // (1024 * 1024)}
        )
    frame = cv2.imdecode(np.frombuffer(body, dtype=np.uint8), cv2.IMREAD_COLOR) if body else None
    if frame is None:
        raise SourceError(_("The snapshot at %(source)s is not an image OpenCV can decode.") % {"source": shown})
    return frame


# --- files and folders (replay) ---------------------------------------------------------------------------------------


def source_path(source: str) -> Path:
    """A file source's path: absolute as given, or relative to MEDIA_ROOT (the demo's replay folders)."""
    path = Path(source).expanduser()
    return path if path.is_absolute() else Path(settings.MEDIA_ROOT) / path


def _image(path: Path) -> np.ndarray:
    import cv2

    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise SourceError(
            _("The image %(path)s could not be decoded: it is damaged or not an image.") % {"path": path.name}
        )
    return frame


def _file_frames(source: str, *, at: dt.datetime, interval_seconds: int, count: int) -> list[np.ndarray]:
    path = source_path(source)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise SourceError(_("The folder %(path)s holds no image.") % {"path": source})
        # One image per interval, in name order and round again: the replay moves on as time passes.
        now = math.floor(at.timestamp() / max(1, interval_seconds)) % len(images)
        return [_image(images[(now - count + 1 + i) % len(images)]) for i in range(count)]
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return [_image(path)] * count
        return _video_frames(path, at=at, count=count)
    raise SourceError(_("There is no file or folder %(path)s on this worker.") % {"path": source})


def frame_jpeg(frame: np.ndarray) -> bytes:
    """A frame (BGR) as JPEG bytes, as frames are kept (rule evidence, meeting records) and attached to incidents."""
    import cv2

    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("the frame could not be encoded as JPEG")
    return encoded.tobytes()
