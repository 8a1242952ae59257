"""Imports of department files into the register: validate every row first, then write all or nothing.

`import_run(job=…)` reads the job's file (layers.io.readers), maps its columns (layers.io.mapping),
validates each row (types, ID-card check digit, coordinates converted from the job's crs to WGS 84),
places each row in a grid (by point, by grid's placement rule, grid.selectors.territory, done
for all rows in one query; else by household number or address) and checks the grid is in the
importer's scope. A dry run stops there and returns the report. A real run with any error writes nothing;
otherwise it upserts in one transaction: people matched by the search hash of their ID-card number,
the other layers by `code`; existing rows are updated (an empty cell keeps the stored value), new ones
created. Rows are matched only where the importer may write: stored rows in its scope (and, without
clearance, no person of a sensitive category); a key that matches any other stored row is refused with
one message (KEY_REFUSED) whatever the reason, and counted nowhere; sensitive categories need clearance.
The job's source file (plain ID-card numbers) is deleted when the job ends, however it ends. Rows go
through COPY into a temporary table, then one UPDATE … FROM and one INSERT … SELECT per chunk; no per-row
queries.

Places, things and households from a file without geometries (CSV, .xlsx) take the staged path
(`_run_staged`, layers.io.staging), built for files of a million rows: the same checks, report, counts and
rows, but validated per column, placed in grids by one spatial join in SQL, stored rows updated by one
UPDATE and new ones COPY'd straight into the layer's table, under a lock that keeps other writers of that
layer out until the import commits (reads go on). People (encrypted fields, employers, branches) and
organizations (polygons, parents) keep the row-by-row path.

Progress: while the write transaction is open its own updates are invisible to anybody polling the job,
so progress goes through a second, autocommit connection to the database (a plain psycopg connection
opened with the same settings), which updates only the job row; the main transaction never touches that
row until it has committed, so the two never wait on each other. When the caller already holds a
transaction (tests, or a caller's atomic block), the job row it created may not be visible to another
connection, so progress is then reported only to the `on_progress` callback.

The job's crs: "wgs84", "gcj02" or "bd09" name the coordinates' system explicitly; "" means "not given":
coordinate columns are then taken as WGS 84, a spatial file's own CRS is used, and a Shapefile without a
.prj is refused (its coordinates could be anything).
"""

import datetime as dt
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from grid.access import grids_for, may_see_sensitive
from grid.crs import CRS, to_wgs84
from grid.models import Grid, Role, User
from layers import crypto
from layers.io import staging
from layers.io.mapping import PRESETS, TARGETS, Mapping, converter, resolve_mapping
from layers.io.readers import ReadError, Table, paused_gc, read_table
from layers.io.staging import set_point as _set_point
from layers.models import SENSITIVE_CATEGORIES, AuditEntry, ImportJob, JobStatus, PersonCategory
from layers.services import audit_record

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
MAX_REPORT_ENTRIES = 1000
CHUNK = 20_000
# A job still RUNNING after this long lost its worker (acks_late redelivers it): it may be claimed again.
STALE_AFTER = dt.timedelta(minutes=30)
IMPORTER_ROLES = {Role.ADMINISTRATOR, Role.DISPATCHER}
_KEY = {"people": "id_card", "households": "code", "places": "code", "things": "code", "organizations": "code"}
_TABLE = {
    "people": "layers_person",
    "households": "layers_household",
    "places": "layers_place",
    "things": "layers_thing",
    "organizations": "layers_organization",
}
_POINT_REQUIRED = {"places", "things"}
# The one answer for a row whose key the importer may not write: the same whether that key belongs to a record
# of another area, to a record the importer may not see (a sensitive category without clearance), or to any
# other record out of reach, so that the report never tells which.
KEY_REFUSED = gettext_lazy("this record cannot be imported by your account")


def may_import(user: User | None) -> bool:
    """Administrators and dispatchers (within their scope), and superusers."""
    return bool(
        user and user.is_authenticated and user.is_active and (user.is_superuser or user.role in IMPORTER_ROLES)
    )


