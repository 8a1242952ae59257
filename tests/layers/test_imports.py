"""Imports: every format, re-import, dry run, bad files, GCJ-02, presets, the API and its task."""

import csv
import io
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from django.core.files.base import ContentFile
from django.urls import include, path
from openpyxl import Workbook

from grid.crs import from_wgs84
from layers import crypto
from layers.identifiers import credit_code_check, id_card_check
from layers.io.imports import import_run
from layers.models import AuditEntry, ImportJob, JobStatus, Organization, Person, Place, Thing, WorkKind
from layers.tasks import import_run_task

urlpatterns = [path("api/v1/", include("layers.api.urls"))]


def id_card(i: int) -> str:
    body = f"610527199{i % 10}0101{i % 1000:03d}"
    return body + id_card_check(body)


def credit_code(i: int) -> str:
    body = f"91610527MA{i:07d}"
    return body + credit_code_check(body)


def job_for(content: bytes, name: str, layer: str, user=None, **fields) -> ImportJob:
    job = ImportJob(layer=layer, original_name=name, created_by=user, **fields)
    job.source.save(name, ContentFile(content), save=False)
    job.save()
    return job


def csv_bytes(rows: list[list], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


PEOPLE_HEADER = ["姓名", "身份证号", "手机号", "经度", "纬度", "人员类别"]


def people_rows(n: int, start: int = 0) -> list[list]:
    # west half (grids A-*) and east half (B-*) of the territory, no point on an edge
    return [
        [f"张{i}", id_card(i), f"1380013{i:04d}", 109.91 + (i % 8) * 0.01, 35.16 + (i % 9) * 0.01, "流动人口"]
        for i in range(start, start + n)
    ]


def test_csv_utf8_imports_people_with_grid_and_encrypted_id_card(territory, people):
    job = job_for(csv_bytes([PEOPLE_HEADER, *people_rows(20)], "utf-8-sig"), "p.csv", "people", people["admin"])
    job = import_run(job=job)
    assert job.status == JobStatus.DONE, job.report
    assert (job.created_count, job.updated_count, job.rows_total) == (20, 0, 20)
    person = Person.objects.get(id_card_hash=crypto.search_hash(id_card(0)))
    assert person.name == "张0" and crypto.decrypt(person.id_card_encrypted) == id_card(0)
    assert crypto.decrypt(person.phone_encrypted) == "13800130000"
    assert person.grid.code == "G-A-S" and person.categories == ["floating"]
    assert person.birth_date.isoformat() == "1990-01-01" and person.gender == "female"  # ID card: 17th digit even
    assert AuditEntry.objects.filter(action=AuditEntry.Action.IMPORT, target="layers.people").count() == 1


def test_gbk_csv_is_detected(territory):
    job = import_run(job=job_for(csv_bytes([PEOPLE_HEADER, *people_rows(3)], "gbk"), "gbk.csv", "people"))
    assert job.status == JobStatus.DONE, job.report
    assert Person.objects.filter(name="张1").exists()
    assert any("GB18030" in e["problem"] for e in job.report)


def test_reimport_updates_instead_of_duplicating(territory):
    import_run(job=job_for(csv_bytes([PEOPLE_HEADER, *people_rows(10)]), "a.csv", "people"))
    rows = people_rows(12)
    rows[0][0] = "张零"
    job = import_run(job=job_for(csv_bytes([PEOPLE_HEADER, *rows]), "b.csv", "people"))
    assert (job.created_count, job.updated_count) == (2, 10)
    assert Person.objects.count() == 12
    assert Person.objects.get(id_card_hash=crypto.search_hash(id_card(0))).name == "张零"


def test_dry_run_writes_nothing_and_reports(territory):
    rows = people_rows(5)
    rows[2][1] = rows[2][1][:-1] + ("0" if rows[2][1][-1] != "0" else "1")  # wrong check digit
    job = import_run(job=job_for(csv_bytes([PEOPLE_HEADER, *rows]), "d.csv", "people", dry_run=True))
    assert job.status == JobStatus.DONE and Person.objects.count() == 0
    assert [(e["row"], e["column"]) for e in job.report if e["level"] == "error"] == [(4, "身份证号")]
    job = import_run(job=job_for(csv_bytes([PEOPLE_HEADER, *people_rows(5)]), "d.csv", "people", dry_run=True))
    assert (job.created_count, Person.objects.count()) == (5, 0)


def test_xlsx_imports_places(territory):
    book = Workbook()
    sheet = book.active
    sheet.append(["编码", "名称", "类型", "地址", "经度", "纬度"])
    sheet.append(["P1", "老王面馆", "餐饮", "甲街道1号", 109.93, 35.19])
    sheet.append(["P2", "乙镇超市", "购物", "乙镇2号", 109.97, 35.22])
    buffer = io.BytesIO()
    book.save(buffer)
    job = import_run(job=job_for(buffer.getvalue(), "places.xlsx", "places"))
    assert job.status == JobStatus.DONE, job.report
    assert dict(Place.objects.values_list("code", "grid__code")) == {"P1": "G-A-S", "P2": "G-B-N"}
    assert Place.objects.get(code="P1").kind == Place.Kind.DINING


def _write_things(target: Path, points, *, encoding: str, prj: bool) -> None:
    pyogrio.raw.write(
        target,
        shapely.to_wkb(points),
        [
            np.array(["T1", "T2"], dtype=object),
            np.array(["路口消防栓", "东街路灯"], dtype=object),
            np.array(["消防栓", "路灯"], dtype=object),
        ],
        ["code", "name", "kind"],
        driver="ESRI Shapefile",
        geometry_type="Point",
        crs="EPSG:4326" if prj else None,
        encoding=encoding,
    )


def _shapefile_zip(tmp_path: Path, *, encoding: str, cpg: bool = True, prj: bool = True) -> bytes:
    folder = tmp_path / f"shp-{encoding}-{cpg}-{prj}"
    folder.mkdir()
    target = folder / "things.shp"
    points = shapely.points([[109.92, 35.17], [109.98, 35.23]])
    with warnings.catch_warnings():  # pyogrio warns that a file without crs has no .prj: that is the point
        warnings.simplefilter("ignore", UserWarning)
        _write_things(target, points, encoding=encoding, prj=prj)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in folder.iterdir():
            if (part.suffix == ".cpg" and not cpg) or (part.suffix == ".prj" and not prj):
                continue
            archive.write(part, part.name)
    return buffer.getvalue()


@pytest.mark.parametrize("encoding,cpg", [("UTF-8", True), ("GBK", True), ("GBK", False), ("UTF-8", False)])
def test_zipped_shapefile_imports_with_or_without_cpg(territory, tmp_path, encoding, cpg):
    job = import_run(job=job_for(_shapefile_zip(tmp_path, encoding=encoding, cpg=cpg), "t.zip", "things"))
    assert job.status == JobStatus.DONE, job.report
    assert dict(Thing.objects.values_list("name", "grid__code")) == {"路口消防栓": "G-A-S", "东街路灯": "G-B-N"}
    assert Thing.objects.get(code="T2").kind == Thing.Kind.STREET_LIGHT


def _short_named_shapefile_zip(tmp_path: Path, field_map: str | None) -> bytes:
    """Things as our Shapefile exports write them: shortened DBF names, fields.csv (when given) beside them."""
    target = tmp_path / "things.shp"
    pyogrio.raw.write(
        target,
        shapely.to_wkb(shapely.points([[109.92, 35.17], [109.98, 35.23]])),
        [np.array(v, dtype=object) for v in (["T1", "T2"], ["路口消防栓", "东街路灯"], ["消防栓", "路灯"])],
        ["thing_cod", "thing_nam", "thing_kin"],
        driver="ESRI Shapefile",
        geometry_type="Point",
        crs="EPSG:4326",
        encoding="UTF-8",
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part in tmp_path.glob("things.*"):
            archive.write(part, part.name)
        if field_map is not None:
            archive.writestr("fields.csv", field_map.encode("utf-8-sig"))
    return buffer.getvalue()


def test_shapefile_fields_csv_restores_the_original_column_names(territory, tmp_path):
    # the header of layers.io.exports' fields.csv: original name, shortened name, title
    field_map = "field,shapefile_field,title\r\ncode,thing_cod,编码\r\nname,thing_nam,名称\r\nkind,thing_kin,种类\r\n"
    job = import_run(job=job_for(_short_named_shapefile_zip(tmp_path, field_map), "t.zip", "things"))
    assert job.status == JobStatus.DONE, job.report
    assert dict(Thing.objects.values_list("code", "name")) == {"T1": "路口消防栓", "T2": "东街路灯"}
    assert Thing.objects.get(code="T2").kind == Thing.Kind.STREET_LIGHT


@pytest.mark.parametrize("field_map", [None, "a,b,c\r\ncode,thing_cod,x\r\n"], ids=["no fields.csv", "not ours"])
def test_shapefile_without_our_fields_csv_keeps_its_column_names(territory, tmp_path, field_map):
    from layers.io.readers import read_table

    path = tmp_path / "t.zip"
    path.write_bytes(_short_named_shapefile_zip(tmp_path, field_map))
    assert read_table(path, max_bytes=10**7).columns == ["thing_cod", "thing_nam", "thing_kin"]


KML = """<?xml version="1.0" encoding="utf-8" ?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Schema name="things" id="things">
  <SimpleField name="code" type="string"></SimpleField><SimpleField name="kind" type="string"></SimpleField>
</Schema>
<Folder><name>things</name>
{placemarks}
</Folder></Document></kml>
"""
PLACEMARK = """<Placemark><name>{name}</name>
  <ExtendedData><SchemaData schemaUrl="#things">
    <SimpleData name="code">{code}</SimpleData><SimpleData name="kind">{kind}</SimpleData>
  </SchemaData></ExtendedData>
  <Point><coordinates>{lon},{lat}</coordinates></Point>
</Placemark>"""


def test_kml_imports_with_the_placemark_name_as_name(territory):
    placemarks = "\n".join(
        PLACEMARK.format(code=code, name=name, kind=kind, lon=lon, lat=lat)
        for code, name, kind, lon, lat in [
            ("T1", "路口消防栓", "消防栓", 109.92, 35.17),
            ("T2", "东街路灯", "路灯", 109.98, 35.23),
        ]
    )
    job = import_run(job=job_for(KML.format(placemarks=placemarks).encode(), "things.kml", "things"))
    assert job.status == JobStatus.DONE, job.report
    assert dict(Thing.objects.values_list("name", "grid__code")) == {"路口消防栓": "G-A-S", "东街路灯": "G-B-N"}
    assert Thing.objects.get(code="T2").kind == Thing.Kind.STREET_LIGHT


def test_geopackage_and_geojson_import(territory, tmp_path):
    gpkg = tmp_path / "orgs.gpkg"
    polygon = shapely.box(109.955, 35.205, 109.965, 35.215)
    pyogrio.raw.write(
        gpkg,
        shapely.to_wkb(np.array([polygon])),
        [
            np.array([credit_code(1)], dtype=object),
            np.array(
                [
                    "乙镇物流园",
                ],
                dtype=object,
            ),
        ],
        ["code", "name"],
        driver="GPKG",
        geometry_type="Polygon",
        crs="EPSG:4326",
    )
    job = import_run(job=job_for(gpkg.read_bytes(), "orgs.gpkg", "organizations"))
    assert job.status == JobStatus.DONE, job.report
    org = Organization.objects.get(code=credit_code(1))
    assert org.grid.code == "G-B-N" and org.geometry.geom_type == "Polygon"
    geojson = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [109.94, 35.24]},
                "properties": {"code": "H1", "address": "甲社区3栋"},
            }
        ],
    }
    job = import_run(job=job_for(json.dumps(geojson, ensure_ascii=False).encode(), "h.geojson", "households"))
    assert job.status == JobStatus.DONE, job.report
    assert job.created_count == 1


