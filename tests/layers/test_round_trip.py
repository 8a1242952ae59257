"""Round trip: import → export → import leaves the register as it was, for every format the importer reads back.

Each case imports a small CSV with Chinese text into the `territory`, exports the layer as a superuser (who has
clearance, so ID-card numbers and phones come out in full), imports the exported file again and compares the
register before and after: the same rows (the re-import updates, creates nothing), the same values, the same
points within 1e-7°.

No case needs a hand-written mapping: the importer matches the exported columns by itself, a Shapefile's
shortened DBF names restored from the fields.csv in its zip, KML's placemark Name read back as `name`.
"""

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.core.files.base import ContentFile
from django.utils import translation
from pyogrio import raw

from grid.models import Role
from layers import crypto
from layers.io.exports import export_run
from layers.io.imports import import_run
from layers.io.mapping import resolve_mapping
from layers.io.readers import read_table
from layers.io.specs import IMPORTS
from layers.models import ExportJob, ImportJob, JobStatus, Organization, Person, Place, Thing
from tests.factories import UserFactory
from tests.layers.test_imports import credit_code, csv_bytes, id_card

FORMATS = ["shp", "gpkg", "geojson", "csv", "kml"]

# Export attributes whose names the importer does not match on its own: the export writes the employer's
# and the parent's name/code under the registry's attribute name, the import expects its own target name.
RENAMED = {
    "people": {"employer": "employer_name"},
    "organizations": {"parent": "parent_code"},
}

SEEDS = {
    "places": [
        ["编码", "名称", "类型", "地址", "电话", "经度", "纬度"],
        ["P-001", "甲社区卫生服务站", "医疗", "测试县甲街道1号", "0913-1234567", 109.9112345, 35.1612345],
        ["P-002", "老王面馆（北店）", "餐饮", "测试县甲街道“二号”院", "", 109.9323456, 35.2223456],
        ["P-003", "乙村便民超市, 二店", "商超", "", "13800138000", 109.9634567, 35.1734567],
        ["P-004", "乙村小学", "学校", "测试县乙镇乙村", "", 109.9845678, 35.2345678],
    ],
    "things": [
        ["编码", "名称", "种类", "状态", "经度", "纬度"],
        ["T-001", "一号消防栓", "消防栓", "正常", 109.9111111, 35.1611111],
        ["T-002", "路口摄像头（东）", "摄像头", "损坏", 109.9622222, 35.2122222],
        ["T-003", "乙村井盖", "井盖", "报废", 109.9733333, 35.2233333],
    ],
    "organizations": [
        ["编码", "名称", "类型", "上级组织代码", "地址", "电话", "经度", "纬度"],
        ["D-001", "测试县甲街道党委", "党委", "", "甲街道政府", "0913-7654321", 109.9211111, 35.1711111],
        ["D-002", "甲社区党支部", "党支部", "D-001", "甲社区服务中心", "", 109.9322222, 35.2122222],
        [credit_code(7), "乙村快递驿站有限公司", "企业", "", "乙村路口", "", 109.9733333, 35.1833333],
    ],
    "people": [
        ["姓名", "身份证号", "手机号", "性别", "经度", "纬度", "人员类别", "平台", "从业类型", "所属企业", "流动党员"],
        ["张三", id_card(1), "13812345678", "男", 109.9123456, 35.1623456, "户籍人口、党员", "", "", "", "是"],
        ["李四", id_card(2), "", "女", 109.9634567, 35.2234567, "流动人口", "美团", "外卖骑手", "乙村配送站", "否"],
        [
            "欧阳娜娜",
            id_card(3),
            "13900001111",
            "",
            109.9745678,
            35.1745678,
            "新就业形态劳动者",
            "顺丰",
            "快递员",
            "",
            "",
        ],
    ],
}

FIELDS = {
    "places": ("code", "name", "kind", "address", "phone", "grid__code"),
    "things": ("code", "name", "kind", "condition", "grid__code"),
    "organizations": ("code", "name", "kind", "parent__code", "address", "phone", "grid__code"),
    "people": (
        "name",
        "gender",
        "birth_date",
        "id_card_hash",
        "phone_hash",
        "categories",
        "platform",
        "work_kind",
        "employer__name",
        "mobile_member",
        "member_code",
        "grid__code",
    ),
}
SEEDED = {  # key, field, value: values the seed must have set, so that comparing them means something
    "organizations": [("D-002", "parent__code", "D-001"), ("D-001", "kind", "party_committee")],
    "people": [
        (id_card(1), "mobile_member", True),
        (id_card(1), "categories", ["party_member", "registered"]),
        (id_card(2), "employer__name", "乙村配送站"),
        (id_card(2), "work_kind", "food_delivery"),
    ],
}
MODELS = {"places": Place, "things": Thing, "organizations": Organization, "people": Person}


@pytest.fixture(autouse=True)
def media(settings, tmp_path_factory):
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", role=Role.ADMINISTRATOR, is_superuser=True, sensitive_clearance=True)


