"""Exports: every format read back by GDAL's ogrinfo and by pyogrio, filters, masking, audit, the job API."""

import csv
import datetime as dt
import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.utils import timezone
from pyogrio import raw

from grid.models import Category, Incident, Role
from grid.services import incidents_place
from layers.io.exports import export_run, shapefile_field_names
from layers.models import AuditEntry, ExportJob, Organization, Person, Place
from layers.services import person_save
from layers.tasks import export_run_task
from project import urls as project_urls
from tests.factories import IncidentFactory, UserFactory

# The project's URLconf (test_exports_access.py takes it from here too).
urlpatterns = list(project_urls.urlpatterns)
pytestmark = pytest.mark.urls(__name__)

ID_CARD = "610526199001011234"
PLACES = [  # name, lon, lat, kind, created (days before 2024-05-10)
    ("甲社区卫生服务站", 109.91, 35.16, "medical", 1),
    ("老王面馆", 109.93, 35.22, "dining", 3),
    ("乙村便民超市", 109.96, 35.17, "shopping", 10),
    ("乙村小学", 109.98, 35.23, "education", 30),
    ("县汽车站", 109.94, 35.19, "transit", 60),
]
DAY = dt.datetime(2024, 5, 10, 12, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def media(settings, tmp_path_factory):
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")  # export files land in the test's own folder


@pytest.fixture
def register(territory):
    places = []
    for i, (name, lon, lat, kind, days) in enumerate(PLACES):
        place = Place.objects.create(
            code=f"P{i:03d}",
            name=name,
            kind=kind,
            address=f"测试县{name}旁",
            location=Point(lon, lat, srid=4326),
            grid=None,
        )
        Place.objects.filter(pk=place.pk).update(
            created=DAY - dt.timedelta(days=days),
            grid=next(g for g in territory.grids.values() if g.boundary.covers(place.location)),
        )
        places.append(place)
    zhang = person_save(
        person=Person(
            name="张三",
            location=Point(109.92, 35.17, srid=4326),
            gender="male",
            birth_date=dt.date(1990, 1, 1),
            categories=["registered", "party_member"],
        ),
        id_card=ID_CARD,
        phone="13812345678",
    )
    li = person_save(
        person=Person(
            name="李四",
            location=Point(109.92, 35.18, srid=4326),
            categories=["veteran"],
            platform="美团",
            work_kind="food_delivery",
        ),
        id_card="610526198502023456",
    )
    wang = person_save(
        person=Person(name="王五", location=Point(109.93, 35.17, srid=4326), categories=["registered", "released"]),
        id_card="610526197003034567",
    )
    return {"places": places, "zhang": zhang, "li": li, "wang": wang}


def run(user, layer: str, fmt: str, **filters) -> ExportJob:
    job = ExportJob.objects.create(created_by=user, layer=layer, format=fmt, filters=filters)
    return export_run(job=job)


def unpack(job: ExportJob, tmp_path: Path) -> Path:
    """The file GDAL should open: the Shapefile out of its zip, or the file itself."""
    source = Path(job.file.path)
    if job.format != "shp":
        return source
    with zipfile.ZipFile(source) as zipped:
        zipped.extractall(tmp_path)
    return next(tmp_path.glob("*.shp"))


def ogrinfo(*args: str) -> str:
    return subprocess.run(["ogrinfo", "-ro", *args], check=True, capture_output=True, text=True).stdout


def read(path: Path) -> dict[str, list]:
    meta, _, _, field_data = raw.read(str(path), encoding="UTF-8" if path.suffix == ".shp" else None)[:4]
    return {name: list(values) for name, values in zip(meta["fields"], field_data, strict=True)}


@pytest.mark.parametrize("fmt", ["shp", "gpkg", "geojson", "kml", "csv"])
def test_every_format_reads_back_in_gdal_and_pyogrio_with_chinese_text(register, people, tmp_path, fmt):
    job = run(people["admin"], "places", fmt)
    assert (job.status, job.feature_count, job.progress, job.error) == ("done", 5, 1.0, "")
    path = unpack(job, tmp_path)
    summary = ogrinfo("-al", "-so", str(path))
    assert "Feature Count: 5" in summary
    full = ogrinfo("-al", str(path))
    for name, *_ in PLACES:
        assert name in full and f"测试县{name}旁" in full
    # KML writes the name as the placemark's label, which GDAL reads as "Name"
    columns = read(path)
    names = columns["Name" if fmt == "kml" else "name"]
    assert sorted(names) == sorted(p[0] for p in PLACES)
    assert sorted(columns["grid"]) == ["G-A-N", "G-A-S", "G-A-S", "G-B-N", "G-B-S"]
    if fmt == "csv":
        assert path.read_bytes().startswith(b"\xef\xbb\xbfX,Y,")


def test_the_zipped_shapefile_has_its_parts_utf8_and_a_field_map(register, people, tmp_path):
    cleared = UserFactory(role=Role.ADMINISTRATOR, areas=[people["admin"].areas.get()], sensitive_clearance=True)
    job = run(cleared, "people", "shp")
    with zipfile.ZipFile(job.file.path) as zipped:
        names = set(zipped.namelist())
        assert names == {f"people{s}" for s in (".shp", ".shx", ".dbf", ".prj", ".cpg")} | {"fields.csv"}
        assert zipped.read("people.cpg").decode().strip().upper() in ("UTF-8", "UTF8")
        fields = list(csv.DictReader(io.StringIO(zipped.read("fields.csv").decode("utf-8-sig"))))
    mapping = {row["field"]: row["shapefile_field"] for row in fields}
    assert mapping["birth_date"] == "birth_date" and mapping["mobile_member"] == "mobile_mem"
    assert mapping["member_code"] == "member_cod" and mapping["id_card"] == "id_card"
    assert all(len(short) <= 10 and short.isascii() for short in mapping.values())
    assert all(row["title"] for row in fields)
    columns = read(unpack(job, tmp_path))
    assert set(columns) == set(mapping.values())
    assert sorted(columns["name"]) == sorted(["张三", "李四", "王五"])
    assert "美团" in columns["platform"]


def test_field_names_are_shortened_predictably():
    assert shapefile_field_names(["category", "category_name", "category_note", "类别", "id"]) == [
        "category",
        "category_n",
        "category_1",
        "field",
        "id",
    ]
    assert shapefile_field_names(["organization_name", "organization_kind", "ORGANIZATI"]) == [
        "organizati",
        "organizat1",
        "ORGANIZAT2",
    ]


def test_organizations_with_points_and_polygons_become_one_shapefile_per_type(territory, people, tmp_path):
    Organization.objects.create(
        code="ORG1",
        name="甲社区党委",
        kind="party_committee",
        geometry=Point(109.92, 35.17, srid=4326),
        grid=territory.grids["A-S"],
    )
    Organization.objects.create(
        code="ORG2",
        name="乙村物流园",
        kind="enterprise",
        geometry=Polygon.from_bbox((109.96, 35.16, 109.97, 35.17)),
        grid=territory.grids["B-S"],
    )
    Organization.objects.create(
        code="ORG3",
        name="两片园区",
        kind="enterprise",
        grid=territory.grids["B-S"],
        geometry=MultiPolygon(
            Polygon.from_bbox((109.96, 35.21, 109.97, 35.22)), Polygon.from_bbox((109.98, 35.21, 109.99, 35.22))
        ),
    )
    job = run(people["admin"], "organizations", "shp")
    assert job.feature_count == 3
    unpack(job, tmp_path)
    assert "Geometry: Point" in ogrinfo("-so", "-al", str(tmp_path / "organizations_point.shp"))
    polygons = ogrinfo("-al", str(tmp_path / "organizations_polygon.shp"))
    assert "Feature Count: 2" in polygons and "乙村物流园" in polygons and "两片园区" in polygons
    gpkg = run(people["admin"], "organizations", "gpkg")
    assert "Feature Count: 3" in ogrinfo("-so", "-al", gpkg.file.path)


def _inside(lon, lat, box):
    return box[0] <= lon <= box[2] and box[1] <= lat <= box[3]


def test_filters_narrow_the_export(register, territory, people):
    admin = people["admin"]
    box = (109.90, 35.15, 109.95, 35.20)
    expected = {
        "area": sum(1 for _, lon, *_ in PLACES if lon < 109.95),  # community A: the west half
        "grid": sum(1 for _, lon, lat, *_ in PLACES if lon < 109.95 and lat < 35.20),
        "bbox": sum(1 for _, lon, lat, *_ in PLACES if _inside(lon, lat, box)),
        "time": sum(1 for *_, days in PLACES if 3 <= days <= 10),
        "kind": sum(1 for *_, kind, _ in PLACES if kind == "dining"),
    }
    since, until = (DAY - dt.timedelta(days=10)).date(), (DAY - dt.timedelta(days=3)).date()
    got = {
        "area": run(admin, "places", "csv", area=territory.community_a.code).feature_count,
        "grid": run(admin, "places", "csv", area="G-A-S").feature_count,
        "bbox": run(admin, "places", "csv", bbox=",".join(map(str, box))).feature_count,
        "time": run(admin, "places", "csv", **{"from": since.isoformat(), "to": until.isoformat()}).feature_count,
        "kind": run(admin, "places", "csv", kind="dining").feature_count,
    }
    assert got == expected and 0 < expected["grid"] < expected["area"] < len(PLACES)
    # category: incidents by their category's code
    other = Category.objects.get_or_create(code="road_damage", defaults={"name": "道路破损"})[0]
    IncidentFactory(location=Point(109.91, 35.16, srid=4326), note="楼道堆放杂物")
    IncidentFactory(location=Point(109.96, 35.16, srid=4326))
    IncidentFactory(location=Point(109.97, 35.17, srid=4326), category=other)
    incidents_place()  # grid, community, street and county from each point
    assert run(admin, "incidents", "geojson", category="litter").feature_count == 2
    assert (
        run(admin, "incidents", "geojson", category="litter", area=territory.street_b.code).feature_count
        == Incident.objects.filter(location__coveredby=territory.street_b.boundary, category__code="litter").count()
        == 1
    )
    # people by category, as the registry's lookup (an array containing it) reads it
    assert run(admin, "people", "csv", category="veteran").feature_count == 1


def _csv_rows(job: ExportJob) -> list[dict]:
    return list(csv.DictReader(io.StringIO(Path(job.file.path).read_text(encoding="utf-8-sig"))))


def test_personal_values_are_masked_and_released_people_absent_without_clearance(register, people):
    rows = {row["name"]: row for row in _csv_rows(run(people["dispatcher_a"], "people", "csv"))}
    assert set(rows) == {"张三", "李四"}  # 王五 (released) is not exported to this role
    assert rows["张三"]["id_card"] == "**************1234" and rows["张三"]["phone"] == "*******5678"
    assert rows["张三"]["birth_date"] == "1990-1999"  # the decade: with the last four digits, no way back
    assert rows["张三"]["categories"] == "registered,party_member"
    entry = AuditEntry.objects.get(action="export")
    assert "unmasked" not in entry.details
    # the worker of grid A-S exports the same people masked; the dispatcher of street B nobody
    assert run(people["worker"], "people", "gpkg").feature_count == 2
    assert run(people["dispatcher_street_b"], "people", "gpkg").feature_count == 0


def test_a_cleared_account_exports_full_values_and_the_audit_log_says_so(register, people):
    cleared = UserFactory(role=Role.ADMINISTRATOR, areas=[people["admin"].areas.get()], sensitive_clearance=True)
    job = run(cleared, "people", "csv")
    rows = {row["name"]: row for row in _csv_rows(job)}
    assert set(rows) == {"张三", "李四", "王五"}
    assert rows["张三"]["id_card"] == ID_CARD and rows["张三"]["phone"] == "13812345678"
    assert rows["张三"]["birth_date"] == "1990-01-01"
    assert rows["王五"]["id_card"] == "610526197003034567"
    entry = AuditEntry.objects.get(action="export")
    assert (entry.actor, entry.target) == (cleared, "people")
    # `scope` fingerprints what the file was written for, judged again at each download
    assert {name: value for name, value in entry.details.items() if name != "scope"} == {
        "job": job.pk,
        "format": "csv",
        "filters": {},
        "count": 3,
        "unmasked": ["birth_date", "id_card", "phone"],
        "clearance": True,
    }


def test_each_export_is_audited_with_its_filters_and_count(register, people, territory):
    run(people["admin"], "places", "gpkg", area=territory.community_b.code)
    run(people["admin"], "places", "kml")
    entries = list(AuditEntry.objects.filter(action="export").order_by("id"))
    assert [(e.actor, e.target, e.details["filters"], e.details["count"]) for e in entries] == [
        (people["admin"], "places", {"area": territory.community_b.code}, 2),
        (people["admin"], "places", {}, 5),
    ]


def test_the_task_run_twice_does_nothing_the_second_time(register, people):
    job = ExportJob.objects.create(created_by=people["admin"], layer="places", format="geojson")
    assert export_run_task.apply(kwargs={"job_id": job.pk}).get() == "done"
    job.refresh_from_db()
    first = (job.file.name, job.finished)
    assert export_run_task.apply(kwargs={"job_id": job.pk}).get() == "done"
    job.refresh_from_db()
    assert (job.file.name, job.finished) == first
    assert AuditEntry.objects.filter(action="export").count() == 1


def test_a_job_whose_area_vanished_fails_with_a_message(register, people):
    job = run(people["admin"], "places", "csv", area="NO-SUCH")
    assert job.status == "failed" and "area" in job.error and not job.file


@pytest.fixture
def eager(monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(export_run_task, "delay", lambda **kw: export_run_task.apply(kwargs=kw))

    def post(client, body):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/api/v1/exports/", body, format="json")

    return post


def test_api_flow_request_poll_download(register, people, api_as, eager):
    client = api_as(people["admin"])
    response = eager(client, {"layer": "places", "format": "shp", "area": "G-A-S", "from": "2024-01-01"})
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    state = client.get(f"/api/v1/exports/{job_id}/").json()
    assert (state["status"], state["progress"], state["feature_count"]) == ("done", 1.0, 2)
    assert state["filters"] == {"area": "G-A-S", "from": "2024-01-01"}
    assert state["download_url"].endswith(f"/api/v1/exports/{job_id}/download/")
    download = client.get(state["download_url"])
    assert download.status_code == 200
    assert f'filename="places-{timezone.localdate():%Y%m%d}-{job_id}.zip"' in download["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as zipped:
        assert "places.shp" in zipped.namelist()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"layer": "nope", "format": "csv"}, "layer"),
        ({"layer": "places", "format": "xlsx"}, "format"),
        ({"layer": "places", "format": "csv", "bbox": "109.9,35.1,109.8"}, "bbox"),
        ({"layer": "places", "format": "csv", "bbox": "110,35.1,109.8,35.2"}, "bbox"),
        ({"layer": "places", "format": "csv", "from": "2024-13-01"}, "from"),
        ({"layer": "places", "format": "csv", "from": "2024-05-02", "to": "2024-05-01"}, "to"),
        ({"layer": "places", "format": "csv", "area": "999999"}, "area"),
        ({"layer": "places", "format": "csv", "category": "x"}, "category"),
        ({"layer": "places", "format": "csv", "kind": "castle"}, "kind"),
        ({"layer": "people", "format": "csv", "category": "released"}, "category"),  # hidden without clearance
    ],
)
def test_bad_export_requests_get_field_messages(register, people, api_as, eager, body, field):
    response = eager(api_as(people["admin"]), body)
    assert response.status_code == 400 and field in response.json(), response.content
    assert not ExportJob.objects.exists()


