"""The layers app's Celery tasks: import and export jobs run by a worker, and the purge of their files."""

from collections.abc import Callable

from django.db import models

from grid.tasking import db_task
from layers.io.exports import export_run, exports_purge
from layers.io.imports import import_run, import_sources_purge
from layers.models import ExportJob, ImportJob


def _job_run(model: type[models.Model], run: Callable, job_id: int) -> str | None:
    """Run the job if it still exists; its status after the run."""
    job = model.objects.filter(pk=job_id).first()
    if job is None:
        return None  # deleted meanwhile
    return run(job=job).status


@db_task(soft_time_limit=1500)
def import_run_task(*, job_id: int) -> str | None:
    """Run an import job. A redelivery of a finished (done or failed) job changes nothing: import_run claims
    only pending jobs, and running ones whose worker died."""
    return _job_run(ImportJob, import_run, job_id)


# Registered under its established name, so that jobs queued by a running deployment still find it.
@db_task(soft_time_limit=1800, name="layers.io.export_tasks.export_run_task")
def export_run_task(*, job_id: int) -> str | None:
    """Run an export job. A redelivery of a finished (done or failed) job changes nothing: export_run claims
    only pending jobs, and running ones whose worker died."""
    return _job_run(ExportJob, export_run, job_id)


@db_task(soft_time_limit=600, max_retries=3)
def layers_files_purge_task() -> dict[str, int]:
    """Delete the files of expired exports, and any source file an ended import left (a worker killed mid-way).
    Run by Celery beat; a second run finds nothing more to delete."""
    return {"exports": exports_purge(), "imports": import_sources_purge()}
