from celery import shared_task
from django.db import OperationalError

from layers.io.imports import import_run
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


# Exports keep their task beside their service; imported here because autodiscovery reads only layers.tasks.
from layers.io.export_tasks import export_run_task  # noqa: E402, F401
