from celery import shared_task
from django.db import OperationalError

from layers.io.exports import exports_purge
from layers.io.imports import import_run, import_sources_purge
from layers.models import ImportJob


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=1500,
)
def import_run_task(self, *, job_id: int) -> str | None:
    """Run an import job. A redelivery of a finished (done or failed) job changes nothing: import_run claims
    only pending jobs, and running ones whose worker died."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return None  # deleted meanwhile
    return import_run(job=job).status


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3, soft_time_limit=600)
def layers_files_purge_task() -> dict[str, int]:
    """Delete the files of expired exports, and any source file an ended import left (a worker killed mid-way).
    Run by Celery beat; a second run finds nothing more to delete."""
    return {"exports": exports_purge(), "imports": import_sources_purge()}


# Exports keep their task beside their service; imported here because autodiscovery reads only layers.tasks.
from layers.io.export_tasks import export_run_task  # noqa: E402, F401
