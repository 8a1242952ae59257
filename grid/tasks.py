from celery import shared_task
from django.db import OperationalError

from grid.services import places_refresh


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=300,
)
def places_refresh_task(self, *, grid_ids: list[int] | None = None) -> dict[str, int]:
    """Re-place incidents and stations after grid boundaries changed. A redelivery changes nothing."""
    return places_refresh(grid_ids=grid_ids)
