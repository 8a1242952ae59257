from celery import shared_task
from django.db import OperationalError

from grid.services import incident_route, incidents_route_unrouted, incidents_sweep, places_refresh


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


@shared_task(
    bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, retry_jitter=True, max_retries=5
)
def incident_route_task(self, *, incident_id: int) -> bool:
    """Route a new report. A redelivery (or a report the sweep routed first) does nothing."""
    return incident_route(incident_id=incident_id)


@shared_task(acks_late=True, soft_time_limit=50)
def incidents_route_unrouted_task() -> int:
    """Every minute: route reports whose routing could not be enqueued (the broker was down)."""
    return incidents_route_unrouted()


@shared_task(acks_late=True, soft_time_limit=50)
def incidents_sweep_task() -> dict[str, int]:
    """Every minute: warning levels, notifications and escalation. Running it twice changes nothing."""
    return incidents_sweep()
