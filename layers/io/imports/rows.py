"""The row-by-row path of imports (people, organizations, and any file with geometries): each row validated into
a record, placed in a grid, refused where it is out of the importer's reach, then all written in one transaction."""

from collections.abc import Callable

from django.utils.translation import gettext as _

from layers.io.imports.place import existing_keys, place, refuse_sensitive, refuse_unwritable, writable_sql
from layers.io.imports.report import Report, dry_run_done, job_failed
from layers.io.imports.validate import validate_rows
from layers.io.imports.write import write
from layers.io.mapping import Mapping
from layers.io.readers import Table
from layers.io.specs import IMPORTS
from layers.models import ImportJob, JobStatus


def run_rows(
    job: ImportJob,
    table: Table,
    mapping: Mapping,
    report: Report,
    progress: Callable[..., None],
    scope: set[int] | None,
    *,
    cleared: bool,
    skip_invalid: bool,
) -> None:
    """The import row by row: records validated, placed, refused where out of reach, then written (or counted)."""
    layer = job.layer
    records = validate_rows(job, table, mapping, report, progress)
    place(job, records, mapping, report, scope)
    if layer == "people" and not cleared:
        refuse_sensitive(records, mapping, report)
    writable = writable_sql(layer, scope, cleared=cleared)
    if writable is not None:
        refuse_unwritable(layer, records, mapping, report, writable)
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
        return job_failed(job, _("Nothing was written: %(n)d problems (see the report).") % {"n": report.errors})
    if job.dry_run:
        key = IMPORTS[layer].match
        existing = existing_keys(layer, [r[key] for r in records])
        job.updated_count = sum(1 for r in records if r[key] in existing)
        job.rows_done, job.progress = len(records), 1.0
        dry_run_done(job, report, created=len(records) - job.updated_count, updated=job.updated_count)
        return None
    created, updated = write(job, records, mapping, report, progress, writable)
    job.created_count, job.updated_count = created, updated
    job.status = JobStatus.DONE
    progress(1.0, len(records), force=True)
    return None
