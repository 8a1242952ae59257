"""The camera endpoints (GeoJSON list and detail, observations), the camera layer of the registry, and the admin's
validation of a camera's line, zone and schedule."""

import datetime as dt
import math

import pytest
from django.contrib.gis.geos import Point

from grid.models import Category, Role
from tests.factories import UserFactory
from vision.models import Camera, Observation, Rule
from vision.services import FrameAnalysis, camera_save, observation_record

T0 = dt.datetime(2025, 6, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def cameras_network(settings):
    # these cameras stand in the county's private camera network
    settings.VISION_SOURCE_ALLOWED_NETWORKS = ["10.0.0.0/8"]


@pytest.fixture
def cameras(territory) -> dict[str, Camera]:
    def make(code: str, lon: float, lat: float, **fields) -> Camera:
        return camera_save(
            camera=Camera(
                code=code,
                name=f"摄像头{code}",
                location=Point(lon, lat, srid=4326),
                source_kind=fields.pop("source_kind", Camera.SourceKind.RTSP),
                source=fields.pop("source", "rtsp://admin:s3cret@10.0.0.8:554/stream1"),
                analyses=["counts"],
                **fields,
            )
        )

    found = {"a": make("CAM-A", 109.93, 35.17), "b": make("CAM-B", 109.97, 35.22)}
    Rule.objects.create(
        camera=found["a"], name="拥挤", kind=Rule.Kind.COUNT_AT_LEAST, threshold=3, category=Category.objects.first()
    )
    for minute in range(5):
        observation_record(
            camera=found["a"],
            at=T0 + dt.timedelta(minutes=minute),
            analysis=FrameAnalysis(counts={"person": minute}),
            backend="hog",
        )
    return found


def codes(body: dict) -> list[str]:
    return [f["properties"]["code"] for f in body["features"]]


# --- list and detail --------------------------------------------------------------------------------------------------


def test_cameras_are_geojson_with_latest_counts_and_health(api_as, people, cameras, django_assert_max_num_queries):
    client = api_as(people["admin"])
    with django_assert_max_num_queries(4):
        response = client.get("/api/v1/cameras/")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection" and codes(body) == ["CAM-A", "CAM-B"]
    a = body["features"][0]
    assert a["geometry"] == {"type": "Point", "coordinates": [109.93, 35.17]}
    props = a["properties"]
    assert props["grid"] == "G-A-S" and props["latest_counts"] == {"person": 4}
    assert props["latest_observed_at"] == "2025-06-02T09:04:00+08:00" and props["health"] == "ok"
    assert "source" not in props and b"s3cret" not in response.content


def test_cameras_are_scoped_to_the_callers_grids(api_as, people, cameras):
    assert codes(api_as(people["dispatcher_a"]).get("/api/v1/cameras/").json()) == ["CAM-A"]
    assert codes(api_as(people["dispatcher_street_b"]).get("/api/v1/cameras/").json()) == ["CAM-B"]
    assert codes(api_as(people["resident"]).get("/api/v1/cameras/").json()) == []
    # another area's camera: as if it did not exist
    client = api_as(people["dispatcher_a"])
    assert client.get(f"/api/v1/cameras/{cameras['b'].pk}/").status_code == 404
    assert client.get(f"/api/v1/cameras/{cameras['b'].pk}/observations/").status_code == 404


def test_anonymous_callers_are_refused(api, cameras):
    for url in (
        "/api/v1/cameras/",
        f"/api/v1/cameras/{cameras['a'].pk}/",
        f"/api/v1/cameras/{cameras['a'].pk}/observations/",
    ):
        assert api.get(url).status_code == 401


def test_in_bbox_keeps_the_cameras_inside_and_a_bad_box_is_a_400(api_as, people, cameras):
    client = api_as(people["admin"])
    assert codes(client.get("/api/v1/cameras/", {"in_bbox": "109.90,35.15,109.95,35.20"}).json()) == ["CAM-A"]
    assert codes(client.get("/api/v1/cameras/", {"in_bbox": "109.95,35.20,110.00,35.25"}).json()) == ["CAM-B"]
    for bad in ("1,2,3", "110,35,109,36", "a,b,c,d", "109,35,200,36"):
        response = client.get("/api/v1/cameras/", {"in_bbox": bad})
        assert response.status_code == 400 and "in_bbox" in response.json()


def test_detail_has_line_zone_rules_and_a_masked_source(api_as, people, cameras):
    response = api_as(people["admin"]).get(f"/api/v1/cameras/{cameras['a'].pk}/")
    assert response.status_code == 200
    props = response.json()["properties"]
    assert props["source"] == "rtsp://***@10.0.0.8:554/stream1"
    assert [r["name"] for r in props["rules"]] == ["拥挤"] and props["rules"][0]["threshold"] == 3


# --- observations -----------------------------------------------------------------------------------------------------


def test_observations_in_a_period_oldest_first_and_paged(api_as, people, cameras):
    client = api_as(people["dispatcher_a"])
    url = f"/api/v1/cameras/{cameras['a'].pk}/observations/"
    body = client.get(url, {"from": "2025-06-02T09:01:00+08:00", "to": "2025-06-02T09:04:00+08:00"}).json()
    # from and to included: minutes 1 to 4
    assert body["count"] == 4 and [r["counts"]["person"] for r in body["results"]] == [1, 2, 3, 4]
    assert body["results"][0]["at"] == "2025-06-02T09:01:00+08:00"
    # a bare date as `to` includes the day
    whole_day = client.get(url, {"from": "2025-06-02", "to": "2025-06-02", "page_size": 2}).json()
    assert whole_day["count"] == 5 and len(whole_day["results"]) == 2 and whole_day["next"]
    # by default the last 24 hours: these are older
    assert client.get(url).json()["count"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2025-02-30"}, "to"),
        ({"from": "2025-06-03", "to": "2025-06-01"}, "to"),
        ({"from": "2025-01-01", "to": "2025-06-01"}, "to"),
        ({"from": "2999-01-01"}, "from"),
        ({"page_size": "0"}, "page_size"),
        ({"page": "x"}, "page"),
    ],
)
def test_bad_observation_queries_are_400s_naming_the_field(api_as, people, cameras, params, field):
    response = api_as(people["admin"]).get(f"/api/v1/cameras/{cameras['a'].pk}/observations/", params)
    assert response.status_code == 400 and field in response.json(), response.json()


