"""Frame sources: where a camera's frames come from. An RTSP stream or a video file (OpenCV's VideoCapture),
an HTTP(S) snapshot URL (fetched, then decoded by OpenCV), or a folder or image file replayed for demos and
tests. Every failure becomes a SourceError: a short generic reason for the camera's health, which anyone who sees
the camera may read, and a detail (credentials masked) for the server log only, so that the health of a camera
never serves as a port scanner.

Where a source may point is checked twice: when a camera is saved (Camera.clean, through `source_problem`) and
when each frame is fetched, since a host name may resolve elsewhere by then. Network sources may reach only
global addresses, or those in VISION_SOURCE_ALLOWED_NETWORKS; the fetch connects to the very address it checked.
File sources lie inside the replay folder (`replay_root`), symbolic links and `..` resolved.

Only the workers of the `vision` queue import this module's heavy parts: cv2 and numpy load inside the functions.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import ipaddress
import logging
import math
import re
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# Video containers a replayed file may be: FFmpeg opens anything it can probe, playlists that fetch URLs included.
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".flv"})
# A snapshot larger than this is refused before decoding (a misconfigured URL serving a video, say).
SNAPSHOT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443, "rtsp": 554, "rtsps": 322}

# Cloud instance-metadata services: refused even inside an allowed network, unless one names the very address.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)

# Everything between "://" and the last "@" of the authority: a password may hold "/" or "@" unencoded.
_CREDENTIALS = re.compile(r"(?<=://)[^?#\s]*@")
# Query parameters that carry secrets: ?password=, ?token=, ?key=, ?auth=, ?sig=, X-Amz-Signature=, apiKey=…
_SECRET_PARAMETER = re.compile(
    r"(?i)([?&;][^=&;#\s]*(?:pass|pwd|token|key|auth|sig|secret|credential|session)[^=&;#\s]*=)[^&;#\s]*"
)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


# The only reasons a camera's health ever shows: what failed, never the text of the error it failed with.
REASONS = {
    "kind": _("unknown source kind"),
    "invalid_url": _("invalid URL"),
    "host_not_found": _("host not found"),
    "not_allowed": _("address not allowed"),
    "refused": _("connection refused"),
    "timeout": _("timeout"),
    "unreachable": _("unreachable"),
    "tls": _("TLS error"),
    "redirect": _("redirect not followed"),
    "http_error": _("HTTP error"),
    "bad_answer": _("bad answer"),
    "too_large": _("too large"),
    "not_an_image": _("not an image"),
    "no_stream": _("stream could not be opened"),
    "no_frame": _("no frame"),
    "path_not_allowed": _("path not allowed"),
    "no_file": _("no such file or folder"),
    "empty_folder": _("no image in the folder"),
    "not_a_video": _("not an image or video file"),
}


class SourceError(Exception):
    """The source gave no frame. `code` names the reason (REASONS), which is short and generic ("timeout",
    "address not allowed"…) and fit for the camera's health; `detail` says more, for the server log only."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = text_masked(detail) if detail else code
        super().__init__(code)

    @property
    def reason(self) -> str:
        return str(REASONS[self.code])

    def __str__(self) -> str:
        return self.reason


def source_display(source: str) -> str:
    """The source as it may be shown: credentials in a URL (rtsp://user:pass@…) and secret query parameters
    (?token=…, ?password=…) replaced by ***."""
    return _SECRET_PARAMETER.sub(r"\1***", _CREDENTIALS.sub("***@", source))


def text_masked(text: str) -> str:
    """A message with every URL in it shown as `source_display` shows a source."""
    return _URL_IN_TEXT.sub(lambda match: source_display(match.group(0)), text)


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
    raise SourceError("kind", f"unknown source kind {kind!r}")


def _timeout_s() -> float:
    return float(settings.VISION_SOURCE_TIMEOUT_S)


# --- where a source may point -----------------------------------------------------------------------------------------


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """VISION_SOURCE_ALLOWED_NETWORKS as networks (a list of CIDRs, or one string of them separated by commas)."""
    listed = settings.VISION_SOURCE_ALLOWED_NETWORKS or []
    if isinstance(listed, str):
        listed = listed.split(",")
    networks = []
    for entry in (str(n).strip() for n in listed):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if entry:
                logger.warning("VISION_SOURCE_ALLOWED_NETWORKS: %r is not a network, ignored", entry)
    return networks


