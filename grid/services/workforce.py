"""Writes of the workforce: where a worker's phone says it is, and whether the worker is on duty."""

import datetime as dt

from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone

from grid.access import AREA_ROLES
from grid.models import AdminArea, User, WorkerStatus


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


def volunteer_reach_grant(*, user: User, community: AdminArea) -> tuple[bool, bool]:
    """Let `user` claim the service requests of `community` (incidents_in_reach): the community among its areas
    and the volunteer flag. Returns (area added, flag set): what was not there before, for the caller to take back.

    A dispatcher's, administrator's or auditor's areas are their access scope: such accounts get nothing here."""
    if user.role in AREA_ROLES or user.is_superuser:
        return False, False
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        area_added = not locked.areas.filter(pk=community.pk).exists()
        if area_added:
            locked.areas.add(community)
        volunteer_set = not locked.volunteer
        if volunteer_set:
            User.objects.filter(pk=user.pk).update(volunteer=True)
    user.volunteer = True
    return area_added, volunteer_set


def volunteer_reach_revoke(*, user: User, community: AdminArea | None = None, volunteer: bool = False) -> None:
    """Take back what volunteer_reach_grant gave: the community from the account's areas, and (with `volunteer`)
    the volunteer flag. Staff accounts are left as they are, as the grant left them."""
    if user.role in AREA_ROLES or user.is_superuser:
        return
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).get()
        if community is not None:
            user.areas.remove(community)
        if volunteer:
            User.objects.filter(pk=user.pk).update(volunteer=False)
            user.volunteer = False