def test_gcj02_file_lands_at_the_wgs84_point(territory):
    lon, lat = 109.93, 35.19
    g_lon, g_lat = from_wgs84(lon, lat, "gcj02")
    content = csv_bytes([["编码", "名称", "经度", "纬度"], ["P9", "驿站", f"{g_lon:.9f}", f"{g_lat:.9f}"]])
    job = import_run(job=job_for(content, "g.csv", "places", crs="gcj02"))
    assert job.status == JobStatus.DONE, job.report
    point = Place.objects.get(code="P9").location
    assert abs(point.x - lon) < 1e-7 and abs(point.y - lat) < 1e-7  # vs ~500 m offset uncorrected


def test_transport_preset_creates_truck_drivers_and_their_companies(territory):
    rows = [
        ["姓名", "身份证号", "手机号", "从业类型", "所属企业", "统一社会信用代码", "车牌号", "经度", "纬度"],
        [
            "李师傅",
            id_card(1),
            "13900000001",
            "货车司机",
            "秦川货运有限公司",
            credit_code(7),
            "陕E12345",
            109.92,
            35.18,
        ],
        ["王师傅", id_card(2), "13900000002", "", "秦川货运有限公司", credit_code(7), "陕E54321", 109.97, 35.18],
    ]
    job = import_run(job=job_for(csv_bytes(rows, "gbk"), "交通.csv", "people", preset="transport"))
    assert job.status == JobStatus.DONE, job.report
    company = Organization.objects.get(code=credit_code(7))
    assert company.name == "秦川货运有限公司" and company.kind == Organization.Kind.ENTERPRISE
    drivers = Person.objects.filter(employer=company)
    assert drivers.count() == 2
    assert {p.work_kind for p in drivers} == {WorkKind.TRUCK_DRIVER}
    assert all("gig_worker" in p.categories for p in drivers)


