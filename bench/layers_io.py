"""Benchmark: layer exports and imports beside GDAL's ogr2ogr and PostgreSQL's COPY on the same data.

    .venv/bin/python bench/layers_io.py              # N = 1,000,000 places; or --rows 200000 / BENCH_IO_ROWS

1. On its own database (--database-url / BENCH_IO_DATABASE_URL, default …/gridline_bench_io; created when
   missing, migrated) makes a 20×20 = 400-grid territory and N places with Chinese names, inserted by one
   INSERT … SELECT generate_series (the grid of each place computed from its cell, no spatial join).
2. Export: layers.io.exports.export_run, run synchronously as a superuser, to a zipped Shapefile and to a
   GeoPackage; beside ogr2ogr from the same rows (PG: connection built from the database URL, the same
   columns and join in -sql), the Shapefile zipped as the export zips it (deflate level 1).
3. Import: the same N places as a UTF-8 CSV, imported by layers.io.imports.import_run (new codes: N inserts)
   beside COPY of that CSV into a scratch table.
4. Prints times, rows/s and the goals: an export at most 1.3× ogr2ogr's time, an import at least 50% of COPY's
   rate.

A report, not a test: it exits 0 whether or not the goals are met; non-zero only when something cannot run.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from benchdb import ensure_database, pg_parts  # noqa: E402 - the benchmarks' database helpers

GOAL_EXPORT_RATIO = 1.3  # our export's time / ogr2ogr's
GOAL_IMPORT_SHARE = 0.5  # our import's rows/s / COPY's
SIDE = 20  # grids per side: 400 grids
WEST, SOUTH, CELL = 109.0, 35.0, 0.01  # the territory: 0.2° × 0.2°
KINDS = [
    "dining",
    "shopping",
    "lodging",
    "transit",
    "education",
    "medical",
    "government",
    "culture",
    "residential",
    "other",
]
EXPORT_SQL = (
    "SELECT p.id, p.code, p.name, p.kind, p.address, p.phone, g.code AS grid, p.location "
    "FROM layers_place p LEFT JOIN grid_grid g ON g.id = p.grid_id ORDER BY p.id"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    default_url = os.environ.get("DATABASE_URL", "postgis://gridline:gridline@localhost:5432/gridline")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--rows",
        type=int,
        default=int(os.environ.get("BENCH_IO_ROWS") or 1_000_000),
        help="places to export and to import (env BENCH_IO_ROWS)",
    )
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_IO_DATABASE_URL") or default_url.rsplit("/", 1)[0] + "/gridline_bench_io",
        help="the benchmark's own database (env BENCH_IO_DATABASE_URL)",
    )
    p.add_argument("--skip-export", action="store_true", help="measure the import only")
    return p.parse_args(argv)


def django_setup(url: str, media: Path) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["MEDIA_ROOT"] = str(media)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import logging

    from django.conf import settings

    logging.getLogger("pyogrio").setLevel(logging.WARNING)  # one "Created n records" per write
    from django.core.management import call_command

    settings.IMPORT_MAX_BYTES = 10**10  # the benchmark's CSV may pass the upload limit
    call_command("migrate", interactive=False, verbosity=0)


def make_register(n: int):
    """400 grids and n places (replacing any earlier run's); the superuser who exports and imports."""
    from django.contrib.gis.geos import MultiPolygon, Polygon
    from django.db import connection

    from grid.models import AdminArea, Grid, User

    county, _ = AdminArea.objects.update_or_create(
        code="619901",
        defaults=dict(
            name="基准县",
            level=AdminArea.Level.COUNTY,
            boundary=MultiPolygon(Polygon.from_bbox((WEST, SOUTH, WEST + SIDE * CELL, SOUTH + SIDE * CELL)), srid=4326),
        ),
    )
    community, _ = AdminArea.objects.update_or_create(
        code="619901001001",
        defaults=dict(name="基准社区", level=AdminArea.Level.COMMUNITY, parent=county, boundary=county.boundary),
    )
    if Grid.objects.filter(code__startswith="BG-").count() != SIDE * SIDE:
        Grid.objects.filter(code__startswith="BG-").delete()
        Grid.objects.bulk_create(
            [
                Grid(
                    code=f"BG-{i:02d}-{j:02d}",
                    name=f"基准网格{i}-{j}",
                    community=community,
                    boundary=MultiPolygon(
                        Polygon.from_bbox(
                            (WEST + i * CELL, SOUTH + j * CELL, WEST + (i + 1) * CELL, SOUTH + (j + 1) * CELL)
                        ),
                        srid=4326,
                    ),
                )
                for i in range(SIDE)
                for j in range(SIDE)
            ]
        )
    grid_ids = dict(Grid.objects.filter(code__startswith="BG-").values_list("code", "id"))
    ids = [grid_ids[f"BG-{i:02d}-{j:02d}"] for i in range(SIDE) for j in range(SIDE)]
    user, _ = User.objects.update_or_create(
        username="bench-io", defaults=dict(is_superuser=True, is_staff=True, sensitive_clearance=True)
    )
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE layers_place RESTART IDENTITY CASCADE")
        # a point strictly inside its cell (never on an edge), so the cell is its grid
        cursor.execute(
            "INSERT INTO layers_place (code, name, kind, address, phone, location, grid_id, created, modified) "
            "SELECT 'BP' || lpad(s::text, 8, '0'), '基准场所' || s || '号（测试）', (%(kinds)s::text[])[1 + s %% 10], "
            "'基准县基准社区' || (s %% 997) || '号', '', "
            "ST_SetSRID(ST_MakePoint(%(w)s + (c / %(side)s + 0.05 + 0.9 * random()) * %(cell)s, "
            "%(s)s + (c %% %(side)s + 0.05 + 0.9 * random()) * %(cell)s), 4326), (%(ids)s::bigint[])[1 + c], "
            "now(), now() FROM generate_series(1, %(n)s) s, LATERAL (SELECT s %% %(cells)s AS c) cc",
            {
                "kinds": KINDS,
                "w": WEST,
                "s": SOUTH,
                "side": SIDE,
                "cell": CELL,
                "ids": ids,
                "n": n,
                "cells": SIDE * SIDE,
            },
        )
        cursor.execute("ANALYZE layers_place")
    return user


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def our_export(user, fmt: str) -> float:
    from layers.io.exports import export_run
    from layers.models import ExportJob, JobStatus

    job = ExportJob.objects.create(created_by=user, layer="places", format=fmt, filters={})
    seconds, job = timed(lambda: export_run(job=job))
    if job.status != JobStatus.DONE:
        raise SystemExit(f"export {fmt} failed: {job.error}")
    job.file.delete(save=False)
    return seconds


def ogr2ogr(url: str, fmt: str, workdir: Path) -> float:
    p = pg_parts(url)
    source = f"PG:host={p['host']} port={p['port']} dbname={p['dbname']} user={p['user']} password={p['password']}"
    driver, target, options = {
        "shp": ("ESRI Shapefile", workdir / "places.shp", ["-lco", "ENCODING=UTF-8"]),
        "gpkg": ("GPKG", workdir / "places.gpkg", []),
    }[fmt]

    def run() -> None:
        subprocess.run(
            ["ogr2ogr", "-f", driver, str(target), source, "-sql", EXPORT_SQL, "-nln", "places", *options],
            check=True,
            capture_output=True,
        )
        if fmt == "shp":  # delivered as the export delivers it: zipped, deflate level 1
            with zipfile.ZipFile(workdir / "places.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zipped:
                for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                    member = target.with_suffix(suffix)
                    if member.exists():
                        zipped.write(member, member.name)

    seconds, _ = timed(run)
    for leftover in workdir.glob("places.*"):
        leftover.unlink()
    return seconds


def write_csv(path: Path, n: int) -> None:
    """n new places (codes not in the register, so the import inserts every row), inside the territory."""
    import random

    rng = random.Random(7)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["编码", "名称", "类型", "地址", "经度", "纬度"])
        for s in range(1, n + 1):
            c = s % (SIDE * SIDE)
            writer.writerow(
                [
                    f"BI{s:08d}",
                    f"导入场所{s}号（测试）",
                    KINDS[s % 10],
                    f"基准县导入路{s % 997}号",
                    f"{WEST + (c // SIDE + 0.05 + 0.9 * rng.random()) * CELL:.7f}",
                    f"{SOUTH + (c % SIDE + 0.05 + 0.9 * rng.random()) * CELL:.7f}",
                ]
            )


def our_import(user, path: Path) -> tuple[float, int]:
    from django.core.files import File

    from layers.io.imports import import_run
    from layers.models import ImportJob, JobStatus

    job = ImportJob(layer="places", original_name=path.name, created_by=user)
    with path.open("rb") as source:
        job.source.save(path.name, File(source), save=False)
    job.save()
    seconds, job = timed(lambda: import_run(job=job))
    if job.status != JobStatus.DONE:
        raise SystemExit(f"import failed: {job.error} {job.report[:5]}")
    job.source.delete(save=False)
    return seconds, job.created_count


def checkpoint(url: str) -> None:
    """Each import step starts without the previous one's dirty pages and WAL to flush (when the role may)."""
    import psycopg

    with psycopg.connect(autocommit=True, **pg_parts(url)) as conn:
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            pass


def copy_import(url: str, path: Path) -> float:
    """COPY of the CSV into a scratch table of text and float columns: PostgreSQL's parsing and storing alone."""
    import psycopg

    with psycopg.connect(**pg_parts(url)) as conn:
        conn.execute(
            "CREATE TEMP TABLE bench_copy (code text, name text, kind text, address text, lon float8, lat float8)"
        )

        def run() -> None:
            with (
                conn.cursor() as cursor,
                cursor.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
                path.open("rb") as source,
            ):
                while block := source.read(1 << 20):
                    copy.write(block)
            conn.commit()

        seconds, _ = timed(run)
        count = conn.execute("SELECT count(*) FROM bench_copy").fetchone()[0]
    if count != sum(1 for _ in path.open(encoding="utf-8")) - 1:
        raise SystemExit("COPY loaded a different number of rows")
    return seconds


def copy_into_place_table(url: str, path: Path) -> float:
    """COPY of the CSV into a scratch copy of layers_place: its columns, defaults, checks and all its indexes.

    `CREATE TABLE … (LIKE layers_place INCLUDING ALL)` (logged, as layers_place is; LIKE copies no foreign
    key), with `location` a stored generated column built from the COPY'd lon/lat, so PostgreSQL itself
    turns each pair into the point and indexes it (GIST) as the import must. It holds the register's rows
    first (copied, not timed), as layers_place does when the import runs. COPY assigns no grid (grid_id
    stays NULL) and validates nothing beyond the column types: the floor for any import into the real table.
    """
    import psycopg

    with psycopg.connect(autocommit=True, **pg_parts(url)) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy_place")
        conn.execute("CREATE TABLE bench_copy_place (LIKE layers_place INCLUDING ALL)")
        conn.execute(
            "ALTER TABLE bench_copy_place DROP COLUMN location, ADD COLUMN lon float8 NOT NULL, "
            "ADD COLUMN lat float8 NOT NULL, ALTER created SET DEFAULT now(), ALTER modified SET DEFAULT now(), "
            "ALTER phone SET DEFAULT ''"
        )
        conn.execute(
            "ALTER TABLE bench_copy_place ADD COLUMN location geometry(Point, 4326) NOT NULL "
            "GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED"
        )
        conn.execute("CREATE INDEX ON bench_copy_place USING gist (location)")
        # the register's rows too (not timed), so that COPY adds to indexes as large as the import's
        conn.execute(
            "INSERT INTO bench_copy_place (id, created, modified, code, name, kind, address, phone, grid_id, lon, lat) "
            "SELECT id, created, modified, code, name, kind, address, phone, grid_id, ST_X(location), ST_Y(location) "
            "FROM layers_place"
        )
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('bench_copy_place', 'id'), (SELECT max(id) FROM bench_copy_place))"
        )
        conn.execute("VACUUM ANALYZE bench_copy_place")

        def run() -> None:
            with (
                conn.transaction(),
                conn.cursor() as cursor,
                cursor.copy(
                    "COPY bench_copy_place (code, name, kind, address, lon, lat) FROM STDIN "
                    "WITH (FORMAT csv, HEADER true)"
                ) as copy,
                path.open("rb") as source,
            ):
                while block := source.read(1 << 20):
                    copy.write(block)

        try:
            before = conn.execute("SELECT count(*) FROM bench_copy_place").fetchone()[0]
            checkpoint(url)  # the setup's writes are not COPY's to flush
            seconds, _ = timed(run)
            count = conn.execute("SELECT count(*) FROM bench_copy_place").fetchone()[0] - before
        finally:
            conn.execute("DROP TABLE IF EXISTS bench_copy_place")
    if count != sum(1 for _ in path.open(encoding="utf-8")) - 1:
        raise SystemExit("COPY loaded a different number of rows")
    return seconds


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    n = args.rows
    ensure_database(args.database_url)
    with tempfile.TemporaryDirectory(prefix="gridline-bench-io-") as tmp:
        workdir = Path(tmp)
        django_setup(args.database_url, workdir / "media")
        print(f"{n:,} places in 400 grids on {pg_parts(args.database_url)['dbname']} …", flush=True)
        seconds, user = timed(lambda: make_register(n))
        print(f"  register made in {seconds:.1f} s", flush=True)
        results = []  # what, ours (s), baseline (s), rows
        for fmt, label in (
            () if args.skip_export else (("shp", "export zipped Shapefile"), ("gpkg", "export GeoPackage"))
        ):
            ours = our_export(user, fmt)
            theirs = ogr2ogr(args.database_url, fmt, workdir)
            results.append((label, ours, "ogr2ogr", theirs, n))
            print(f"  {label}: {ours:.1f} s, ogr2ogr {theirs:.1f} s", flush=True)
        source = workdir / "places.csv"
        write_csv(source, n)
        checkpoint(args.database_url)
        text_table = copy_import(args.database_url, source)
        real_table = copy_into_place_table(args.database_url, source)
        checkpoint(args.database_url)
        ours, created = our_import(user, source)
        if created != n:
            raise SystemExit(f"the import created {created} places, not {n}")
        print(
            f"  import CSV: {ours:.1f} s, COPY into a copy of layers_place {real_table:.1f} s, "
            f"into a text table {text_table:.1f} s",
            flush=True,
        )
        results.append(("import CSV", ours, "COPY", real_table, n))  # the goal's baseline (bench/README.md)
        results.append(("  (vs COPY to text table)", ours, "COPY", text_table, n))

    print()
    print(
        f"{'what':<26}{'ours s':>9}{'rows/s':>11}{'baseline':>10}{'base s':>9}{'rows/s':>11}{'ratio':>8}"
        f"{'goal':>10}{'met':>5}"
    )
    for label, ours, baseline, theirs, rows in results:
        if baseline == "COPY":
            ratio = (rows / ours) / (rows / theirs)  # share of COPY's rate
            goal, met = f">= {GOAL_IMPORT_SHARE:.0%}", ratio >= GOAL_IMPORT_SHARE
            shown = f"{ratio:.0%}"
        else:
            ratio = ours / theirs  # times ogr2ogr's time
            goal, met = f"<= {GOAL_EXPORT_RATIO}x", ratio <= GOAL_EXPORT_RATIO
            shown = f"{ratio:.2f}x"
        print(
            f"{label:<26}{ours:>9.2f}{rows / ours:>11,.0f}{baseline:>10}{theirs:>9.2f}{rows / theirs:>11,.0f}"
            f"{shown:>8}{goal:>10}{'yes' if met else 'NO':>5}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
