"""An import job from start to end: claimed once (a redelivery changes nothing), its file read, its columns
mapped, then the staged or the row-by-row path; progress reported on a connection of its own; the source file
deleted however the job ends."""

import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

import layers.io.imports.staged as staged  # by module: its `fits` is looked up at each call
from grid.access import grids_for, may_see_sensitive
from grid.crs import CRS
from grid.models import Role, User
from layers.io.imports.report import Report, job_failed
from layers.io.imports.rows import run_rows
from layers.io.mapping import PRESETS, resolve_mapping
from layers.io.readers import ReadError, paused_gc, read_table
from layers.io.specs import IMPORTS
from layers.models import ImportJob, JobStatus

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
# A job still RUNNING after this long lost its worker (acks_late redelivers it): it may be claimed again.
STALE_AFTER = dt.timedelta(minutes=30)
IMPORTER_ROLES = {Role.ADMINISTRATOR, Role.DISPATCHER}


def may_import(user: User | None) -> bool:
    """Administrators and dispatchers (within their scope), and superusers."""
    return bool(
        user and user.is_authenticated and user.is_active and (user.is_superuser or user.role in IMPORTER_ROLES)
    )


def max_bytes() -> int:
    return int(getattr(settings, "IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


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
                    f"UPDATE {ImportJob._meta.db_table} SET progress = %s, rows_done = %s, rows_total = %s, "
                    "modified = now() WHERE id = %s",
                    [job.progress, rows_done, job.rows_total, job.pk],
                )
        except Exception:  # a courtesy, as above: logged, never raised
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
    report = Report()
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


def _run(job: ImportJob, report: Report, progress: _Progress, *, skip_invalid: bool) -> None:
    layer = job.layer
    if layer not in IMPORTS:
        report.add(
            None,
            None,
            _("Unknown layer %(layer)s; importable: %(known)s") % {"layer": layer, "known": ", ".join(IMPORTS)},
        )
        return job_failed(job, _("Nothing was written: the import has errors."))
    if job.preset and (job.preset not in PRESETS or PRESETS[job.preset].layer != layer):
        report.add(
            None, None, _("Preset %(preset)s does not fit layer %(layer)s.") % {"preset": job.preset, "layer": layer}
        )
        return job_failed(job, _("Nothing was written: the import has errors."))
    if job.crs and job.crs not in CRS.__members__.values():
        report.add(None, None, _("Unknown coordinate system %(crs)s: use wgs84, gcj02 or bd09.") % {"crs": job.crs})
        return job_failed(job, _("Nothing was written: the import has errors."))
    try:
        with _local_path(job) as path:
            table = read_table(path, name=job.original_name or job.source.name, max_bytes=max_bytes())
    except ReadError as exc:
        report.add(None, None, str(exc))
        return job_failed(job, str(exc))
    except FileNotFoundError:
        report.add(None, None, _("The uploaded file is gone."))
        return job_failed(job, _("The uploaded file is gone."))
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
        return job_failed(job, _("Nothing was written: the file does not fit the import (see the report)."))
    for number, problem in table.row_problems:
        report.add(number, None, problem)

    # An import writes only what its importer may read: rows placed in the grids of its scope, stored rows
    # matched there only, sensitive categories only with clearance. A job without an account (an operator's
    # `manage.py import_layer` without --user) is not limited.
    user = job.created_by
    scope = None if user is None or user.is_superuser else set(grids_for(user).values_list("pk", flat=True))
    cleared = user is None or may_see_sensitive(user)
    if staged.fits(layer, table):
        with paused_gc():  # a million rows' columns and lists: see paused_gc
            return staged.run_staged(job, table, mapping, report, progress, scope, skip_invalid=skip_invalid)
    return run_rows(job, table, mapping, report, progress, scope, cleared=cleared, skip_invalid=skip_invalid)
