from celery import shared_task

from grid.services import incident_route, incidents_route_unrouted, incidents_sweep, places_refresh
from grid.tasking import db_task


@db_task(soft_time_limit=300)
def places_refresh_task(*, grid_ids: list[int] | None = None) -> dict[str, int]:
    """Re-place incidents and stations after grid boundaries changed. A redelivery changes nothing."""
    return places_refresh(grid_ids=grid_ids)


@db_task(soft_time_limit=None)
def incident_route_task(*, incident_id: int) -> bool:
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