def address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Global unicast addresses, and those of an allowed network; never loopback, private, link-local, shared,
    multicast, unspecified or reserved ones, nor a metadata service, unless a setting lists them."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    networks = [n for n in allowed_networks() if n.version == address.version]
    if address in METADATA_ADDRESSES:
        return any(n.num_addresses == 1 and address in n for n in networks)
    if any(address in n for n in networks):
        return True
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class NetworkTarget:
    """A URL taken apart, with the checked addresses its host resolved to (connect to these, never re-resolve)."""

    scheme: str
    host: str
    port: int
    userinfo: str  # as written in the URL ("user:pass"), "" without
    path: str  # path and query, "/" at least
    addresses: tuple[str, ...]


def network_target(url: str) -> NetworkTarget:
    """Take the URL apart and resolve its host; SourceError unless every address it resolves to is allowed."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        raise SourceError("invalid_url", f"invalid URL {url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not host:
        raise SourceError("invalid_url", f"invalid URL {url!r}")
    port = port or DEFAULT_PORTS[scheme]
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    try:
        found = (
            [str(literal)]
            if literal is not None
            else [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
        )
    except (OSError, UnicodeError, ValueError) as exc:
        raise SourceError("host_not_found", f"{host}: {exc}") from exc
    addresses = []
    for text in found:
        address = ipaddress.ip_address(str(text).split("%")[0])
        if not address_allowed(address):
            raise SourceError("not_allowed", f"{host} resolves to {address}, which is not allowed")
        if str(address) not in addresses:
            addresses.append(str(address))
    if not addresses:
        raise SourceError("host_not_found", f"{host}: no address")
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return NetworkTarget(scheme, host, port, userinfo, path, tuple(addresses))


def replay_root() -> Path:
    """The folder file sources must lie in: VISION_REPLAY_DIR, by default MEDIA_ROOT/vision/replay."""
    configured = settings.VISION_REPLAY_DIR
    return Path(configured) if configured else Path(settings.MEDIA_ROOT) / "vision" / "replay"


def source_path(source: str) -> Path:
    """A file source's path, resolved (symbolic links, ".."): relative to the replay folder, or absolute; a
    SourceError unless it lies inside the replay folder."""
    root = replay_root().resolve()
    try:
        path = (root / source.strip()).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a NUL byte, a symlink loop
        raise SourceError("path_not_allowed", f"{source!r}: {exc}") from exc
    if path != root and not path.is_relative_to(root):
        raise SourceError("path_not_allowed", f"{source!r} lies outside the replay folder {root}")
    return path


def source_problem(*, kind: str, source: str) -> str | None:
    """Why a camera may not have this source (a field message for Camera.clean), or None."""
    if kind == "file":
        try:
            source_path(source)
        except SourceError:
            return gettext("A file source lies inside the replay folder %(folder)s (give a path relative to it).") % {
                "folder": replay_root()
            }
        return None
    try:
        network_target(source)
    except SourceError as exc:
        if exc.code == "not_allowed":
            return gettext(
                "This host is or resolves to an address cameras may not reach (loopback, private, link-local, "
                "multicast or a metadata service); VISION_SOURCE_ALLOWED_NETWORKS lists the networks allowed."
            )
        if exc.code == "host_not_found":
            return gettext("The host name of this URL could not be resolved.")
        return gettext("This is not a valid URL.")
    return None


def _network_error(exc: BaseException) -> str:
    """The reason code of a failed connection or read."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "tls"
    if isinstance(exc, http.client.HTTPException):
        return "bad_answer"
    return "unreachable"


# --- streams and video files ------------------------------------------------------------------------------------------


def _capture(target: str, shown: str):
    """An opened VideoCapture, with open and read timeouts for network streams, or SourceError."""
    import cv2

    timeout_ms = int(_timeout_s() * 1000)
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
    try:
        capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
    except cv2.error as exc:
        raise SourceError("no_stream", f"{shown} could not be opened: {exc}") from exc
    if not capture.isOpened():
        capture.release()
        raise SourceError(
            "no_stream", f"{shown} could not be opened (unreachable, refused or not a video, within {_timeout_s():g} s)"
        )
    return capture


def _read(capture, count: int, shown: str) -> list[np.ndarray]:
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok or frame is None or not frame.size:
            break  # the end of a video file, or a stream that stalled past its read timeout
        frames.append(frame)
    if not frames:
        raise SourceError("no_frame", f"{shown} gave no frame")
    return frames


def _pinned_url(target: NetworkTarget, address: str) -> str:
    """The stream's URL with its host replaced by the checked address, so that FFmpeg cannot resolve it anew."""
    host = f"[{address}]" if ":" in address else address
    userinfo = f"{target.userinfo}@" if target.userinfo else ""
    return f"{target.scheme}://{userinfo}{host}:{target.port}{target.path}"


def _stream_frames(url: str, *, count: int) -> list[np.ndarray]:
    target = network_target(url)
    shown = source_display(url)
    capture = _capture(_pinned_url(target, target.addresses[0]), shown)
    try:
        return _read(capture, count, shown)
    finally:
        capture.release()