# --- the layer --------------------------------------------------------------------------------------------------------


def test_the_camera_layer_is_in_the_registry_for_signed_in_accounts(api, api_as, people, cameras):
    legend = {layer["name"]: layer for layer in api_as(people["dispatcher_a"]).get("/api/v1/layers/").json()}
    layer = legend["cameras"]
    assert layer["group"] == "things" and layer["sensitivity"] == "internal" and layer["count"] == 1
    assert {"code", "name", "latest_summary", "latest_observed_at", "last_frame_at", "last_error"} <= {
        a["name"] for a in layer["attributes"]
    }
    assert "cameras" not in {layer["name"] for layer in api.get("/api/v1/layers/").json()}
    assert api.get("/api/v1/layers/cameras/").status_code == 401


def test_the_camera_layers_geojson_and_tile(api_as, people, cameras):
    client = api_as(people["admin"])
    body = client.get("/api/v1/layers/cameras/").json()
    assert body["type"] == "FeatureCollection" and body["count"] == 2
    by_code = {f["properties"]["code"]: f for f in body["features"]}
    assert by_code["CAM-A"]["properties"]["latest_summary"] == "person 4"
    assert by_code["CAM-A"]["properties"]["grid"] == "G-A-S"
    assert by_code["CAM-B"]["geometry"]["coordinates"] == [109.97, 35.22]
    # the zoom-12 tile under camera A (slippy-map tile numbers) holds it; a tile of the open sea holds nothing
    z, lon, lat = 12, 109.93, 35.17
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    tile = client.get(f"/tiles/cameras/{z}/{x}/{y}.mvt")
    assert tile.status_code == 200 and b"CAM-A" in tile.content and b"CAM-B" not in tile.content
    assert client.get(f"/tiles/cameras/{z}/0/{y}.mvt").status_code == 204


@pytest.mark.parametrize("fmt", ["gpkg", "shp"])
def test_the_camera_layer_exports(people, cameras, settings, tmp_path, fmt):
    import zipfile

    from pyogrio import raw

    from layers.io.exports import export_run
    from layers.models import ExportJob

    settings.MEDIA_ROOT = tmp_path / "media"
    job = export_run(job=ExportJob.objects.create(created_by=people["dispatcher_a"], layer="cameras", format=fmt))
    assert (job.status, job.feature_count, job.error) == ("done", 1, "")
    path = job.file.path
    if fmt == "shp":
        with zipfile.ZipFile(path) as zipped:
            zipped.extractall(tmp_path)
        path = next(tmp_path.glob("*.shp"))
    meta, _, _, values = raw.read(str(path), encoding="UTF-8" if fmt == "shp" else None)[:4]
    row = {name: list(column)[0] for name, column in zip(meta["fields"], values, strict=True)}
    assert row["code"] == "CAM-A" and row["grid"] == "G-A-S"
    assert row["latest_sum" if fmt == "shp" else "latest_summary"] == "person 4"


# --- the admin --------------------------------------------------------------------------------------------------------


def admin_form(**fields) -> dict:
    data = {
        "code": "CAM-N",
        "name": "新摄像头",
        "location": "SRID=4326;POINT (109.97 35.17)",
        "source_kind": "rtsp",
        "source": "rtsp://10.0.0.9/live",
        "analyses": ["counts"],
        "classes": "person",
        "line": "",
        "zone": "",
        "interval_seconds": "60",
        "schedule": "{}",
        "enabled": "on",
        "rules-TOTAL_FORMS": "0",
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }
    return {**data, **fields}


def test_the_admin_validates_line_zone_schedule_and_places_the_camera(client, territory):
    superuser = UserFactory(username="root", role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client.force_login(superuser)
    bad = {
        "line": "[[0.1, 0.2], [1.5, 0.2]]",
        "zone": "[[0, 0], [1, 1]]",
        "schedule": '{"monday": [["08:00", "20:00"]]}',
        "source": "http://10.0.0.9/live",
    }
    response = client.post("/admin/vision/camera/add/", admin_form(**bad, analyses=["counts", "line"]))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) >= {"line", "zone", "schedule", "source"}
    assert not Camera.objects.exists()
    response = client.post(
        "/admin/vision/camera/add/", admin_form(line="[[0.5, 0], [0.5, 1]]", analyses=["counts", "line"])
    )
    assert response.status_code == 302
    camera = Camera.objects.get(code="CAM-N")
    assert camera.grid == territory.grids["B-S"] and camera.line == [[0.5, 0], [0.5, 1]]
    # observations are read-only in the admin
    observation_record(camera=camera, at=T0, analysis=FrameAnalysis(counts={"person": 1}), backend="hog")
    assert client.get("/admin/vision/observation/").status_code == 200
    assert client.get("/admin/vision/observation/add/").status_code == 403
    assert Observation.objects.count() == 1