def max_bytes() -> int:
    return int(getattr(settings, "IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


class _Report:
    def __init__(self) -> None:
        self.entries: list[dict] = []
        self.errors = 0
        self.dropped = 0

    def add(self, row: int | None, column: str | None, problem: str, level: str = "error") -> None:
        if level == "error":
            self.errors += 1
        if len(self.entries) < MAX_REPORT_ENTRIES:
            self.entries.append({"row": row, "column": column, "problem": problem, "level": level})
        else:
            self.dropped += 1

    def extend(self, entries: list[dict]) -> None:
        for e in entries:
            self.add(e.get("row"), e.get("column"), e["problem"], e.get("level", "error"))

    def as_list(self) -> list[dict]:
        if self.dropped:
            return self.entries + [
                {
                    "row": None,
                    "column": None,
                    "level": "info",
                    "problem": _("%(n)d more problems are not listed; fix the ones above and run a dry run again.")
                    % {"n": self.dropped},
                }
            ]
        return self.entries


class _Progress:
    """Progress for pollers (a second, autocommit connection) and for an optional callback (tqdm)."""

    def __init__(self, job: ImportJob, callback: Callable[[ImportJob], None] | None) -> None:
        self.job, self.callback, self.last = job, callback, 0.0
        self.side = None
        if not connection.in_atomic_block:
            try:
                self.side = connection.get_new_connection(connection.get_connection_params())
                self.side.autocommit = True
            except DatabaseError:  # progress is a courtesy: never fail an import for it
                logger.warning("import %s: no second connection for progress", job.pk, exc_info=True)

    def __call__(self, fraction: float, rows_done: int, *, force: bool = False) -> None:
        job = self.job
        job.progress, job.rows_done = round(min(max(fraction, 0.0), 1.0), 4), rows_done
        now = time.monotonic()
        if self.callback:
            self.callback(job)
        if self.side is None or (not force and now - self.last < 0.5):
            return
        self.last = now
        try:
            with self.side.cursor() as cursor:
                cursor.execute(
                    "UPDATE layers_importjob SET progress = %s, rows_done = %s, rows_total = %s, "
                    "modified = now() WHERE id = %s",
                    [job.progress, rows_done, job.rows_total, job.pk],
                )
        except Exception:  # noqa: BLE001 - see above
            logger.warning("import %s: progress not written", job.pk, exc_info=True)

    def close(self) -> None:
        if self.side is not None:
            self.side.close()


def import_run(
    *, job: ImportJob, skip_invalid: bool = False, on_progress: Callable[[ImportJob], None] | None = None
) -> ImportJob:
    """Validate a job's file and (unless a dry run, or it has errors) upsert its rows in one transaction."""
    now = timezone.now()
    claimed = ImportJob.objects.filter(
        Q(status=JobStatus.PENDING) | Q(status=JobStatus.RUNNING, modified__lt=now - STALE_AFTER),
        pk=job.pk,
    ).update(status=JobStatus.RUNNING, progress=0.0, rows_done=0, error="", modified=now)
    job.refresh_from_db()
    if not claimed:
        return job  # done, failed, or running elsewhere: a redelivery changes nothing
    progress = _Progress(job, on_progress)
    report = _Report()
    try:
        _run(job, report, progress, skip_invalid=skip_invalid)
    except OperationalError:
        # the database went away: leave the job to the task's retry, which claims it again
        ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.PENDING, modified=timezone.now())
        raise
    except DatabaseError as exc:
        logger.exception("import %s failed", job.pk)
        job.status, job.error = JobStatus.FAILED, _("The database refused the rows: %(exc)s") % {"exc": exc}
        job.created_count = job.updated_count = 0
    except Exception:
        # the job ends here all the same (its source file deleted below), not left running for ever
        logger.exception("import %s failed", job.pk)
        job.status, job.error = JobStatus.FAILED, _("The import failed on the server; nothing was written.")
        job.created_count = job.updated_count = 0
    finally:
        progress.close()
    job.report = report.as_list()
    job.finished = timezone.now()
    import_source_delete(job=job)
    job.save()
    return job


def import_source_delete(*, job: ImportJob) -> None:
    """Delete the job's uploaded file: it holds ID-card numbers and phones in plain text, and the job's report
    and counts are all that is kept of it once the job has ended."""
    if not job.source:
        return
    try:
        job.source.delete(save=False)
    except OSError:  # gone already, or storage trouble: the purge task tries again
        logger.warning("import %s: source file not deleted", job.pk, exc_info=True)


def import_sources_purge() -> int:
    """Delete the source files of ended imports that still have one (a worker killed mid-way); how many."""
    count = 0
    for job in ImportJob.objects.filter(status__in=[JobStatus.DONE, JobStatus.FAILED]).exclude(source=""):
        import_source_delete(job=job)
        if not job.source:
            ImportJob.objects.filter(pk=job.pk).update(source="")
            count += 1
    return count


@contextmanager
def _local_path(job: ImportJob):
    try:
        yield job.source.path
    except NotImplementedError:  # remote storage (S3): copy to a local file for GDAL and openpyxl
        suffix = os.path.splitext(job.original_name or job.source.name)[1]
        with tempfile.NamedTemporaryFile(suffix=suffix) as tmp, job.source.open("rb") as src:
            shutil.copyfileobj(src, tmp)
            tmp.flush()
            yield tmp.name


def _fail(job: ImportJob, message: str) -> None:
    job.status, job.error = JobStatus.FAILED, message


def _run(job: ImportJob, report: _Report, progress: _Progress, *, skip_invalid: bool) -> None:
    layer = job.layer
    if layer not in TARGETS:
        report.add(
            None,
            None,
            _("Unknown layer %(layer)s; importable: %(known)s") % {"layer": layer, "known": ", ".join(TARGETS)},
        )
        return _fail(job, _("Nothing was written: the import has errors."))
    if job.preset and (job.preset not in PRESETS or PRESETS[job.preset].layer != layer):
        report.add(
            None, None, _("Preset %(preset)s does not fit layer %(layer)s.") % {"preset": job.preset, "layer": layer}
        )
        return _fail(job, _("Nothing was written: the import has errors."))
    if job.crs and job.crs not in CRS.__members__.values():
        report.add(None, None, _("Unknown coordinate system %(crs)s: use wgs84, gcj02 or bd09.") % {"crs": job.crs})
        return _fail(job, _("Nothing was written: the import has errors."))
    try:
        with _local_path(job) as path:
            table = read_table(path, name=job.original_name or job.source.name, max_bytes=max_bytes())
    except ReadError as exc:
        report.add(None, None, str(exc))
        return _fail(job, str(exc))
    except FileNotFoundError:
        report.add(None, None, _("The uploaded file is gone."))
        return _fail(job, _("The uploaded file is gone."))
    job.rows_total = len(table.rows)
    progress(0.05, 0, force=True)
    for note in table.notes:
        report.add(None, None, note, "info")
    mapping = resolve_mapping(
        layer=layer,
        columns=table.columns,
        preset=job.preset,
        mapping=job.mapping or None,
        has_geometry=table.geometries is not None,
    )
    report.extend(mapping.problems)
    if table.crs_missing and not job.crs:
        report.add(
            None,
            None,
            _(
                "The Shapefile has no .prj file, so its coordinate system is unknown. Add the "
                ".prj, or name the coordinate system (crs: wgs84, gcj02 or bd09)."
            ),
        )
    if report.errors:
        return _fail(job, _("Nothing was written: the file does not fit the import (see the report)."))
    for number, problem in table.row_problems:
        report.add(number, None, problem)

    # An import writes only what its importer may read: rows placed in the grids of its scope, stored rows
    # matched there only, sensitive categories only with clearance. A job without an account (an operator's
    # `manage.py import_layer` without --user) is not limited.
    user = job.created_by
    scope = None if user is None or user.is_superuser else set(grids_for(user).values_list("pk", flat=True))
    cleared = user is None or may_see_sensitive(user)
    if staging.fits(layer, table):
        with paused_gc():  # a million rows' columns and lists: see paused_gc
            return _run_staged(job, table, mapping, report, progress, scope, skip_invalid=skip_invalid)
    records = _validate(job, table, mapping, report, progress)
    _place(job, records, mapping, report, scope)
    if layer == "people" and not cleared:
        _refuse_sensitive(records, mapping, report)
    writable = _writable_sql(layer, scope, cleared=cleared)
    if writable is not None:
        _refuse_unwritable(layer, records, mapping, report, writable)
    progress(0.5, len(records))
    if report.errors and skip_invalid:
        bad = {e["row"] for e in report.entries if e["level"] == "error"}
        records = [r for r in records if r["_row"] not in bad]
        report.add(None, None, _("%(n)d rows with errors were skipped.") % {"n": len(bad)}, "warning")
        report.errors = 0
    if report.errors:
        job.created_count = job.updated_count = 0
        if job.dry_run:
            job.status = JobStatus.DONE
            return None
        return _fail(job, _("Nothing was written: %(n)d problems (see the report).") % {"n": report.errors})
    if job.dry_run:
        existing = _existing_keys(layer, [r[_KEY[layer] if layer != "people" else "id_card_hash"] for r in records])
        job.updated_count = sum(
            1 for r in records if r[_KEY[layer] if layer != "people" else "id_card_hash"] in existing
        )
        job.rows_done, job.progress = len(records), 1.0
        _dry_run_done(job, report, created=len(records) - job.updated_count, updated=job.updated_count)
        return None
    created, updated = _write(job, records, mapping, report, progress, writable)
    job.created_count, job.updated_count = created, updated
    job.status = JobStatus.DONE
    progress(1.0, len(records), force=True)
    return None


def _run_staged(
    job: ImportJob,
    table: Table,
    mapping: Mapping,
    report: _Report,
    progress: _Progress,
    scope: set[int] | None,
    *,
    skip_invalid: bool,
) -> None:
    """`_run` for large files of places, things and households (layers.io.staging): the same checks and report,
    the rows validated per column, staged by COPY, placed in grids by one spatial join, upserted set-based."""
    layer = job.layer
    n = len(table.rows)
    names = {t: c for c, t in mapping.columns.items()}
    problems = staging.Problems()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")  # big one-off statements: no JIT
        staging.more_temp_buffers(cursor)
        # PostgreSQL stages and locates the rows (staging.Locating's thread) as soon as their codes and points
        # are validated, while the other columns are: no query on this connection until it is done
        locating = staging.Locating(cursor)
        try:
            columns = staging.validate(
                layer, table, mapping, job.crs or CRS.WGS84, problems, progress, ready=locating.start
            )
            table.rows = []  # the columns hold it now; the rows are memory a million rows long
            progress(0.4, 0)
        finally:
            locating.wait()
        progress(0.6, 0)
        unlocated = staging.unlocated(columns)
        if unlocated:
            records = [columns.record(i) for i in unlocated]
            _place(job, records, mapping, problems.sink(staging.PLACEMENT), scope)
            staging.take_placement(columns, unlocated, records)
        rows = columns.rows
        column = names.get("lon") or names.get("household") or names.get("address")
        for i, lon, lat in staging.unplaced(columns):
            problems.add(
                staging.PLACEMENT,
                rows[i],
                (0,),
                column,
                _("the point (%(lon).6f, %(lat).6f) lies in no grid") % {"lon": lon, "lat": lat},
                "warning" if scope is None else "error",
            )
        if scope is not None:
            for i, code in staging.outside(cursor, columns, scope):
                problems.add(
                    staging.PLACEMENT,
                    rows[i],
                    (0,),
                    column or names.get("grid"),
                    _("the row lies outside your area (grid %(grid)s)") % {"grid": code},
                )
        writable = _writable_sql(layer, scope, cleared=True)  # no sensitive categories in these layers
        if writable is not None:
            for i in staging.stored_where(cursor, _TABLE[layer], f"NOT COALESCE({writable[0]}, false)", writable[1]):
                problems.add(staging.PLACEMENT, rows[i], (1,), names.get("code"), str(KEY_REFUSED))
        bad = {e["row"] for e in report.entries if e["level"] == "error"} | problems.error_rows()
        problems.flush(report)
        keep = range(n)
        if report.errors and skip_invalid:
            keep = [i for i in range(n) if rows[i] not in bad]
            report.add(None, None, _("%(n)d rows with errors were skipped.") % {"n": len(bad)}, "warning")
            report.errors = 0
        kept = len(keep)
        if report.errors:
            job.created_count = job.updated_count = 0
            if job.dry_run:
                job.status = JobStatus.DONE
                return None
            return _fail(job, _("Nothing was written: %(n)d problems (see the report).") % {"n": report.errors})
        if not job.dry_run:
            # Nobody else writes this layer until the import commits (reads go on): the rows found stored
            # below are then exactly those the write updates, and the others can be COPY'd in without
            # ON CONFLICT. Also one import per layer at a time, as the advisory lock of _write.
            cursor.execute(f"LOCK TABLE {_TABLE[layer]} IN SHARE ROW EXCLUSIVE MODE")
        kept_set = set(keep) if kept < n else None
        stored = [i for i in staging.stored(cursor, _TABLE[layer]) if kept_set is None or i in kept_set]
        if job.dry_run:
            progress(1.0, kept, force=True)
            _dry_run_done(job, report, created=kept - len(stored), updated=len(stored))
            return None
        staging.take_grids(columns)
        updated = 0
        if stored:
            staging.stage_full(cursor, _temp_columns(layer), columns, stored)
            update_sql, _insert_sql = _upsert_sql(
                layer, has_location=any(x is not None for x in columns.lon), writable=writable and writable[0]
            )
            cursor.execute(update_sql, writable[1] if writable else None)
            updated = cursor.rowcount
        progress(0.7, updated)
        stored_set = set(stored)
        new = [i for i in keep if i not in stored_set]
        staging.copy_new(
            cursor,
            _TABLE[layer],
            _COLUMNS[layer],
            columns,
            new,
            lambda done: progress(0.7 + 0.3 * (updated + done) / (kept or 1), updated + done),
        )
        created = len(new)
        audit_record(
            actor=job.created_by,
            action=AuditEntry.Action.IMPORT,
            target=f"layers.{layer}",
            reason=f"import job {job.pk}: {job.original_name}"[:300],
            details={
                "job": job.pk,
                "file": job.original_name,
                "rows": kept,
                "created": created,
                "updated": updated,
                "preset": job.preset,
                "crs": job.crs,
            },
        )
    job.created_count, job.updated_count = created, updated
    job.status = JobStatus.DONE
    progress(1.0, kept, force=True)
    return None


# ---------------------------------------------------------------- validation


def _validate(job: ImportJob, table: Table, mapping: Mapping, report: _Report, progress: _Progress) -> list[dict]:
    layer = job.layer
    targets = {t.name: t for t in TARGETS[layer]}
    index = {c: i for i, c in enumerate(table.columns)}
    plan = [(index[c], t, c, converter(targets[t])) for c, t in mapping.columns.items()]
    required = [(t, c) for c, t in mapping.columns.items() if targets[t].required]
    defaults = mapping.defaults
    default_categories = list(defaults.get("categories", []))
    key = _KEY[layer]
    key_column = next((c for c, t in mapping.columns.items() if t == key), key)
    seen: dict[str, int] = {}
    records: list[dict] = []
    add = report.add
    total = len(table.rows) or 1
    for n, (number, row) in enumerate(zip(table.row_numbers, table.rows, strict=True)):
        record: dict = {"_row": number}
        for i, target, column, convert in plan:
            try:
                record[target] = convert(row[i])
            except ValueError as exc:
                add(number, column, str(exc))
                record.setdefault("_failed", set()).add(target)
        for target, column in required:
            if target in record and not record[target]:
                add(number, column, _("empty; this column is required"))
        for target, value in defaults.items():
            if not record.get(target):
                record[target] = value
        if default_categories and "categories" in record:
            record["categories"] = sorted(set(record["categories"]) | set(default_categories))
        value = record.get(key)
        if value:
            if value in seen:
                add(number, key_column, _("the same %(key)s as row %(row)d") % {"key": key_column, "row": seen[value]})
            else:
                seen[value] = number
        records.append(record)
        if n % 5000 == 4999:
            progress(0.05 + 0.35 * n / total, n)
    _coordinates(job, table, records, mapping, report)
    if layer == "people":
        for record in records:
            id_card = record.get("id_card")
            record["id_card_hash"] = crypto.search_hash(id_card) if id_card else ""
            if id_card and not record.get("birth_date"):
                record["birth_date"] = dt.date(int(id_card[6:10]), int(id_card[10:12]), int(id_card[12:14]))
            if id_card and not record.get("gender"):
                record["gender"] = "male" if int(id_card[16]) % 2 else "female"
            phone = record.get("phone")
            record["phone_hash"] = crypto.search_hash(phone) if phone else ""
    return records


def _coordinates(job: ImportJob, table: Table, records: list[dict], mapping: Mapping, report: _Report) -> None:
    """Each record's WGS 84 point (`lon`, `lat`) or None, and for organizations any other geometry (`wkb`)."""
    crs = job.crs or CRS.WGS84
    names = {t: c for c, t in mapping.columns.items()}
    if "lon" in names:
        for record in records:
            lon, lat = record.pop("lon", None), record.pop("lat", None)
            record["lon"] = record["lat"] = None
            if {"lon", "lat"} & record.get("_failed", set()):
                record["_bad_point"] = True  # reported already
                continue
            if lon is None and lat is None:
                continue
            if lon is None or lat is None:
                report.add(
                    record["_row"],
                    names["lon" if lon is None else "lat"],
                    _("longitude and latitude come in pairs; one is empty"),
                )
                continue
            _set_point(record, lon, lat, crs, names["lon"], names["lat"], report)
        return
    for record in records:
        record["lon"] = record["lat"] = None
    if table.geometries is None:
        return
    import numpy as np
    import shapely

    geoms = shapely.from_wkb(np.array(table.geometries, dtype=object), on_invalid="ignore")
    file_crs = table.crs
    if file_crs:
        from pyproj import CRS as ProjCRS
        from pyproj import Transformer

        source = ProjCRS.from_user_input(file_crs)
        if source.to_epsg() not in (4326, 4490, 4214, 4610):  # WGS 84, CGCS2000 (equal to < 1 m), Beijing 54, Xian 80
            transformer = Transformer.from_crs(source, 4326, always_xy=True)
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
            report.add(None, None, _("Coordinates transformed from %(crs)s to WGS 84.") % {"crs": source.name}, "info")
    points = shapely.get_type_id(geoms) == 0
    for record, geom, is_point in zip(records, geoms, points, strict=True):
        if geom is None or shapely.is_empty(geom):
            continue
        if is_point:
            _set_point(record, shapely.get_x(geom), shapely.get_y(geom), crs, _("geometry"), _("geometry"), report)
        elif job.layer == "organizations":
            if crs != CRS.WGS84:
                geom = shapely.transform(geom, lambda xy: np.array([to_wgs84(x, y, crs) for x, y in xy]))
            if not shapely.is_valid(geom):
                report.add(
                    record["_row"],
                    _("geometry"),
                    _("the geometry is not valid (%(why)s)") % {"why": shapely.is_valid_reason(geom)},
                )
                continue
            record["wkb"] = shapely.to_wkb(geom)
            inside = shapely.point_on_surface(geom)
            record["lon"], record["lat"] = shapely.get_x(inside), shapely.get_y(inside)
            record["geometry_is_point"] = False
        else:
            report.add(
                record["_row"],
                _("geometry"),
                _("a %(type)s; this layer takes points") % {"type": shapely.get_type_id(geom) and geom.geom_type},
            )


# ---------------------------------------------------------------- placement and look-ups


def _place(job: ImportJob, records: list[dict], mapping: Mapping, report: _Report, scope: set[int] | None) -> None:
    """Grid of each record (point, else named grid, household, address); references (households, employers…)."""
    layer = job.layer
    names = {t: c for c, t in mapping.columns.items()}
    with connection.cursor() as cursor:
        # points: every record with one, in one statement, by the placement rule (grid.selectors.territory)
        # in spatial order, so that consecutive points mostly fall in the same grid: PostGIS then reuses
        # that grid's prepared (indexed) polygon instead of preparing it again (about 3x faster)
        located = sorted(
            (r for r in records if r["lon"] is not None), key=lambda r: (int(r["lon"] * 500), int(r["lat"] * 500))
        )
        grid_of_point: dict[int, int] = {}
        if located:
            cursor.execute(
                "SELECT p.i, grid_containing(ST_SetSRID(ST_MakePoint(p.x, p.y), 4326)) "
                "FROM unnest(%s::int[], %s::float8[], %s::float8[]) AS p(i, x, y)",
                [list(range(len(located))), [r["lon"] for r in located], [r["lat"] for r in located]],
            )
            grid_of_point = {i: g for i, g in cursor.fetchall() if g is not None}
        for i, record in enumerate(located):
            record["grid_id"] = grid_of_point.get(i)
            record["placed_by"] = "point"
        grid_codes = _lookup(
            cursor, "SELECT code, id FROM grid_grid WHERE code = ANY(%s)", {r["grid"] for r in records if r.get("grid")}
        )
        # households (by number or address) only in the scope: another area's are answered as absent ones
        in_scope, scope_params = ("", []) if scope is None else (" AND h.grid_id = ANY(%s)", [sorted(scope)])
        households = {}
        if "household" in names:
            cursor.execute(
                "SELECT code, id, grid_id FROM layers_household h WHERE code = ANY(%s)" + in_scope,
                [sorted({r["household"] for r in records if r.get("household")}), *scope_params],
            )
            households = {code: (pk, grid) for code, pk, grid in cursor.fetchall()}
        by_address = {}
        needs_address = [r for r in records if r["lon"] is None and r.get("address")]
        if needs_address:
            cursor.execute(
                "SELECT DISTINCT ON (h.address) h.address, h.grid_id, ST_X(h.location), ST_Y(h.location) "
                "FROM layers_household h LEFT JOIN grid_grid g ON g.id = h.grid_id WHERE h.address = ANY(%s)"
                + in_scope
                + " ORDER BY h.address, (h.grid_id IS NULL), g.code",
                [sorted({r["address"] for r in needs_address}), *scope_params],
            )
            by_address = {a: (g, x, y) for a, g, x, y in cursor.fetchall()}
        unrestricted = scope is None
        for record in records:
            row = record["_row"]
            household = record.get("household")
            if household:
                found = households.get(household)
                if found is None:
                    report.add(row, names["household"], _("no household numbered %(code)s") % {"code": household})
                else:
                    record["household_id"] = found[0]
                    if record.get("grid_id") is None and found[1] is not None and "placed_by" not in record:
                        record["grid_id"], record["placed_by"] = found[1], "household"
            if record.get("grid") and "placed_by" not in record:
                if record["grid"] in grid_codes:
                    record["grid_id"], record["placed_by"] = grid_codes[record["grid"]], "grid"
                else:
                    report.add(row, names["grid"], _("no grid coded %(code)s") % {"code": record["grid"]})
                    continue
            if "placed_by" not in record and record.get("address") in by_address:
                grid, x, y = by_address[record["address"]]
                record["grid_id"], record["placed_by"] = grid, "address"
                if layer in _POINT_REQUIRED and x is not None:
                    record["lon"], record["lat"] = x, y
            if record.get("_bad_point"):
                continue  # its coordinates are reported already
            if layer in _POINT_REQUIRED and record["lon"] is None:
                report.add(
                    row,
                    names.get("lon") or names.get("address"),
                    _("no coordinates, and the address matches no household with a location"),
                )
                continue
            grid = record.get("grid_id")
            if grid is None:
                if record.get("placed_by") == "point":
                    problem = _("the point (%(lon).6f, %(lat).6f) lies in no grid") % {
                        "lon": record["lon"],
                        "lat": record["lat"],
                    }
                else:
                    problem = _("no coordinates, and no household or address that places it in a grid")
                report.add(
                    row,
                    names.get("lon") or names.get("household") or names.get("address"),
                    problem,
                    "warning" if unrestricted else "error",
                )
            elif not unrestricted and grid not in scope:
                report.add(
                    row,
                    names.get("lon") or names.get("household") or names.get("address") or names.get("grid"),
                    _("the row lies outside your area (grid %(grid)s)") % {"grid": _grid_code(grid)},
                )
        if layer == "people":
            _resolve_people_references(cursor, records, mapping, report, names)
        if layer == "organizations":
            parents = {r["parent_code"] for r in records if r.get("parent_code")}
            known = set(_lookup(cursor, "SELECT code, id FROM layers_organization WHERE code = ANY(%s)", parents))
            in_file = {r["code"] for r in records}
            for record in records:
                code = record.get("parent_code")
                if code and code not in known and code not in in_file:
                    report.add(
                        record["_row"], names["parent_code"], _("no organization coded %(code)s") % {"code": code}
                    )


def _refuse_sensitive(records: list[dict], mapping: Mapping, report: _Report) -> None:
    """Rows that would give a person a sensitive category: refused to an importer without clearance."""
    column = next((c for c, t in mapping.columns.items() if t == "categories"), None)
    for record in records:
        sensitive = sorted(SENSITIVE_CATEGORIES & set(record.get("categories") or ()))
        if sensitive:
            report.add(
                record["_row"],
                column,
                _("the categories %(categories)s can only be written by an account with clearance")
                % {"categories": ", ".join(str(PersonCategory(c).label) for c in sensitive)},
            )


def _writable_sql(layer: str, scope: set[int] | None, *, cleared: bool) -> tuple[str, list] | None:
    """The condition on a stored row `t` of the layer that the importer may write (None: any row), and its
    parameters: its grid in the scope and, without clearance, no sensitive category (such people are invisible)."""
    if scope is None:
        return None
    sql, params = "t.grid_id = ANY(%s)", [sorted(scope)]
    if layer == "people" and not cleared:
        sql += " AND NOT t.categories && %s::varchar[]"
        params.append(sorted(SENSITIVE_CATEGORIES))
    return sql, params


def _refuse_unwritable(
    layer: str, records: list[dict], mapping: Mapping, report: _Report, writable: tuple[str, list]
) -> None:
    """Rows whose key matches a stored row the importer may not write, each refused with KEY_REFUSED."""
    key = "id_card_hash" if layer == "people" else "code"
    keys = [r[key] for r in records if r.get(key)]
    if not keys:
        return
    sql, params = writable
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.{key} FROM {_TABLE[layer]} t WHERE t.{key} = ANY(%s) AND NOT COALESCE({sql}, false)",
            [keys, *params],
        )
        refused = {k for (k,) in cursor.fetchall()}
    if not refused:
        return
    column = next((c for c, t in mapping.columns.items() if t == _KEY[layer]), None)
    for record in records:
        if record.get(key) in refused:
            report.add(record["_row"], column, str(KEY_REFUSED))


