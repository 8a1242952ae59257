"""The staged path of imports, for large files of places, things and households without geometries: columns, a
staging table, SQL.

The row-by-row path validates into dicts; for a file of a million rows that Python work (a converter call per
cell, a dict per row, a report check per row) costs more than PostgreSQL's whole write. Here the rows are
validated column by column (staged_columns); their codes and points go by COPY into temporary staging tables
and are placed in grids by one spatial join (staged_locate), on a thread while Python validates the other
columns; rows without a usable point are few and keep the row-by-row placement (grid code, else a household's
address). Stored rows are updated by the row-by-row path's UPDATE; new rows are COPY'd straight into the layer's
table (staged_write). Problems are handed to the report in the order the row-by-row path writes them:
conversion, required and duplicate problems of each row, then coordinates, then placement.
"""

from collections.abc import Callable

from django.db import connection, transaction
from django.utils.translation import gettext as _

from grid.crs import CRS
from layers.io.imports.place import place, writable_sql
from layers.io.imports.report import KEY_REFUSED, PLACEMENT, Problems, Report, dry_run_done, import_audited, job_failed
from layers.io.imports.staged_columns import take_placement, unlocated, validate
from layers.io.imports.staged_locate import Locating, more_temp_buffers, outside, take_grids, unplaced
from layers.io.imports.staged_write import copy_new, stage_full, stored, stored_where
from layers.io.imports.write import temp_columns, upsert_sql
from layers.io.mapping import Mapping
from layers.io.readers import Table
from layers.io.specs import IMPORTS
from layers.models import ImportJob, JobStatus

FAST_LAYERS = frozenset(name for name, spec in IMPORTS.items() if spec.staged)


def fits(layer: str, table: Table) -> bool:
    """Whether the staged path takes this import: a staged layer (the spec's `staged`) from a file without
    geometries."""
    return layer in FAST_LAYERS and table.geometries is None


def run_staged(
    job: ImportJob,
    table: Table,
    mapping: Mapping,
    report: Report,
    progress: Callable[..., None],
    scope: set[int] | None,
    *,
    skip_invalid: bool,
) -> None:
    """The import of a file that `fits`: the same checks and report as the row-by-row path, the rows validated
    per column, staged by COPY, placed in grids by one spatial join, upserted set-based."""
    layer = job.layer
    spec = IMPORTS[layer]
    n = len(table.rows)
    names = {t: c for c, t in mapping.columns.items()}
    problems = Problems()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '64MB'")  # big one-off statements: no JIT
        more_temp_buffers(cursor)
        # PostgreSQL stages and locates the rows (Locating's thread) as soon as their codes and points
        # are validated, while the other columns are: no query on this connection until it is done
        locating = Locating(cursor)
        try:
            columns = validate(layer, table, mapping, job.crs or CRS.WGS84, problems, progress, ready=locating.start)
            table.rows = []  # the columns hold it now; the rows are memory a million rows long
            progress(0.4, 0)
        finally:
            locating.wait()
        progress(0.6, 0)
        elsewhere = unlocated(columns)
        if elsewhere:
            records = [columns.record(i) for i in elsewhere]
            place(job, records, mapping, problems.sink(PLACEMENT), scope)
            take_placement(columns, elsewhere, records)
        rows = columns.rows
        column = names.get("lon") or names.get("household") or names.get("address")
        for i, lon, lat in unplaced(columns):
            problems.add(
                PLACEMENT,
                rows[i],
                (0,),
                column,
                _("the point (%(lon).6f, %(lat).6f) lies in no grid") % {"lon": lon, "lat": lat},
                "warning" if scope is None else "error",
            )
        if scope is not None:
            for i, code in outside(cursor, columns, scope):
                problems.add(
                    PLACEMENT,
                    rows[i],
                    (0,),
                    column or names.get("grid"),
                    _("the row lies outside your area (grid %(grid)s)") % {"grid": code},
                )
        writable = writable_sql(layer, scope, cleared=True)  # no sensitive categories in these layers
        if writable is not None:
            for i in stored_where(cursor, spec.table, f"NOT COALESCE({writable[0]}, false)", writable[1]):
                problems.add(PLACEMENT, rows[i], (1,), names.get("code"), str(KEY_REFUSED))
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
            return job_failed(job, _("Nothing was written: %(n)d problems (see the report).") % {"n": report.errors})
        if not job.dry_run:
            # Nobody else writes this layer until the import commits (reads go on): the rows found stored
            # below are then exactly those the write updates, and the others can be COPY'd in without
            # ON CONFLICT. Also one import per layer at a time, as the advisory lock of the row-by-row write.
            cursor.execute(f"LOCK TABLE {spec.table} IN SHARE ROW EXCLUSIVE MODE")
        kept_set = set(keep) if kept < n else None
        matched = [i for i in stored(cursor, spec.table) if kept_set is None or i in kept_set]
        if job.dry_run:
            progress(1.0, kept, force=True)
            dry_run_done(job, report, created=kept - len(matched), updated=len(matched))
            return None
        take_grids(columns)
        updated = 0
        if matched:
            stage_full(cursor, temp_columns(layer), columns, matched)
            update_sql, _insert_sql = upsert_sql(
                layer, has_location=any(x is not None for x in columns.lon), writable=writable and writable[0]
            )
            cursor.execute(update_sql, writable[1] if writable else None)
            updated = cursor.rowcount
        progress(0.7, updated)
        stored_set = set(matched)
        new = [i for i in keep if i not in stored_set]
        copy_new(
            cursor,
            spec.table,
            spec.columns,
            columns,
            new,
            lambda done: progress(0.7 + 0.3 * (updated + done) / (kept or 1), updated + done),
        )
        created = len(new)
        import_audited(job=job, layer=layer, rows=kept, created=created, updated=updated)
    job.created_count, job.updated_count = created, updated
    job.status = JobStatus.DONE
    progress(1.0, kept, force=True)
    return None
