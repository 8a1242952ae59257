"""Background work of face attendance. The no-show sweep reads and writes the database only (no OpenCV), so it
may run on the default queue; CELERY_BEAT_SCHEDULE runs it every few minutes."""

from celery import shared_task
from django.db import OperationalError

from vision.attendance.services import duty_no_shows


@shared_task(
    name="vision.attendance.tasks.duty_no_shows_task",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
    soft_time_limit=120,
)
def duty_no_shows_task() -> int:
    """Mark today's no-shows absent and tell each duty's responsible person once. Running it twice changes nothing."""
    return len(duty_no_shows())
