"""The staged import path (layers.io.imports.staged) for places, things and households: the same rows, report and
behaviour as the row-by-row path, checked against hand-made expectations and against that path itself."""

import csv
import io
import random

import pytest
import shapely
from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext

from grid.crs import from_wgs84
from layers.io.imports import import_run, staged_locate, staged_write
from layers.io.imports import staged as staging
from layers.io.specs import IMPORTS
from layers.models import Household, ImportJob, JobStatus, Place, Thing

PLACE_HEADER = ["编码", "名称", "类型", "地址", "电话", "经度", "纬度"]
# the territory (tests/conftest.py): x 109.90 | 109.95 | 110.00, y 35.15 | 35.20 | 35.25;
# codes G-A-N < G-A-S < G-B-N < G-B-S, so on a shared edge the A grid wins, and the north one on A's own
GRIDS = {
    "G-A-S": (109.90, 35.15, 109.95, 35.20),
    "G-A-N": (109.90, 35.20, 109.95, 35.25),
    "G-B-S": (109.95, 35.15, 110.00, 35.20),
    "G-B-N": (109.95, 35.20, 110.00, 35.25),
}


def csv_bytes(rows: list[list], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def job_for(content: bytes, name: str, layer: str, user=None, **fields) -> ImportJob:
    job = ImportJob(layer=layer, original_name=name, created_by=user, **fields)
    job.source.save(name, ContentFile(content), save=False)
    job.save()
    return job


@pytest.fixture
def staged(monkeypatch):
    """Counts the imports that took the staged path."""
    calls = []
    validate = staging.validate

    def spy(*args, **kwargs):
        calls.append(args[0])
        return validate(*args, **kwargs)

    monkeypatch.setattr(staging, "validate", spy)
    return calls


def expected_grid(lon: float, lat: float) -> str | None:
    """Independently of PostGIS: the lowest code among the grids whose box covers the point (shapely)."""
    point = shapely.Point(lon, lat)
    covering = sorted(code for code, box in GRIDS.items() if shapely.box(*box).covers(point))
    return covering[0] if covering else None


def places() -> list[tuple]:
    return sorted(
        (
            p.code,
            p.name,
            p.kind,
            p.address,
            p.phone,
            round(p.location.x, 9),
            round(p.location.y, 9),
            p.grid and p.grid.code,
        )
        for p in Place.objects.select_related("grid")
    )


def both_paths(monkeypatch, make_job, snapshot=places, **run) -> list[tuple]:
    """(job, rows) of the row-by-row path, then of the staged path, from the same starting state."""
    results = []
    for path in ("rows", "staged"):
        savepoint = transaction.savepoint()
        with monkeypatch.context() as patch:
            if path == "rows":
                patch.setattr(staging, "fits", lambda layer, table: False)
            job = import_run(job=make_job(), **run)
        results.append((job, snapshot()))
        transaction.savepoint_rollback(savepoint)
    return results


def test_grids_on_shared_edges_updates_by_code_and_the_same_rows_as_row_by_row(territory, monkeypatch, staged):
    # given a stored place P2 (to be updated; its empty cells keep the stored values) and points on edges
    Place.objects.create(
        code="P2", name="旧名", kind="shopping", address="旧地址", phone="0913-1234567", location=Point(109.91, 35.16)
    )
    rows = [
        PLACE_HEADER,
        ["P1", "甲", "餐饮", "一号", "", 109.95, 35.17],  # on the A-S | B-S edge: G-A-S
        ["P2", "新名", "", "", "", 109.97, 35.20],  # on the B-S | B-N edge: G-B-N; address and phone kept
        ["P3", "丙", "其他", " 三号 ", "", 109.95, 35.20],  # the corner of all four: G-A-N
        ["P4", "丁", "", "", "", 109.90, 35.15],  # the territory's corner: G-A-S
        ["P5", "戊", "学校", "", "", "109.99", "35.24"],  # inside G-B-N
    ]
    [(old_job, old_rows), (job, new_rows)] = both_paths(
        monkeypatch, lambda: job_for(csv_bytes([*rows]), "edges.csv", "places")
    )
    assert job.status == JobStatus.DONE and old_job.status == JobStatus.DONE, job.report
    assert staged == ["places"]  # once: the second run
    assert (job.created_count, job.updated_count) == (old_job.created_count, old_job.updated_count) == (4, 1)
    expected = [
        ("P1", "甲", "dining", "一号", "", 109.95, 35.17, "G-A-S"),
        ("P2", "新名", "other", "旧地址", "0913-1234567", 109.97, 35.2, "G-B-N"),  # an empty kind is the default
        ("P3", "丙", "other", "三号", "", 109.95, 35.2, "G-A-N"),
        ("P4", "丁", "other", "", "", 109.9, 35.15, "G-A-S"),
        ("P5", "戊", "education", "", "", 109.99, 35.24, "G-B-N"),
    ]
    assert new_rows == old_rows == expected
    assert all(expected_grid(x, y) == grid for *_r, x, y, grid in expected)
    assert job.report == old_job.report


def test_many_points_take_the_indexed_join_and_match_shapely(territory, staged):
    # more rows than INDEX_FROM, a tenth of them exactly on grid edges
    rng = random.Random(4)
    rows = [PLACE_HEADER]
    for i in range(staged_locate.INDEX_FROM + 500):
        if i % 10 == 0:
            x, y = rng.choice([109.90, 109.95, 110.00]), round(rng.uniform(35.15, 35.25), 6)
        else:
            x, y = round(rng.uniform(109.90, 110.00), 6), round(rng.uniform(35.15, 35.25), 6)
        rows.append([f"Q{i:06d}", f"场所{i}", "", "", "", x, y])
    job = import_run(job=job_for(csv_bytes(rows), "many.csv", "places"))
    assert job.status == JobStatus.DONE, job.report[:5]
    assert staged == ["places"] and job.created_count == len(rows) - 1
    found = dict(Place.objects.values_list("code", "grid__code"))
    assert {r[0]: expected_grid(r[5], r[6]) for r in rows[1:]} == found


def test_a_bad_coordinate_in_the_middle_of_a_big_file(territory, staged):
    rows = [PLACE_HEADER] + [
        [f"B{i:06d}", f"场所{i}", "餐饮", "", "", 109.91 + (i % 80) * 0.001, 35.16 + (i % 90) * 0.001]
        for i in range(staged_locate.INDEX_FROM + 1000)
    ]
    rows[15_000][6] = "95.5"  # file line 15,001 (the header is line 1)
    content = csv_bytes(rows)

    dry = import_run(job=job_for(content, "big.csv", "places", dry_run=True))
    errors = [e for e in dry.report if e["level"] == "error"]
    assert dry.status == JobStatus.DONE and (dry.created_count, dry.updated_count) == (0, 0)
    assert [(e["row"], e["column"]) for e in errors] == [(15_001, "纬度")]
    assert "95.5" in errors[0]["problem"]

    real = import_run(job=job_for(content, "big.csv", "places"))
    assert real.status == JobStatus.FAILED and Place.objects.count() == 0
    assert [(e["row"], e["column"]) for e in real.report if e["level"] == "error"] == [(15_001, "纬度")]
    assert staged == ["places", "places"]


def test_the_report_is_the_row_by_row_report(territory, people, monkeypatch, staged):
    # every kind of problem, in a dispatcher's import (scope: community A only)
    rows = [
        PLACE_HEADER + ["网格"],
        ["R1", "", "餐饮", "", "", 109.93, 35.19, ""],  # name required
        ["R2", "b", "飞船", "", "", 109.93, "北纬", ""],  # unknown kind, latitude not a number
        ["R1", "c", "", "", "", 109.93, 35.19, ""],  # the same code as row 2
        ["R4", "d", "", "", "", 109.97, 35.19, ""],  # outside the dispatcher's area (B-S)
        ["R5", "e", "", "", "", 120.0, 30.0, ""],  # in no grid
        ["R6", "f", "", "", "", 109.93, "", ""],  # half a pair
        ["R7", "g", "", "", "", 0, 0, ""],  # 0, 0
        ["R8", "h", "", "", "", "", "", "G-X"],  # no point, unknown grid code
        ["R9", "i" * 201, "", "", "", 181, 35.1, ""],  # name too long, longitude out of range
        ["R10", "j", "", "", "", "", "", ""],  # no coordinates, no address
    ]
    for dry_run in (True, False):
        [(old_job, _o), (job, _n)] = both_paths(
            monkeypatch,
            lambda dry_run=dry_run: job_for(
                csv_bytes(rows), "r.csv", "places", people["dispatcher_a"], dry_run=dry_run
            ),
        )
        assert job.report == old_job.report
        assert job.status == old_job.status == (JobStatus.DONE if dry_run else JobStatus.FAILED)
    assert {e["row"] for e in job.report if e["level"] == "error"} == set(range(2, 12))
    assert staged == ["places", "places"]


def test_skip_invalid_writes_the_good_rows_as_row_by_row(territory, monkeypatch):
    rows = [PLACE_HEADER, ["S1", "a", "", "", "", 109.93, 35.19], ["S2", "b", "", "", "", 200, 35.19]]
    rows += [["S3", "c", "", "", "", 109.97, 35.22]]

    results = [
        (job.status, job.created_count, job.report, written)
        for job, written in both_paths(
            monkeypatch, lambda: job_for(csv_bytes(rows), "s.csv", "places"), skip_invalid=True
        )
    ]
    assert results[0] == results[1]
    assert [r[0] for r in results[1][3]] == ["S1", "S3"]


def test_gbk_csv_through_the_staged_path(territory, staged):
    rows = [PLACE_HEADER, ["G1", "老王面馆", "餐饮", "甲街道一号", "", 109.93, 35.19]]
    job = import_run(job=job_for(csv_bytes(rows, "gbk"), "gbk.csv", "places"))
    assert job.status == JobStatus.DONE, job.report
    assert staged == ["places"]
    place = Place.objects.get(code="G1")
    assert (place.name, place.address, place.kind, place.grid.code) == ("老王面馆", "甲街道一号", "dining", "G-A-S")
    assert any("GB18030" in e["problem"] for e in job.report)


def test_gcj02_and_bd09_convert_as_row_by_row(territory, monkeypatch, staged):
    for crs in ("gcj02", "bd09"):
        lon, lat = from_wgs84(109.93, 35.19, crs)
        rows = [PLACE_HEADER, ["C1", "a", "", "", "", lon, lat]]
        [(_old, old_rows), (job, new_rows)] = both_paths(
            monkeypatch, lambda rows=rows, crs=crs: job_for(csv_bytes(rows), "c.csv", "places", crs=crs)
        )
        assert job.status == JobStatus.DONE, job.report
        assert new_rows == old_rows
        assert new_rows[0][5:] == pytest.approx((109.93, 35.19, "G-A-S"), abs=1e-6)
    assert staged == ["places", "places"]


def test_things_and_households_as_row_by_row(territory, monkeypatch, staged):
    Household.objects.create(code="H0", address="甲街道二号", location=Point(109.97, 35.22))

    def things():
        return sorted(Thing.objects.values_list("code", "name", "kind", "condition", "grid__code"))

    rows = [["编码", "名称", "类型", "状态", "经度", "纬度"], ["T1", "消防栓一", "消防栓", "", 109.93, 35.19]]
    rows += [["T2", "路灯二", "路灯", "损坏", 109.97, 35.22]]
    [(_o, old_things), (job, new_things)] = both_paths(
        monkeypatch, lambda: job_for(csv_bytes(rows), "t.csv", "things"), things
    )
    assert job.status == JobStatus.DONE, job.report
    assert new_things == old_things and [t[3] for t in new_things] == ["ok", "damaged"]

    def households():
        return sorted(
            (h.code, h.address, h.building, h.room, h.location and (h.location.x, h.location.y), h.grid and h.grid.code)
            for h in Household.objects.select_related("grid")
        )

    rows = [
        ["编码", "地址", "楼栋", "房号", "网格"],
        ["H1", "乙镇三号", "1", "101", "G-B-S"],
        ["H0", "甲街道二号", "", "", ""],
    ]
    [(_o, old_households), (job, new_households)] = both_paths(
        monkeypatch, lambda: job_for(csv_bytes(rows), "h.csv", "households"), households
    )
    assert job.status == JobStatus.DONE, job.report
    assert new_households == old_households
    assert new_households == [
        ("H0", "甲街道二号", "", "", (109.97, 35.22), None),  # no grid given: the stored point stays, and no grid
        ("H1", "乙镇三号", "1", "101", None, "G-B-S"),
    ]
    # a place without coordinates takes its point and grid from the household at its address
    place_rows = [PLACE_HEADER, ["A1", "店", "", "甲街道二号", "", "", ""]]
    [(_o, old_rows), (job, new_rows)] = both_paths(
        monkeypatch, lambda: job_for(csv_bytes(place_rows), "a.csv", "places")
    )
    assert job.status == JobStatus.DONE, job.report
    assert new_rows == old_rows == [("A1", "店", "other", "甲街道二号", "", 109.97, 35.22, None)]
    assert staged == ["things", "households", "places"]


def test_progress_rises_to_one(territory):
    seen = []
    rows = [PLACE_HEADER] + [[f"M{i}", f"场所{i}", "", "", "", 109.91 + i * 1e-4, 35.16] for i in range(300)]
    job = import_run(job=job_for(csv_bytes(rows), "m.csv", "places"), on_progress=lambda j: seen.append(j.progress))
    assert job.status == JobStatus.DONE and job.progress == 1.0
    assert seen[0] <= 0.05 and seen[-1] == 1.0 and len(seen) > 5
    assert all(a <= b for a, b in zip(seen, seen[1:], strict=False)), seen


def test_the_staged_write_builds_what_the_insert_expressions_build():
    # copy_new writes the values itself; it must agree with the row-by-row path's INSERT expressions
    allowed = {"s.{c}", "COALESCE(s.{c}, '')", None}
    for layer in staging.FAST_LAYERS:
        for column, kind, insert, _update in IMPORTS[layer].columns:
            if column == "condition":
                assert insert == "COALESCE(NULLIF(s.condition, ''), 'ok')" and staged_write.EMPTY[column] == "ok"
            elif column == "location":
                assert kind is None
            else:
                assert insert in {a.format(c=column) if a else a for a in allowed}, (layer, column, insert)


def test_a_failure_late_in_the_binary_copy_writes_nothing(territory, monkeypatch, staged):
    # the new rows go by binary COPY through a writer thread, block by block: PostgreSQL refusing row 900 of
    # 1,000 (here a point that is not EWKB, as no validated file can make) must leave the layer as it was,
    # the stored row that the same import updated included
    monkeypatch.setattr(staged_write, "COPY_ROWS", 100)
    Place.objects.create(code="KEEP", name="旧名", location=Point(109.91, 35.16, srid=4326))
    rows = [PLACE_HEADER, ["KEEP", "新名", "", "", "", 109.92, 35.17]]
    rows += [[f"L{i}", f"场所{i}", "", "", "", 109.91 + i * 1e-5, 35.16] for i in range(1000)]
    ewkb = staged_write._ewkb

    def broken(lon, lat):
        points = ewkb(lon, lat)
        points[900] = b"\x01\x02"
        return points

    monkeypatch.setattr(staged_write, "_ewkb", broken)
    job = import_run(job=job_for(csv_bytes(rows), "late.csv", "places"))
    assert staged == ["places"]
    assert job.status == JobStatus.FAILED and job.created_count == 0
    assert list(Place.objects.values_list("code", "name")) == [("KEEP", "旧名")]
    monkeypatch.setattr(staged_write, "_ewkb", ewkb)  # the same file, unbroken, then goes in whole
    job = import_run(job=job_for(csv_bytes(rows), "late.csv", "places"))
    assert job.status == JobStatus.DONE and (job.created_count, job.updated_count) == (1000, 1)
    assert Place.objects.get(code="L900").location.coords == pytest.approx((109.91 + 900 * 1e-5, 35.16))
    assert Place.objects.get(code="KEEP").name == "新名"


def test_odd_rows_of_a_csv_are_skipped_padded_and_reported_by_their_line(territory, monkeypatch, staged):
    # the reader takes the rows in one go and looks at them one by one only when some are not as wide as
    # the header: a blank line is skipped (its number still counts), a short row padded, a long one cut,
    # and reported when what is cut holds a value
    text = (
        "编码,名称,经度,纬度\n"
        "W1,甲,109.93,35.19\n"
        "\n"  # line 3: blank, skipped
        "W2,乙,109.97\n"  # line 4: short, no latitude
        "W3,丙,109.93,35.19,多余\n"  # line 5: one value too many
        "W4,丁,109.97,35.22,, \n"  # line 6: blank extra cells, nothing to report
    )
    [(old_job, _o), (job, _n)] = both_paths(monkeypatch, lambda: job_for(text.encode(), "odd.csv", "places"))
    assert staged == ["places"]
    assert job.status == JobStatus.FAILED and Place.objects.count() == 0
    assert job.report == old_job.report
    errors = [(e["row"], e["column"]) for e in job.report if e["level"] == "error"]
    assert {row for row, _c in errors} == {4, 5} and (4, "纬度") in errors and (5, None) in errors
    wide = gettext("The row has %(n)d values; the header names %(w)d columns.") % {"n": 5, "w": 4}
    assert [e["problem"] for e in job.report if e["row"] == 5] == [wide]

    job = import_run(job=job_for(text.encode(), "odd.csv", "places"), skip_invalid=True)
    assert job.status == JobStatus.DONE and job.created_count == 2
    assert sorted(Place.objects.values_list("code", "grid__code")) == [("W1", "G-A-S"), ("W4", "G-B-N")]


def test_codes_that_csv_or_copy_treat_specially_update_the_stored_rows(territory, monkeypatch, staged):
    # the staged codes go to PostgreSQL as one CSV column: commas, quotes, backslashes and COPY's end marker
    # must arrive as they are, so that the stored rows are found and updated, not inserted again
    odd = ["K,1", 'K"2', "K\\3", "\\.", "K 5"]
    for code in odd:
        Place.objects.create(code=code, name="旧名", location=Point(109.91, 35.16, srid=4326))
    rows = [PLACE_HEADER] + [[code, "新名", "", "", "", 109.93, 35.19] for code in [*odd, "NEW"]]
    [(old_job, old_rows), (job, new_rows)] = both_paths(
        monkeypatch, lambda: job_for(csv_bytes(rows), "k.csv", "places")
    )
    assert job.status == JobStatus.DONE, job.report
    assert (job.created_count, job.updated_count) == (old_job.created_count, old_job.updated_count) == (1, 5)
    assert new_rows == old_rows
    assert sorted(r[0] for r in new_rows) == sorted([*odd, "NEW"]) and {r[1] for r in new_rows} == {"新名"}
    assert staged == ["places"]


def test_a_database_error_while_locating_fails_the_job_and_the_next_import_runs(territory, monkeypatch, staged):
    # staging and locating run on a thread beside the validation; PostgreSQL refusing the staged points
    # (here a record cut short, as no validated file can make) fails the job as any database error does,
    # writes nothing, and leaves the connection to the next import
    rows = [PLACE_HEADER] + [[f"D{i}", f"场所{i}", "", "", "", 109.91 + i * 1e-4, 35.16] for i in range(50)]
    binary_points = staged_locate._binary_points
    monkeypatch.setattr(staged_locate, "_binary_points", lambda *args: binary_points(*args)[:-3])
    job = import_run(job=job_for(csv_bytes(rows), "d.csv", "places"))
    assert job.status == JobStatus.FAILED and job.created_count == 0 and Place.objects.count() == 0
    assert job.error.startswith(gettext("The database refused the rows: %(exc)s") % {"exc": ""})
    monkeypatch.setattr(staged_locate, "_binary_points", binary_points)
    job = import_run(job=job_for(csv_bytes(rows), "d.csv", "places"))
    assert job.status == JobStatus.DONE and job.created_count == 50
    assert staged == ["places", "places"]
