"""Celery tasks of party building: they take primary keys or nothing, re-read state, and call the services."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from engagement.services.activities import activities_organized_award
from engagement.services.checkins import checkins_from_meetings
from engagement.services.volunteering import service_requests_sweep
from grid.tasking import db_task


@db_task(soft_time_limit=120)
def checkins_from_meetings_task(*, meeting_checkin_ids: list[int] | None = None) -> int:
    """Face check-ins of meetings linked to an activity become its check-ins: those named, or every one not yet
    turned (the beat's sweep). A second run finds nothing to do."""
    return len(checkins_from_meetings(meeting_checkin_ids=meeting_checkin_ids))


@db_task(soft_time_limit=120)
def activities_organized_task() -> int:
    """Points for the organizers of activities that ended with a record; a second run awards nothing."""
    return activities_organized_award()


def face_checkins_enqueue(meeting_checkin_ids: list[int]) -> None:
    """vision.attendance's hook: called after its new meeting check-ins commit."""
    checkins_from_meetings_task.delay(meeting_checkin_ids=meeting_checkin_ids)


@db_task(soft_time_limit=50)
def service_requests_sweep_task() -> dict[str, int]:
    """Every minute: service hours for volunteers' resolved service requests, points for resolved reports, over the
    last ENGAGEMENT_SWEEP_LOOKBACK_HOURS. A second run changes nothing."""
    since = timezone.now() - dt.timedelta(hours=settings.ENGAGEMENT_SWEEP_LOOKBACK_HOURS)
    return service_requests_sweep(since=since)