def register(layer: str) -> dict[str, dict]:
    """The layer's rows by key, with every compared value; personal ones decrypted."""
    model = MODELS[layer]
    point = "geometry" if layer == "organizations" else "location"
    rows = {}
    for obj in model.objects.select_related(*{f.split("__")[0] for f in FIELDS[layer] if "__" in f}).order_by("pk"):
        values = {}
        for name in FIELDS[layer]:
            value = obj
            for part in name.split("__"):
                value = getattr(value, part, None) if value is not None else None
            values[name] = value
        geometry = getattr(obj, point)
        values["xy"] = (geometry.x, geometry.y) if geometry is not None else None
        if layer == "people":
            values["id_card"] = crypto.decrypt(obj.id_card_encrypted)
            values["phone"] = crypto.decrypt(obj.phone_encrypted) if obj.phone_encrypted else ""
            key = values["id_card"]
        else:
            key = obj.code
        rows[key] = values
    return rows


def import_file(content: bytes, name: str, layer: str, user, mapping: dict | None = None) -> ImportJob:
    job = ImportJob(layer=layer, original_name=name, created_by=user, mapping=mapping or {})
    job.source.save(name, ContentFile(content), save=False)
    job.save()
    return import_run(job=job)


def columns_of(job: ExportJob) -> tuple[list[str], bool]:
    """The exported file's columns as the importer's reader gives them (a Shapefile's restored from fields.csv)."""
    path = Path(job.file.path)
    table = read_table(path, name=path.name, max_bytes=path.stat().st_size + 1)
    return table.columns, table.geometries is not None


def mapping_for(layer: str, job: ExportJob) -> dict | None:
    """None when the importer matches the export's columns by itself; else the mapping it would need."""
    columns, has_geometry = columns_of(job)
    targets = {t.name for t in IMPORTS[layer].targets}
    # what each column should become: its attribute name, renamed where needed
    wanted = {}
    for column in columns:
        target = RENAMED.get(layer, {}).get(column, column)
        if target in targets:
            wanted[column] = target
    if "X" in columns:
        wanted.update({"X": "lon", "Y": "lat"})  # a CSV of points: GDAL's GEOMETRY=AS_XY columns
    automatic = resolve_mapping(layer=layer, columns=columns, has_geometry=has_geometry).columns
    return None if automatic == wanted else wanted


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("layer", ["places", "things", "organizations", "people"])
def test_round_trip_keeps_the_register(territory, superuser, layer, fmt):
    # given: a register filled from a department CSV with Chinese text
    first = import_file(csv_bytes(SEEDS[layer], "utf-8-sig"), f"{layer}.csv", layer, superuser)
    assert first.status == JobStatus.DONE, first.report
    before = register(layer)
    assert len(before) == len(SEEDS[layer]) - 1 and all(r["grid__code"] for r in before.values())
    for key, name, value in SEEDED.get(layer, ()):  # the seed filled the fields the comparison relies on
        assert before[key][name] == value

    # when: exported by an account with clearance, and the export imported again
    export = export_run(job=ExportJob.objects.create(created_by=superuser, layer=layer, format=fmt, filters={}))
    assert export.status == JobStatus.DONE, export.error
    # the importer's automatic mapping matches every exported attribute (a Shapefile's via fields.csv): no mapping
    assert mapping_for(layer, export) is None
    again = import_file(Path(export.file.path).read_bytes(), Path(export.file.name).name, layer, superuser)

    # then: every row updated, none created, every value as it was
    assert again.status == JobStatus.DONE, again.report
    assert (again.created_count, again.updated_count) == (0, len(before)), again.report
    after = register(layer)
    assert after.keys() == before.keys()
    for key, old in before.items():
        new = after[key]
        assert new["xy"] == pytest.approx(old["xy"], abs=1e-7), key
        assert {k: v for k, v in new.items() if k != "xy"} == {k: v for k, v in old.items() if k != "xy"}, key