def _grid_code(pk: int) -> str:
    return Grid.objects.filter(pk=pk).values_list("code", flat=True).first() or str(pk)


def _lookup(cursor, sql: str, values: set) -> dict:
    if not values:
        return {}
    cursor.execute(sql, [sorted(values)])
    return dict(cursor.fetchall())


def _resolve_people_references(
    cursor, records: list[dict], mapping: Mapping, report: _Report, names: dict[str, str]
) -> None:
    branches = _lookup(
        cursor,
        "SELECT code, id FROM layers_organization WHERE code = ANY(%s) "
        "AND kind IN ('party_committee', 'general_branch', 'branch')",
        {r["branch_code"] for r in records if r.get("branch_code")},
    )
    for record in records:
        code = record.get("branch_code")
        if code:
            if code in branches:
                record["branch_id"] = branches[code]
            else:
                report.add(
                    record["_row"], names["branch_code"], _("no party organization coded %(code)s") % {"code": code}
                )
    # employers: by credit code; by name alone when the file has no code (matched to an existing
    # organization of that name, else created under a code derived from the name, so re-imports match it)
    unnamed = {r["employer_name"] for r in records if r.get("employer_name") and not r.get("employer_code")}
    by_name = {}
    if unnamed:
        cursor.execute(
            "SELECT DISTINCT ON (name) name, code FROM layers_organization WHERE name = ANY(%s) ORDER BY name, code",
            [sorted(unnamed)],
        )
        by_name = dict(cursor.fetchall())
    for record in records:
        name, code = record.get("employer_name"), record.get("employer_code")
        if name and not code:
            record["employer_code"] = by_name.get(name) or "N-" + hashlib.sha256(name.encode()).hexdigest()[:20]
        elif code and not name:
            record["employer_name"] = ""
    record_kind = mapping.employer_kind
    for record in records:
        if record.get("employer_code"):
            record["employer_kind"] = record_kind


