"""Writes of the workforce: where a worker's phone says it is, and whether the worker is on duty."""

import datetime as dt

from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone

from grid.models import User, WorkerStatus


def worker_status_update(
    *,
    user: User,
    location: Point | None = None,
    on_duty: bool | None = None,
    accuracy_m: float | None = None,
    at: dt.datetime | None = None,
) -> WorkerStatus:
    """Store the phone's position and duty status; a message older than the stored fix changes nothing.

    `at` is when the phone took the fix (or wrote the message). Phones resend queued messages out of
    order, so one whose `at` is older than the stored `position_at` is stale as a whole: its position
    would move the worker back in time, and its `on_duty` may undo a later toggle. A message without
    `at` is taken as current (its fix is stamped with the server's time) and always applies.
    """
    stamped = at is not None
    at = at or timezone.now()
    with transaction.atomic():
        # INSERT … ON CONFLICT DO NOTHING, then lock the row: two messages of one phone arriving at
        # once are applied one after the other, each comparing its time with what the other stored.
        WorkerStatus.objects.bulk_create([WorkerStatus(user=user)], ignore_conflicts=True)
        status = WorkerStatus.objects.select_for_update().get(user=user)
        if stamped and status.position_at is not None and at < status.position_at:
            return status
        if location is not None:
            status.location = location
            status.accuracy_m = accuracy_m
            status.position_at = at
        if on_duty is not None:
            status.on_duty = on_duty
        status.save()
    return status
