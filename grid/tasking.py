"""How Gridline's Celery tasks are declared: one decorator for every app's tasks."""

from collections.abc import Callable

from celery import shared_task
from django.db import OperationalError


def db_task(*, soft_time_limit: int | None, max_retries: int = 5, **options) -> Callable:
    """A Celery task that is acknowledged only once it ran (a worker that dies mid-way leaves it queued) and is
    retried with jittered backoff when the database is unavailable, the one error a later try may not meet.
    Other errors are not retried: they would fail the same way again. `options` go to `shared_task` as they are
    (a `name`, a `time_limit`)."""
    return shared_task(
        acks_late=True,
        autoretry_for=(OperationalError,),
        retry_backoff=True,
        retry_jitter=True,
        max_retries=max_retries,
        soft_time_limit=soft_time_limit,
        **options,
    )
