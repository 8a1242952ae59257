"""The export job's Celery task (imported by layers/tasks.py, which Celery's autodiscovery reads)."""

from celery import shared_task
from django.db import OperationalError

from layers.io.exports import export_run
from layers.models import ExportJob


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=1800,
)
def export_run_task(self, *, job_id: int) -> str | None:
    """Run an export job. A redelivery of a finished (done or failed) job changes nothing: export_run claims
    only pending jobs, and running ones whose worker died."""
    job = ExportJob.objects.filter(pk=job_id).first()
    if job is None:
        return None  # deleted meanwhile
    return export_run(job=job).status
