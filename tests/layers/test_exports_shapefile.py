"""The Shapefile writer (numpy, not GDAL's driver) checked against GDAL: the files it writes read back in GDAL's
ogrinfo and in pyogrio exactly as the files GDAL itself writes from the same values."""

import csv
import datetime as dt
import io
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyogrio import raw

from grid.models import Role
from layers.io.exports import export_run, fetch
from layers.io.exports.writers import shapefile
from layers.models import ExportJob
from tests.factories import UserFactory
from tests.layers.helpers import person

LONG = "很长的名字" * 20  # 300 bytes of UTF-8: more than a .dbf field holds (254)


@pytest.fixture(autouse=True)
def media(settings, tmp_path_factory):
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


def ogrinfo(*args: str) -> str:
    done = subprocess.run(["ogrinfo", "-ro", *args], check=True, capture_output=True, text=True)
    assert "ERROR" not in done.stderr, done.stderr
    return done.stdout


def read(path: Path) -> tuple[dict, list, dict[str, list]]:
    meta, _, geometry, data = raw.read(str(path), encoding="UTF-8")
    return meta, list(geometry), {name: values.tolist() for name, values in zip(meta["fields"], data, strict=True)}


def same(a, b) -> bool:
    return a == b or (a != a and b != b)  # NaN is NaN


# Two chunks of every kind of column the exports write, nulls included, as `_export` hands them over.
KINDS = {"id": "int", "name": "text", "born": "date", "member": "bool", "score": "float", "note": "text"}
CHUNKS = [
    {
        "id": (np.array([1, 2, 0], dtype=np.int64), np.array([False, False, True])),
        "name": (np.array(["张三", "欧阳娜娜（北店）", None], dtype=object), None),
        "born": (np.array(["1990-01-02", "NaT", "2001-12-31"], dtype="datetime64[D]"), None),
        "member": (np.array([True, False, False]), np.array([False, False, True])),
        "score": (np.array([1.5, np.nan, -123456.25]), None),
        "note": (np.array(["", "a,b", LONG], dtype=object), None),
    },
    {
        "id": (np.array([12_345_678_901_234, -5], dtype=np.int64), None),
        "name": (np.array(["李", "王五"], dtype=object), None),
        "born": (np.array(["1949-10-01", "1900-01-01"], dtype="datetime64[D]"), None),
        "member": (np.array([False, True]), None),
        "score": (np.array([0.0, 1e15]), None),
        "note": (np.array(["x", "乙村"], dtype=object), None),
    },
]
POINTS = [np.array([[109.91, np.nan, 109.93], [35.16, np.nan, 35.18]]), np.array([[109.94, -0.5], [35.19, 0.25]])]


@pytest.mark.filterwarnings("ignore:Value .* has been truncated")  # GDAL's side of LONG
def test_the_writer_reads_back_in_gdal_as_gdals_own_shapefile(tmp_path):
    # ours: through the export's writer and zip
    fields = [shapefile.DbfField.for_kind(name, kind) for name, kind in KINDS.items()]
    writer = shapefile._ShapefileWriter("ours", fields)
    for chunk, xy in zip(CHUNKS, POINTS, strict=True):
        size = xy.shape[1]
        writer.add(fetch.Chunk(size, {}, xy=xy), [chunk[n][0] for n in KINDS], [chunk[n][1] for n in KINDS])
    archive = tmp_path / "ours.zip"
    shapefile._zip(archive, writer.members())
    with zipfile.ZipFile(archive) as zipped:
        assert zipped.namelist() == ["ours.shp", "ours.shx", "ours.dbf", "ours.prj", "ours.cpg"]
        zipped.extractall(tmp_path)

    # GDAL's: the same values through pyogrio's writer
    def joined(name: str):
        values = np.concatenate([c[name][0] for c in CHUNKS])
        masks = [c[name][1] if c[name][1] is not None else np.zeros(len(c[name][0]), bool) for c in CHUNKS]
        return values, np.concatenate(masks)

    xy = np.hstack(POINTS)
    wkb = np.array([None if np.isnan(x) else shapely.to_wkb(shapely.Point(x, y)) for x, y in xy.T], dtype=object)
    columns = [joined(name) for name in KINDS]
    raw.write(
        str(tmp_path / "gdal.shp"),
        wkb,
        [values for values, _ in columns],
        list(KINDS),
        field_mask=[mask for _, mask in columns],
        driver="ESRI Shapefile",
        geometry_type="Point",
        crs="EPSG:4326",
        layer_options={"ENCODING": "UTF-8"},
    )

    ours, theirs = read(tmp_path / "ours.shp"), read(tmp_path / "gdal.shp")
    for key in ("fields", "ogr_types", "ogr_subtypes", "geometry_type", "crs", "encoding"):
        assert list(ours[0][key]) == list(theirs[0][key]), key
    assert ours[1] == theirs[1]  # the same points, the null one included
    for name in KINDS:
        assert all(same(a, b) for a, b in zip(ours[2][name], theirs[2][name], strict=True)), name
    # and what that is, by hand: nulls, Chinese text, text cut at a character boundary
    assert ours[2]["name"] == ["张三", "欧阳娜娜（北店）", None, "李", "王五"]
    assert ours[2]["id"][:2] == [1, 2] and ours[2]["id"][2] != ours[2]["id"][2]
    assert ours[2]["id"][3] == 12_345_678_901_234
    assert ours[2]["note"][2] == LONG[:84]  # 84 characters × 3 bytes = 252 ≤ 254
    assert ours[1][1] is None and shapely.from_wkb(ours[1][4]).coords[0] == (-0.5, 0.25)
    assert (tmp_path / "ours.prj").read_text() == (tmp_path / "gdal.prj").read_text()

    # the system's GDAL (another version) reads it too, with its own reader
    summary = ogrinfo("-al", "-so", str(tmp_path / "ours.shp"))
    assert "Feature Count: 5" in summary and "Geometry: Point" in summary
    assert "Extent: (-0.500000, 0.250000) - (109.940000, 35.190000)" in summary
    everything = ogrinfo("-al", str(tmp_path / "ours.shp"))
    assert "欧阳娜娜（北店）" in everything and "born (Date) = 1949/10/01" in everything