def _video_frames(path: Path, *, at: dt.datetime, count: int) -> list[np.ndarray]:
    """A video file replayed in a loop: the burst that ends at `at` modulo the video's length."""
    import cv2

    capture = _capture(str(path), path.name)
    try:
        frames_total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0)
        if frames_total > count and fps > 0 and math.isfinite(fps):
            now = int(at.timestamp() * fps) % frames_total
            capture.set(cv2.CAP_PROP_POS_FRAMES, max(0, min(now - count + 1, frames_total - count)))
        return _read(capture, count, path.name)
    finally:
        capture.release()


# --- HTTP snapshots ---------------------------------------------------------------------------------------------------


class _PinnedConnection(http.client.HTTPConnection):
    """Connects to the addresses checked, not to whatever the host name resolves to now (DNS rebinding)."""

    def __init__(self, host: str, port: int, *, addresses: tuple[str, ...], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def _pinned_socket(self) -> socket.socket:
        error: OSError | None = None
        for address in self._addresses:
            try:
                return socket.create_connection((address, self.port), self.timeout)
            except OSError as exc:
                error = exc
        raise error or OSError("no address")

    def connect(self) -> None:
        self.sock = self._pinned_socket()


class _PinnedTLSConnection(_PinnedConnection):
    def __init__(self, host: str, port: int, *, addresses: tuple[str, ...], timeout: float) -> None:
        super().__init__(host, port, addresses=addresses, timeout=timeout)
        self._context = ssl.create_default_context()

    def connect(self) -> None:
        # the certificate is checked against the host name, while the socket goes to the checked address
        self.sock = self._context.wrap_socket(self._pinned_socket(), server_hostname=self.host)


def _http_get(target: NetworkTarget, shown: str) -> bytes:
    kind = _PinnedTLSConnection if target.scheme == "https" else _PinnedConnection
    connection = kind(target.host, target.port, addresses=target.addresses, timeout=_timeout_s())
    headers = {"User-Agent": "gridline-vision", "Accept": "image/*"}
    if target.userinfo:
        credentials = urllib.parse.unquote(target.userinfo)
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    try:
        connection.request("GET", target.path, headers=headers)
        response = connection.getresponse()
        if 300 <= response.status < 400:
            # a redirect could lead anywhere, a metadata service included: never followed
            raise SourceError("redirect", f"{shown} answered HTTP {response.status}")
        if response.status != 200:
            raise SourceError("http_error", f"{shown} answered HTTP {response.status}")
        return response.read(SNAPSHOT_MAX_BYTES + 1)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise SourceError(_network_error(exc), f"{shown} could not be fetched: {exc!r}") from exc
    finally:
        connection.close()


def _snapshot(url: str) -> np.ndarray:
    import cv2
    import numpy as np

    shown = source_display(url)
    body = _http_get(network_target(url), shown)
    if len(body) > SNAPSHOT_MAX_BYTES:
        raise SourceError("too_large", f"the snapshot at {shown} is larger than {SNAPSHOT_MAX_BYTES} bytes")
    frame = cv2.imdecode(np.frombuffer(body, dtype=np.uint8), cv2.IMREAD_COLOR) if body else None
    if frame is None:
        raise SourceError("not_an_image", f"the snapshot at {shown} is not an image OpenCV can decode")
    return frame


# --- files and folders (replay) ---------------------------------------------------------------------------------------


def _image(path: Path) -> np.ndarray:
    import cv2

    source_path(str(path))  # a link in a replayed folder may point out of the replay folder
    frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if frame is None:
        raise SourceError("not_an_image", f"the image {path.name} could not be decoded: damaged or not an image")
    return frame


def _file_frames(source: str, *, at: dt.datetime, interval_seconds: int, count: int) -> list[np.ndarray]:
    path = source_path(source)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            raise SourceError("empty_folder", f"the folder {source!r} holds no image")
        # One image per interval, in name order and round again: the replay moves on as time passes.
        now = math.floor(at.timestamp() / max(1, interval_seconds)) % len(images)
        return [_image(images[(now - count + 1 + i) % len(images)]) for i in range(count)]
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return [_image(path)] * count
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return _video_frames(path, at=at, count=count)
        raise SourceError("not_a_video", f"{source!r} is neither an image nor a video file")
    raise SourceError("no_file", f"there is no file or folder {source!r} on this worker")


def frame_jpeg(frame: np.ndarray) -> bytes:
    """A frame (BGR) as JPEG bytes, as frames are kept (rule evidence, meeting records) and attached to incidents."""
    import cv2

    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("the frame could not be encoded as JPEG")
    return encoded.tobytes()