def _dry_run_done(job: ImportJob, report: _Report, *, created: int, updated: int) -> None:
    """A dry run ends here: what a real run would create and update, and nothing written."""
    job.created_count, job.updated_count, job.status = created, updated, JobStatus.DONE
    report.add(
        None,
        None,
        _("Dry run: %(c)d rows would be created and %(u)d updated; nothing was written.")
        % {"c": created, "u": updated},
        "info",
    )


def _existing_keys(layer: str, keys: list[str]) -> set[str]:
    column = "id_card_hash" if layer == "people" else "code"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {_TABLE[layer]} WHERE {column} = ANY(%s)", [keys])
        return {k for (k,) in cursor.fetchall()}


# ---------------------------------------------------------------- writing

_COLUMNS = {
    # temp column, SQL type, insert expression (NULL-safe), update expression when mapped
    "people": [
        ("name", "text", "s.name", "COALESCE(NULLIF(s.name, ''), t.name)"),
        ("gender", "text", "COALESCE(s.gender, '')", "COALESCE(NULLIF(s.gender, ''), t.gender)"),
        ("birth_date", "date", "s.birth_date", "COALESCE(s.birth_date, t.birth_date)"),
        ("id_card_hash", "text", "s.id_card_hash", None),
        ("id_card_encrypted", "text", "COALESCE(s.id_card_encrypted, '')", None),
        (
            "phone_hash",
            "text",
            "COALESCE(s.phone_hash, '')",
            "CASE WHEN s.phone_hash <> '' THEN s.phone_hash ELSE t.phone_hash END",
        ),
        (
            "phone_encrypted",
            "text",
            "COALESCE(s.phone_encrypted, '')",
            "CASE WHEN s.phone_hash <> '' AND s.phone_hash <> t.phone_hash THEN s.phone_encrypted "
            "ELSE t.phone_encrypted END",
        ),
        ("household_id", "bigint", "s.household_id", "COALESCE(s.household_id, t.household_id)"),
        ("location", None, None, None),
        ("grid_id", "bigint", "s.grid_id", "COALESCE(s.grid_id, t.grid_id)"),
        (
            "categories",
            "varchar(24)[]",
            "COALESCE(s.categories, '{}')",
            "ARRAY(SELECT DISTINCT c FROM unnest(t.categories || COALESCE(s.categories, '{}')) c ORDER BY c)",
        ),
        ("platform", "text", "COALESCE(s.platform, '')", "COALESCE(NULLIF(s.platform, ''), t.platform)"),
        ("work_kind", "text", "COALESCE(s.work_kind, '')", "COALESCE(NULLIF(s.work_kind, ''), t.work_kind)"),
        ("employer_id", "bigint", "s.employer_id", "COALESCE(s.employer_id, t.employer_id)"),
        ("branch_id", "bigint", "s.branch_id", "COALESCE(s.branch_id, t.branch_id)"),
        ("mobile_member", "boolean", "COALESCE(s.mobile_member, false)", "COALESCE(s.mobile_member, t.mobile_member)"),
        ("member_code", None, "''", None),
    ],
    "households": [
        ("code", "text", "s.code", None),
        ("address", "text", "s.address", "COALESCE(NULLIF(s.address, ''), t.address)"),
        ("building", "text", "COALESCE(s.building, '')", "COALESCE(NULLIF(s.building, ''), t.building)"),
        ("unit", "text", "COALESCE(s.unit, '')", "COALESCE(NULLIF(s.unit, ''), t.unit)"),
        ("room", "text", "COALESCE(s.room, '')", "COALESCE(NULLIF(s.room, ''), t.room)"),
        ("location", None, None, None),
        ("grid_id", "bigint", "s.grid_id", "COALESCE(s.grid_id, t.grid_id)"),
    ],
    "places": [
        ("code", "text", "s.code", None),
        ("name", "text", "s.name", "COALESCE(NULLIF(s.name, ''), t.name)"),
        ("kind", "text", "s.kind", "COALESCE(NULLIF(s.kind, ''), t.kind)"),
        ("address", "text", "COALESCE(s.address, '')", "COALESCE(NULLIF(s.address, ''), t.address)"),
        ("phone", "text", "COALESCE(s.phone, '')", "COALESCE(NULLIF(s.phone, ''), t.phone)"),
        ("location", None, None, None),
        ("grid_id", "bigint", "s.grid_id", "COALESCE(s.grid_id, t.grid_id)"),
    ],
    "things": [
        ("code", "text", "s.code", None),
        ("name", "text", "s.name", "COALESCE(NULLIF(s.name, ''), t.name)"),
        ("kind", "text", "s.kind", "COALESCE(NULLIF(s.kind, ''), t.kind)"),
        (
            "condition",
            "text",
            "COALESCE(NULLIF(s.condition, ''), 'ok')",
            "COALESCE(NULLIF(s.condition, ''), t.condition)",
        ),
        ("location", None, None, None),
        ("grid_id", "bigint", "s.grid_id", "COALESCE(s.grid_id, t.grid_id)"),
    ],
    "organizations": [
        ("code", "text", "s.code", None),
        ("name", "text", "s.name", "COALESCE(NULLIF(s.name, ''), t.name)"),
        ("kind", "text", "s.kind", "COALESCE(NULLIF(s.kind, ''), t.kind)"),
        ("address", "text", "COALESCE(s.address, '')", "COALESCE(NULLIF(s.address, ''), t.address)"),
        ("phone", "text", "COALESCE(s.phone, '')", "COALESCE(NULLIF(s.phone, ''), t.phone)"),
        ("geometry", None, None, None),
        ("grid_id", "bigint", "s.grid_id", "COALESCE(s.grid_id, t.grid_id)"),
    ],
}
_POINT_SQL = "CASE WHEN s.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) END"


