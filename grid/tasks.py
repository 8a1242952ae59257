from celery import shared_task
from django.db import OperationalError

from grid.services import incidents_place


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, retry_jitter=True,
             max_retries=5, soft_time_limit=300)
def incidents_place_task(self, *, grid_ids: list[int] | None = None) -> int:
    """Re-place incidents after grid boundaries changed. Idempotent: a redelivery changes nothing."""
    return incidents_place(grid_ids=grid_ids)