@pytest.fixture
def register(territory):
    zhang = person(
        "张三",
        "A-S",
        ["registered", "party_member"],
        id_card="610526199001011234",
        phone="13812345678",
        birth_date=dt.date(1990, 1, 1),
        mobile_member=True,
    )
    li = person("李四", "A-N", ["veteran"], id_card="610526198502023456", platform="美团", work_kind="food_delivery")
    nobody = person("王五", "B-S", ["floating"], id_card="610526197003034567")
    nobody.location = None
    nobody.save()
    return [zhang, li, nobody]


def _unzip(job: ExportJob, folder: Path) -> tuple[Path, dict[str, str]]:
    with zipfile.ZipFile(job.file.path) as zipped:
        zipped.extractall(folder)
        fields = csv.DictReader(io.StringIO(zipped.read("fields.csv").decode("utf-8-sig")))
    return next(folder.glob("*.shp")), {row["shapefile_field"]: row["field"] for row in fields}


@pytest.mark.parametrize("chunk", [2, fetch.CHUNK])
@pytest.mark.parametrize("cleared", [False, True])
def test_a_shapefile_holds_what_gdals_geopackage_holds(register, people, tmp_path, monkeypatch, chunk, cleared):
    # small chunks: rows fetched two at a time, text fields widened from one chunk to the next
    monkeypatch.setattr(fetch, "CHUNK", chunk)
    user = UserFactory(role=Role.ADMINISTRATOR, areas=[people["admin"].areas.get()], sensitive_clearance=cleared)
    shp = export_run(job=ExportJob.objects.create(created_by=user, layer="people", format="shp", filters={}))
    gpkg = export_run(job=ExportJob.objects.create(created_by=user, layer="people", format="gpkg", filters={}))
    assert shp.status == gpkg.status == "done" and shp.feature_count == gpkg.feature_count == 3

    path, long_names = _unzip(shp, tmp_path)
    meta, geometry, ours = read(path)
    gmeta, ggeometry, theirs = read(Path(gpkg.file.path))
    assert [long_names[name] for name in meta["fields"]] == list(gmeta["fields"])
    assert geometry == ggeometry  # the same points, the person without one a null shape
    for name, values in ours.items():
        # a .dbf has no null text: empty and null read back alike
        expected = [None if v == "" else v for v in theirs[long_names[name]]]
        assert all(same(a, b) for a, b in zip(values, expected, strict=True)), name
    by_name = {values: i for i, values in enumerate(ours["name"])}
    zhang = by_name["张三"]
    assert ours["id_card"][zhang] == ("610526199001011234" if cleared else "**************1234")
    assert ours["categories"][zhang] == "registered,party_member" and ours["mobile_mem"][zhang] in (True, 1)
    assert ours["birth_date"][zhang] == ("1990-01-01" if cleared else "1990-1999")
    assert geometry[by_name["王五"]] is None
    assert "Feature Count: 3" in ogrinfo("-al", "-so", str(path))


def test_an_empty_shapefile_export_still_has_its_fields(register, people, tmp_path):
    job = export_run(job=ExportJob.objects.create(created_by=people["admin"], layer="places", format="shp", filters={}))
    assert job.status == "done" and job.feature_count == 0
    path, _ = _unzip(job, tmp_path)
    summary = ogrinfo("-al", "-so", str(path))
    assert "Feature Count: 0" in summary and "name: String" in summary and "id: Integer64" in summary