def _temp_columns(layer: str) -> list[tuple[str, str]]:
    temp_columns = [(c, t) for c, t, _i, _u in _COLUMNS[layer] if t] + [("lon", "float8"), ("lat", "float8")]
    if layer == "organizations":
        temp_columns.append(("wkb", "bytea"))
    return temp_columns


def _upsert_sql(
    layer: str, *, has_location: bool, source: str = "_import_rows", writable: str | None = None
) -> tuple[str, str]:
    """UPDATE of the stored rows that `source` (the staged rows) matches, and INSERT of the others (existing
    ones skipped). `writable`: a condition on the stored row `t` that limits the UPDATE (see _writable_sql)."""
    table = _TABLE[layer]
    spec = _COLUMNS[layer]
    key = "id_card_hash" if layer == "people" else "code"
    insert_columns, insert_exprs, sets = [], [], []
    for column, _type, insert, update in spec:
        if column in ("location", "geometry"):
            expr = (
                f"CASE WHEN s.wkb IS NOT NULL THEN ST_SetSRID(ST_GeomFromWKB(s.wkb), 4326) ELSE {_POINT_SQL} END"
                if column == "geometry"
                else _POINT_SQL
            )
            insert_columns.append(column)
            insert_exprs.append(expr)
            if has_location:
                sets.append(f"{column} = COALESCE({expr}, t.{column})")
            continue
        insert_columns.append(column)
        insert_exprs.append(insert)
        if update:
            # every update expression keeps the stored value where the file has none (NULL or empty)
            sets.append(f"{column} = {update}")
    sets.append("modified = now()")
    names = ", ".join(insert_columns)
    update_sql = f"UPDATE {table} t SET {', '.join(sets)} FROM {source} s WHERE t.{key} = s.{key}"
    if writable:
        # checked row by row before; here again, so that a row stored meanwhile out of reach is left alone
        update_sql += f" AND {writable}"
    conflict = "(id_card_hash) WHERE NOT (id_card_hash = '')" if layer == "people" else "(code)"
    insert_sql = (
        f"INSERT INTO {table} AS t ({names}, created, modified) "
        f"SELECT {', '.join(insert_exprs)}, now(), now() FROM {source} s "
        f"ON CONFLICT {conflict} DO NOTHING"
    )  # the rows just updated, or written meanwhile
    return update_sql, insert_sql


