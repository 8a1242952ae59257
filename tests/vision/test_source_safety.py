"""Where a camera's source may point, and what of it anyone sees: loopback, private, link-local, multicast and
metadata addresses refused (when saved and when fetched, the fetch connecting to the address it checked), file
sources only inside the replay folder, failures shown as a short generic reason, credentials always masked."""

import http.server
import logging
import os
import socket
import threading
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from grid.models import Role
from tests.factories import UserFactory
from vision.models import Camera
from vision.services import camera_save
from vision.sources import SourceError, frames_grab, source_display
from vision.tasks import camera_analyse_task

cv2 = pytest.importorskip("cv2")
np = pytest.importorskip("numpy")


@pytest.fixture(autouse=True)
def isolated(settings, tmp_path):
    settings.VISION_SOURCE_TIMEOUT_S = 3.0
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.VISION_REPLAY_DIR = str(tmp_path / "replay")
    settings.VISION_SOURCE_ALLOWED_NETWORKS = []
    (tmp_path / "replay").mkdir()
    translation.activate("en")
    yield
    translation.deactivate()


@pytest.fixture
def snapshot_server():
    """A local HTTP server: /ok.jpg a JPEG, /moved a redirect to the metadata service; it records each request."""
    ok, jpeg = cv2.imencode(".jpg", np.full((24, 32, 3), 90, dtype=np.uint8))
    seen: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # the stdlib's name for it
            seen.append(
                {"path": self.path, "host": self.headers.get("Host"), "auth": self.headers.get("Authorization")}
            )
            if self.path.startswith("/ok.jpg"):
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(jpeg)))
                self.end_headers()
                self.wfile.write(jpeg.tobytes())
                return
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_dns(monkeypatch):
    """fake_dns("cam.example", ["93.184.216.34", "127.0.0.1"]): successive lookups of the name get successive
    answers (the last one repeats), as a rebinding name server gives them; other names resolve as before."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def install(name: str, answers: list[str]) -> list[str]:
        def getaddrinfo(host, port, *args, **kwargs):
            if host != name:
                return real(host, port, *args, **kwargs)
            address = answers[min(len(lookups), len(answers) - 1)]
            lookups.append(address)
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return lookups

    return install


def camera(kind: str, source: str, code: str = "CAM-X") -> Camera:
    return Camera(
        code=code,
        name="摄像头",
        location=Point(109.93, 35.17, srid=4326),
        source_kind=kind,
        source=source,
        analyses=["counts"],
    )


def source_errors(kind: str, source: str) -> list[str]:
    try:
        camera(kind, source).full_clean(exclude=["grid"])
    except ValidationError as exc:
        return exc.message_dict.get("source", [])
    return []


# --- addresses --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "http://127.0.0.1:6379/",
        "http://localhost:6379/",
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00:ec2::254]/latest/meta-data",
        "http://100.100.100.200/latest/meta-data",
        "rtsp://10.0.0.8:554/stream1",
        "rtsp://admin:pw@192.168.1.64/live",
        "rtsps://172.16.5.5/live",
        "http://[::1]/snap.jpg",
        "http://[fe80::1]/snap.jpg",
        "http://[fc00::5]/snap.jpg",
        "http://[::ffff:127.0.0.1]/snap.jpg",
        "http://224.0.0.251/snap.jpg",
        "http://0.0.0.0:8000/",
        "http://100.64.0.1/",
    ],
)
def test_sources_at_internal_addresses_are_refused_with_a_field_message(territory, source):
    kind = "rtsp" if source.startswith("rtsp") else "http"
    (message,) = source_errors(kind, source)
    assert "not reach" in message and "VISION_SOURCE_ALLOWED_NETWORKS" in message
    with pytest.raises(ValidationError):
        camera_save(camera=camera(kind, source))
    assert not Camera.objects.exists()


def test_a_host_name_that_resolves_to_a_private_address_is_refused(territory, fake_dns):
    lookups = fake_dns("cam.example", ["10.1.2.3"])
    (message,) = source_errors("http", "http://cam.example/snap.jpg")
    assert "not reach" in message and lookups == ["10.1.2.3"]


def test_every_resolved_address_must_be_allowed(territory, monkeypatch):
    real = socket.getaddrinfo

    def two_addresses(host, port, *args, **kwargs):
        if host != "cam.example":
            return real(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.0.10", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    (message,) = source_errors("rtsp", "rtsp://cam.example/live")
    assert "not reach" in message


def test_an_unresolvable_host_is_a_field_message(territory):
    (message,) = source_errors("http", "http://camera.invalid/snap.jpg")  # lookups of other hosts fail in tests
    assert "could not be resolved" in message


def test_allowed_networks_let_the_cameras_network_in_but_never_the_metadata_service(territory, settings):
    settings.VISION_SOURCE_ALLOWED_NETWORKS = ["10.0.0.0/8", "169.254.0.0/16"]
    assert source_errors("rtsp", "rtsp://10.0.0.8:554/stream1") == []
    assert source_errors("http", "http://169.254.10.1/snap.jpg") == []
    assert source_errors("http", "http://169.254.169.254/latest/meta-data") != []
    assert source_errors("rtsp", "rtsp://192.168.1.64/live") != []  # not listed
    settings.VISION_SOURCE_ALLOWED_NETWORKS = ["169.254.169.254/32"]  # named exactly: the operator means it
    assert source_errors("http", "http://169.254.169.254/latest/meta-data") == []


def test_a_fetch_checks_the_address_again_dns_rebinding(territory, settings, snapshot_server, fake_dns):
    port, seen = snapshot_server
    # saved while the name pointed at a public address; by the time of the fetch it points at loopback
    lookups = fake_dns("cam.example", ["8.8.8.8", "127.0.0.1"])
    saved = camera_save(camera=camera("http", f"http://cam.example:{port}/ok.jpg"))
    assert lookups == ["8.8.8.8"]
    result = camera_analyse_task.apply(kwargs={"camera_id": saved.pk})
    saved.refresh_from_db()
    assert result.successful() and result.result is None
    assert (saved.failures, saved.last_error) == (1, "address not allowed")
    assert seen == []  # nothing reached the loopback server


def test_a_fetch_connects_to_the_address_it_checked(settings, snapshot_server, fake_dns):
    port, seen = snapshot_server
    settings.VISION_SOURCE_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    # a second lookup within the fetch would get an address that is not allowed and not this server
    lookups = fake_dns("cam.example", ["127.0.0.1", "10.9.9.9"])
    (frame,) = frames_grab(
        kind="http", source=f"http://user:pa%40ss@cam.example:{port}/ok.jpg", at=timezone.now(), interval_seconds=60
    )
    assert frame.shape == (24, 32, 3)
    assert lookups == ["127.0.0.1"]  # resolved once, and the socket went to that address
    assert seen[0]["host"] == f"cam.example:{port}"
    import base64

    assert seen[0]["auth"] == "Basic " + base64.b64encode(b"user:pa@ss").decode()


def test_a_redirect_is_not_followed(settings, snapshot_server):
    port, seen = snapshot_server
    settings.VISION_SOURCE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with pytest.raises(SourceError) as caught:
        frames_grab(kind="http", source=f"http://127.0.0.1:{port}/moved", at=timezone.now(), interval_seconds=60)
    assert str(caught.value) == "redirect not followed" and len(seen) == 1


def test_a_stream_is_opened_at_the_checked_address(settings, fake_dns, monkeypatch):
    from vision import sources

    opened = []

    def capture(target: str, shown: str):
        # what OpenCV would be asked to open; no stream is there to open
        opened.append(target)
        raise SourceError("no_stream", shown)

    monkeypatch.setattr(sources, "_capture", capture)
    settings.VISION_SOURCE_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    fake_dns("cam.example", ["10.0.0.8", "127.0.0.1"])
    with pytest.raises(SourceError):
        frames_grab(
            kind="rtsp", source="rtsp://admin:s3cret@cam.example/live?ch=1", at=timezone.now(), interval_seconds=60
        )
    assert opened == ["rtsp://admin:s3cret@10.0.0.8:554/live?ch=1"]


# --- files ------------------------------------------------------------------------------------------------------------


def test_file_sources_lie_inside_the_replay_folder(territory, settings, tmp_path):
    replay = Path(settings.VISION_REPLAY_DIR)
    (replay / "hall").mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    cv2.imwrite(str(outside / "secret.png"), np.zeros((4, 4, 3), dtype=np.uint8))
    os.symlink(outside, replay / "escape")
    assert source_errors("file", "hall") == []
    assert source_errors("file", str(replay / "hall")) == []  # absolute, inside
    assert source_errors("file", "not-yet-there") == []  # may be filled later
    for bad in ("/etc/passwd", "../outside", "hall/../../outside", "escape", "escape/secret.png", str(outside)):
        (message,) = source_errors("file", bad)
        assert "replay folder" in message, bad
        with pytest.raises(SourceError) as caught:
            frames_grab(kind="file", source=bad, at=timezone.now(), interval_seconds=60)
        assert str(caught.value) == "path not allowed"


def test_a_link_made_after_the_camera_was_saved_is_refused_at_fetch_time(territory, settings, tmp_path):
    replay = Path(settings.VISION_REPLAY_DIR)
    (replay / "hall").mkdir()
    saved = camera_save(camera=camera("file", "hall"))
    outside = tmp_path / "outside.png"
    cv2.imwrite(str(outside), np.zeros((4, 4, 3), dtype=np.uint8))
    os.symlink(outside, replay / "hall" / "01.png")  # a replayed folder's image linking out
    camera_analyse_task.apply(kwargs={"camera_id": saved.pk})
    saved.refresh_from_db()
    assert (saved.failures, saved.last_error) == (1, "path not allowed")


# --- what is shown ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("rtsp://admin:s3cret@10.0.0.8:554/stream1", "rtsp://***@10.0.0.8:554/stream1"),
        ("rtsp://admin:p@ss/w0rd@10.0.0.8/live", "rtsp://***@10.0.0.8/live"),
        ("http://cam/snap.jpg?user=admin&password=s3cret&ch=1", "http://cam/snap.jpg?user=admin&password=***&ch=1"),
        ("http://cam/snap.jpg?token=abc.def", "http://cam/snap.jpg?token=***"),
        ("https://cam/s?apiKey=k1&auth=a1;sig=s1", "https://cam/s?apiKey=***&auth=***;sig=***"),
        (
            "https://bucket/x.jpg?X-Amz-Signature=f00&X-Amz-Credential=AK",
            "https://bucket/x.jpg?X-Amz-Signature=***&X-Amz-Credential=***",
        ),
        ("http://cam/snap.jpg?pwd=1&key=2", "http://cam/snap.jpg?pwd=***&key=***"),
        ("http://cam/snap.jpg?channel=2", "http://cam/snap.jpg?channel=2"),
        ("demo/hall", "demo/hall"),
    ],
)
def test_credentials_and_secret_parameters_are_masked(source, shown):
    assert source_display(source) == shown


SECRET_SOURCE = "http://admin:s3cretpw@127.0.0.1:9/snap.jpg?token=t0ken&channel=1"


def test_a_failed_fetch_shows_a_generic_reason_and_logs_the_detail_masked(territory, settings, api_as, people, caplog):
    settings.VISION_SOURCE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    saved = camera_save(camera=camera("http", SECRET_SOURCE))
    with caplog.at_level(logging.WARNING, logger="vision"):
        camera_analyse_task.apply(kwargs={"camera_id": saved.pk})
    saved.refresh_from_db()
    assert saved.last_error == "connection refused"
    # the detail is in the server log, with the credentials masked
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("vision"))
    assert "refused" in logged.lower() and "127.0.0.1:9" in logged
    assert "s3cretpw" not in logged and "t0ken" not in logged
    # a grid worker of the camera's grid (A-S) sees the generic reason only, and never the source
    client = api_as(people["worker"])
    listed = client.get("/api/v1/cameras/")
    detail = client.get(f"/api/v1/cameras/{saved.pk}/")
    assert listed.status_code == detail.status_code == 200
    (feature,) = listed.json()["features"]
    assert feature["properties"]["last_error"] == detail.json()["properties"]["last_error"] == "connection refused"
    for response in (listed, detail):
        assert b"Errno" not in response.content and b"s3cretpw" not in response.content
        assert b"t0ken" not in response.content
    props = api_as(people["admin"]).get(f"/api/v1/cameras/{saved.pk}/").json()["properties"]
    assert props["source"] == "http://***@127.0.0.1:9/snap.jpg?token=***&channel=1"


def test_the_admin_never_shows_a_source_in_full_and_keeps_it_when_sent_back_masked(client, territory, settings):
    settings.VISION_SOURCE_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    superuser = UserFactory(username="root", role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client.force_login(superuser)
    saved = camera_save(camera=camera("http", SECRET_SOURCE))
    url = f"/admin/vision/camera/{saved.pk}/change/"
    for page in (client.get("/admin/vision/camera/"), client.get(url)):
        assert page.status_code == 200
        assert b"s3cretpw" not in page.content and b"t0ken" not in page.content
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data["location"] = "SRID=4326;POINT (109.93 35.17)"
    data["analyses"] = ["counts"]
    data["classes"] = ""
    data["line"] = data["zone"] = ""
    data["schedule"] = "{}"
    data["enabled"] = "on"
    data["station"] = data["place"] = ""
    data.update(
        {
            "rules-TOTAL_FORMS": "0",
            "rules-INITIAL_FORMS": "0",
            "rules-MIN_NUM_FORMS": "0",
            "rules-MAX_NUM_FORMS": "1000",
        }
    )
    assert data["source"] == "http://***@127.0.0.1:9/snap.jpg?token=***&channel=1"
    data["name"] = "改名"
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved.refresh_from_db()
    assert saved.name == "改名" and saved.source == SECRET_SOURCE  # the credentials stayed
    data["source"] = "http://127.0.0.1:9/other.jpg"
    assert client.post(url, data).status_code == 302
    saved.refresh_from_db()
    assert saved.source == "http://127.0.0.1:9/other.jpg"
    data["source"] = "http://169.254.169.254/latest/meta-data"
    response = client.post(url, data)
    assert response.status_code == 200 and "source" in response.context["adminform"].form.errors
    saved.refresh_from_db()
    assert saved.source == "http://127.0.0.1:9/other.jpg"