def test_people_round_trip_exports_full_personal_values(territory, superuser):
    # the clearance (superuser) export holds the ID-card numbers and phones in full, not masked
    import_file(csv_bytes(SEEDS["people"], "utf-8-sig"), "people.csv", "people", superuser)
    export = export_run(job=ExportJob.objects.create(created_by=superuser, layer="people", format="csv", filters={}))
    rows = list(csv.DictReader(io.StringIO(Path(export.file.path).read_bytes().decode("utf-8-sig"))))
    assert sorted(r["id_card"] for r in rows) == sorted(row[1] for row in SEEDS["people"][1:])
    assert {r["phone"] for r in rows} == {"13812345678", "", "13900001111"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_organizations_with_polygons_round_trip(territory, superuser, fmt):
    # given: an office (a point) and a compound (a polygon), imported from a CSV with a WKT column
    seed = [
        ["编码", "名称", "类型", "WKT"],
        ["D-101", "甲社区党委", "党委", "POINT (109.9211111 35.1711111)"],
        ["D-102", "乙村物流园", "企业", "POLYGON ((109.96 35.16, 109.97 35.16, 109.97 35.17, 109.96 35.16))"],
    ]
    first = import_file(csv_bytes(seed, "utf-8-sig"), "orgs.csv", "organizations", superuser)
    assert first.status == JobStatus.DONE, first.report
    before = {o.code: (o.name, o.kind, o.geometry.wkt) for o in Organization.objects.all()}
    assert before["D-102"][2].startswith("POLYGON")

    export = export_run(
        job=ExportJob.objects.create(created_by=superuser, layer="organizations", format=fmt, filters={})
    )
    assert mapping_for("organizations", export) is None
    again = import_file(Path(export.file.path).read_bytes(), Path(export.file.name).name, "organizations", superuser)

    assert again.status == JobStatus.DONE, again.report
    assert (again.created_count, again.updated_count) == (0, 2)
    after = {o.code: (o.name, o.kind, o.geometry) for o in Organization.objects.all()}
    for code, (name, kind, wkt) in before.items():
        assert after[code][:2] == (name, kind)
        assert after[code][2].equals_exact(GEOSGeometry(wkt, srid=4326), tolerance=1e-7), code


# --- zips of several Shapefiles -----------------------------------------------------------------------------------


def shapefiles_zip(tmp_path: Path, files: dict[str, tuple[list, dict[str, list], str | None]]) -> bytes:
    """A zip of Shapefiles written by GDAL: name → (WKT geometries, fields, crs or None for no .prj)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for stem, (wkts, fields, crs) in files.items():
            folder = tmp_path / stem
            folder.mkdir()
            geometries = shapely.from_wkt(wkts)
            raw.write(
                str(folder / f"{stem}.shp"),
                shapely.to_wkb(geometries),
                [np.array(v, dtype=object) for v in fields.values()],
                list(fields),
                driver="ESRI Shapefile",
                geometry_type="Unknown" if len({g.geom_type for g in geometries}) > 1 else geometries[0].geom_type,
                crs=crs,
                layer_options={"ENCODING": "UTF-8"},
            )
            for member in folder.iterdir():
                archive.write(member, member.name)
    return buffer.getvalue()


def test_a_zip_of_a_department_s_points_and_polygons_imports_both(territory, superuser, tmp_path):
    # the same fields in another order, as another program may write them; the names sort polygons first
    content = shapefiles_zip(
        tmp_path,
        {
            "b_points": (["POINT (109.92 35.17)"], {"编码": ["D-201"], "名称": ["甲社区党委"]}, "EPSG:4326"),
            "a_areas": (
                ["POLYGON ((109.96 35.16, 109.97 35.16, 109.97 35.17, 109.96 35.16))", "POINT EMPTY"],
                {"名称": ["乙村物流园", "丙公司"], "编码": ["D-202", "D-203"]},
                "EPSG:4326",
            ),
        },
    )
    with translation.override("en"):  # the notes' wording below
        job = import_file(content, "orgs.zip", "organizations", superuser)
    assert job.status == JobStatus.DONE, job.report
    assert job.created_count == 3
    got = {o.code: (o.name, o.geometry) for o in Organization.objects.all()}
    assert got["D-201"][0] == "甲社区党委" and got["D-201"][1].equals(GEOSGeometry("POINT (109.92 35.17)"))
    assert got["D-202"][0] == "乙村物流园" and got["D-202"][1].equals(
        GEOSGeometry("POLYGON ((109.96 35.16, 109.97 35.16, 109.97 35.17, 109.96 35.16))")
    )
    assert got["D-203"] == ("丙公司", None)
    notes = [e["problem"] for e in job.report if e["level"] == "info"]
    assert "Read 2 Shapefiles: a_areas.shp as rows 1–2; b_points.shp as rows 3–3." in notes


@pytest.mark.filterwarnings("ignore:'crs' was not provided")  # the Shapefile without a .prj
@pytest.mark.parametrize(
    "second, words",
    [
        ((["POINT (109.92 35.17)"], {"code": ["X"], "size": ["big"]}, "EPSG:4326"), "different fields"),
        ((["POINT (109.92 35.17)"], {"编码": ["X"], "名称": ["y"]}, None), "different coordinate systems"),
    ],
)
def test_a_zip_of_unrelated_shapefiles_is_refused_with_a_message(territory, superuser, tmp_path, second, words):
    content = shapefiles_zip(
        tmp_path,
        {
            "first": (["POINT (109.93 35.18)"], {"编码": ["D-301"], "名称": ["甲"]}, "EPSG:4326"),
            "second": second,
        },
    )
    with translation.override("en"):
        job = import_file(content, "two.zip", "organizations", superuser)
    assert job.status == JobStatus.FAILED and not Organization.objects.exists()
    message = " ".join(e["problem"] for e in job.report)
    assert words in message and "first.shp" in message and "second.shp" in message, message