def _write(
    job: ImportJob,
    records: list[dict],
    mapping: Mapping,
    report: _Report,
    progress: _Progress,
    writable: tuple[str, list] | None,
) -> tuple[int, int]:
    layer = job.layer
    temp_columns = _temp_columns(layer)
    update_sql, insert_sql = _upsert_sql(
        layer, has_location=any(r["lon"] is not None for r in records), writable=writable and writable[0]
    )
    update_params = writable[1] if writable else None
    created = updated = 0
    total = len(records) or 1
    with transaction.atomic(), connection.cursor() as cursor:
        # One import per layer at a time: two imports of the same people would otherwise race between
        # the UPDATE and the INSERT of a chunk. Other writers insert one row at a time and see the
        # unique constraints; such a row inserted meanwhile is skipped by ON CONFLICT and counted below.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"layers.import:{layer}"])
        if layer == "people":
            employers_created = _write_employers(cursor, records)
            if employers_created:
                report.add(
                    None, None, _("%(n)d organizations (employers) were created.") % {"n": employers_created}, "info"
                )
        cursor.execute(
            f"DROP TABLE IF EXISTS _import_rows; CREATE TEMP TABLE _import_rows "
            f"({', '.join(f'{c} {t}' for c, t in temp_columns)}) ON COMMIT DROP"
        )
        for start in range(0, len(records), CHUNK):
            chunk = records[start : start + CHUNK]
            # a list, built before COPY starts: the people rows need a query, which cannot run during COPY
            rows = _people_rows(cursor, chunk) if layer == "people" else _plain_rows(chunk, temp_columns)
            cursor.execute("TRUNCATE _import_rows")
            with cursor.cursor.copy(f"COPY _import_rows ({', '.join(c for c, _t in temp_columns)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            cursor.execute("ANALYZE _import_rows")
            cursor.execute(update_sql, update_params)
            updated += cursor.rowcount
            cursor.execute(insert_sql)
            created += cursor.rowcount
            done = start + len(chunk)
            progress(0.5 + 0.5 * done / total, done)
        if layer == "people":
            cursor.execute(
                "UPDATE layers_person t SET member_code = 'DY' || lpad(t.id::text, 10, '0') "
                "FROM _import_rows s WHERE t.id_card_hash = s.id_card_hash AND t.member_code = '' "
                "AND t.categories @> ARRAY[%s]::varchar[]" + (f" AND {writable[0]}" if writable else ""),
                [PersonCategory.PARTY_MEMBER, *(update_params or [])],
            )
        if layer == "organizations":
            _write_parents(cursor, records)
        skipped = len(records) - created - updated
        if skipped:
            report.add(
                None,
                None,
                _("%(n)d rows were written meanwhile by someone else and were left as they are.") % {"n": skipped},
                "warning",
            )
        audit_record(
            actor=job.created_by,
            action=AuditEntry.Action.IMPORT,
            target=f"layers.{layer}",
            reason=f"import job {job.pk}: {job.original_name}"[:300],
            details={
                "job": job.pk,
                "file": job.original_name,
                "rows": len(records),
                "created": created,
                "updated": updated,
                "preset": job.preset,
                "crs": job.crs,
            },
        )
    return created, updated


def _plain_rows(records: list[dict], temp_columns: list[tuple[str, str]]) -> list[list]:
    names = [c for c, _t in temp_columns]
    return [[record.get(n) for n in names] for record in records]


def _people_rows(cursor, records: list[dict]) -> list[tuple]:
    """Rows for the people temp table: ID-card numbers encrypted only for new people, phones only when changed."""
    cursor.execute(
        "SELECT id_card_hash, phone_hash FROM layers_person WHERE id_card_hash = ANY(%s)",
        [[r["id_card_hash"] for r in records]],
    )
    existing = dict(cursor.fetchall())
    new_ids = [r for r in records if r["id_card_hash"] not in existing]
    for record, token in zip(new_ids, crypto.encrypt_many([r["id_card"] for r in new_ids]), strict=True):
        record["id_card_encrypted"] = token
    phones = [r for r in records if r.get("phone") and existing.get(r["id_card_hash"]) != r["phone_hash"]]
    for record, token in zip(phones, crypto.encrypt_many([r["phone"] for r in phones]), strict=True):
        record["phone_encrypted"] = token
    return [
        (
            r.get("name"),
            r.get("gender"),
            r.get("birth_date"),
            r["id_card_hash"],
            r.get("id_card_encrypted"),
            r["phone_hash"],
            r.get("phone_encrypted"),
            r.get("household_id"),
            r.get("grid_id"),
            r.get("categories"),
            r.get("platform"),
            r.get("work_kind"),
            r.get("employer_id"),
            r.get("branch_id"),
            r.get("mobile_member"),
            r["lon"],
            r["lat"],
        )
        for r in records
    ]


def _write_employers(cursor, records: list[dict]) -> int:
    """Employers named by the rows, created where missing; each record gets its `employer_id`."""
    wanted: dict[str, tuple[str, str]] = {}
    for record in records:
        code = record.get("employer_code")
        if code and (code not in wanted or not wanted[code][0]):
            wanted[code] = (record.get("employer_name") or "", record["employer_kind"])
    if not wanted:
        return 0
    codes = sorted(wanted)
    cursor.execute(
        "INSERT INTO layers_organization (code, name, kind, address, phone, created, modified) "
        "SELECT c, CASE WHEN n = '' THEN c ELSE n END, k, '', '', now(), now() "
        "FROM unnest(%s::text[], %s::text[], %s::text[]) AS w(c, n, k) ON CONFLICT (code) DO NOTHING",
        [codes, [wanted[c][0] for c in codes], [wanted[c][1] for c in codes]],
    )
    created = cursor.rowcount
    ids = _lookup(cursor, "SELECT code, id FROM layers_organization WHERE code = ANY(%s)", set(codes))
    for record in records:
        code = record.get("employer_code")
        if code:
            record["employer_id"] = ids[code]
    return created


def _write_parents(cursor, records: list[dict]) -> None:
    pairs = [(r["code"], r["parent_code"]) for r in records if r.get("parent_code")]
    if pairs:
        cursor.execute(
            "UPDATE layers_organization t SET parent_id = p.id FROM unnest(%s::text[], %s::text[]) AS w(c, pc) "
            "JOIN layers_organization p ON p.code = w.pc WHERE t.code = w.c AND p.id <> t.id",
            [[c for c, _p in pairs], [p for _c, p in pairs]],
        )