def _assert_nothing_written(job: ImportJob, words: str):
    assert job.status == JobStatus.FAILED
    assert Person.objects.count() == 0 and Place.objects.count() == 0 and Thing.objects.count() == 0
    text = " ".join(e["problem"] for e in job.report)
    assert words in text, job.report


def test_wrong_columns_are_named(territory):
    job = import_run(job=job_for(csv_bytes([["名字", "证件", "经度", "纬度"], ["x", "y", 1, 2]]), "w.csv", "people"))
    _assert_nothing_written(job, "姓名")
    assert any(e["column"] == "身份证号" for e in job.report)


def test_bad_coordinates_write_nothing(territory):
    rows = [
        ["编码", "名称", "经度", "纬度"],
        ["P1", "a", 109.93, 35.19],
        ["P2", "b", "东经109", 35.19],
        ["P3", "c", 200, 35.19],
        ["P4", "d", 120.0, 30.0],
    ]
    job = import_run(job=job_for(csv_bytes(rows), "c.csv", "places"))
    _assert_nothing_written(job, "不是数字")
    problems = {e["row"]: e["problem"] for e in job.report if e["level"] == "error"}
    assert set(problems) == {3, 4} and "超出 -180" in problems[4]


def test_point_outside_the_dispatchers_area_is_refused(territory, people):
    rows = [
        ["编码", "名称", "经度", "纬度"],
        ["P1", "a", 109.93, 35.19],
        ["P2", "b", 109.97, 35.19],
        ["P3", "c", 120.0, 30.0],
    ]
    job = import_run(job=job_for(csv_bytes(rows), "s.csv", "places", people["dispatcher_a"]))
    _assert_nothing_written(job, "不在您的负责区域内")
    assert {e["row"] for e in job.report if e["level"] == "error"} == {3, 4}