def test_closed_layers_and_anonymous_callers_are_refused(register, people, api, api_as, eager):
    assert eager(api_as(people["resident"]), {"layer": "people", "format": "csv"}).status_code == 403
    assert eager(api, {"layer": "places", "format": "csv"}).status_code == 401
    # a resident may export a public layer
    assert eager(api_as(people["resident"]), {"layer": "places", "format": "csv"}).status_code == 201


def test_nobody_else_reads_a_job_or_its_file(register, people, api_as, api, eager):
    job_id = eager(api_as(people["dispatcher_a"]), {"layer": "people", "format": "csv"}).json()["id"]
    for other in (people["admin"], people["dispatcher_street_b"]):
        client = api_as(other)
        assert client.get(f"/api/v1/exports/{job_id}/").status_code == 404
        assert client.get(f"/api/v1/exports/{job_id}/download/").status_code == 404
    assert api.get(f"/api/v1/exports/{job_id}/download/").status_code == 401
    # a superuser could export the same rows, but not take this account's file
    boss = UserFactory(username="root", is_superuser=True)
    assert api_as(boss).get(f"/api/v1/exports/{job_id}/").status_code == 404
    assert api_as(boss).get(f"/api/v1/exports/{job_id}/download/").status_code == 404
    assert api_as(people["dispatcher_a"]).get(f"/api/v1/exports/{job_id}/download/").status_code == 200


def test_progress_is_visible_and_a_pending_job_has_no_download(register, people, api_as):
    job = ExportJob.objects.create(created_by=people["admin"], layer="places", format="csv")
    client = api_as(people["admin"])
    state = client.get(f"/api/v1/exports/{job.pk}/").json()
    assert (state["status"], state["progress"], state["download_url"]) == ("pending", 0.0, None)
    assert client.get(f"/api/v1/exports/{job.pk}/download/").status_code == 409