def test_broken_zip_and_shapefile_without_prj(territory, tmp_path):
    good = _shapefile_zip(tmp_path, encoding="UTF-8")
    job = import_run(job=job_for(good[: len(good) // 2], "broken.zip", "things"))
    _assert_nothing_written(job, "zip")
    job = import_run(job=job_for(_shapefile_zip(tmp_path, encoding="UTF-8", prj=False), "noprj.zip", "things", crs=""))
    _assert_nothing_written(job, ".prj")
    # named explicitly, the coordinate system is known
    job = import_run(
        job=job_for(_shapefile_zip(tmp_path, encoding="GBK", prj=False), "noprj.zip", "things", crs="wgs84")
    )
    assert job.status == JobStatus.DONE, job.report


def test_too_large_file_is_refused(territory, settings):
    settings.IMPORT_MAX_BYTES = 200
    job = import_run(job=job_for(csv_bytes([PEOPLE_HEADER, *people_rows(20)]), "big.csv", "people"))
    _assert_nothing_written(job, "导入文件最大为")


def test_all_or_nothing_with_one_bad_row(territory):
    rows = people_rows(30)
    rows[29][1] = "12345"
    job = import_run(job=job_for(csv_bytes([PEOPLE_HEADER, *rows]), "x.csv", "people"))
    _assert_nothing_written(job, "不是 18 位身份证号")


@pytest.mark.urls(__name__)
def test_api_flow_and_task_idempotence(territory, people, api_as, django_capture_on_commit_callbacks):
    client = api_as(people["admin"])
    upload = ContentFile(csv_bytes([PEOPLE_HEADER, *people_rows(6)]), name="feed.csv")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            "/api/v1/imports/", {"file": upload, "layer": "people", "dry_run": "false"}, format="multipart"
        )
    assert response.status_code == 201, response.content
    assert len(callbacks) == 1
    job_id = response.json()["id"]
    assert response.json()["status"] == JobStatus.PENDING
    assert import_run_task(job_id=job_id) == JobStatus.DONE
    body = client.get(f"/api/v1/imports/{job_id}/").json()
    assert (body["status"], body["progress"], body["created_count"]) == (JobStatus.DONE, 1.0, 6)
    # a redelivery changes nothing
    before = list(Person.objects.order_by("pk").values_list("pk", "modified"))
    import_run_task(job_id=job_id)
    assert list(Person.objects.order_by("pk").values_list("pk", "modified")) == before
    assert ImportJob.objects.get(pk=job_id).created_count == 6
    # another account does not see the job
    assert api_as(people["dispatcher_a"]).get(f"/api/v1/imports/{job_id}/").status_code == 404


@pytest.mark.urls(__name__)
def test_api_refuses_bad_input(territory, people, api_as):
    client = api_as(people["admin"])

    def post(**data):
        data.setdefault("file", ContentFile(b"a,b\n1,2\n", name="f.csv"))
        return client.post("/api/v1/imports/", data, format="multipart")

    assert post(layer="aliens").status_code == 400
    assert "mapping" in post(layer="people", mapping='{"姓名": "nickname"}').json()
    assert "mapping" in post(layer="people", mapping="{not json").json()
    assert "preset" in post(layer="places", preset="transport").json()
    assert "crs" in post(layer="people", crs="mars").json()
    assert "file" in post(layer="people", file=ContentFile(b"x", name="f.exe")).json()
    assert api_as(people["resident"]).post("/api/v1/imports/", {"layer": "people"}).status_code == 403
    assert ImportJob.objects.count() == 0
