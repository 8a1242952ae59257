"""Reads of activities. What an activity is (title, kind, branch, time, venue) is public; its record (minutes,
photos, videos, frames) is for those who know the organizing branch; its attendance names are for them and, for
each member, for the member's own home branch."""

import datetime as dt

from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat
from django.utils import timezone

from engagement.access import branches_known_to, branches_run_by, person_of
from engagement.models import Activity, ActivityMedia, CheckIn, PointsEntry
from grid.models import User
from layers.models import Person, PersonCategory

ORGANIZED_RULE = "activity_organized"


def activity_key(rule: str, activity_id: int) -> str:
    return f"{rule}:engagement.activity:{activity_id}"


def activities_public() -> QuerySet[Activity]:
    """Every activity, as anybody may read it (the record and attendance are not part of it)."""
    return Activity.objects.select_related("branch", "grid", "venue_station", "venue_place", "venue_organization")


def activities_run_by(user: User | AnonymousUser) -> QuerySet[Activity]:
    """The activities `user` may change: those of the branches it runs."""
    return activities_public().filter(branch__in=branches_run_by(user).values("pk"))


def activities_with_record_for(user: User | AnonymousUser) -> QuerySet[Activity]:
    """The activities whose record (minutes, photos, videos, frames) `user` may read: those of the branches it
    knows (which include every branch it runs)."""
    return activities_public().filter(branch__in=branches_known_to(user).values("pk"))


def activities_list(
    *,
    user: User | AnonymousUser,
    near: Point | None = None,
    radius_m: float | None = None,
    branch_id: int | None = None,
    kind: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    mine: bool = False,
) -> QuerySet[Activity]:
    """Activities by the filters; nearest first around `near` (within `radius_m`), else the latest first."""
    qs = activities_public()
    if branch_id is not None:
        qs = qs.filter(branch_id=branch_id)
    if kind:
        qs = qs.filter(kind=kind)
    if since is not None:
        qs = qs.filter(ends_at__gte=since)
    if until is not None:
        qs = qs.filter(starts_at__lt=until)
    if mine:
        qs = qs.filter(activities_of_q(person_of(user)))
    if near is not None:
        qs = qs.annotate(distance=Distance("location", near))
        if radius_m is not None:
            qs = qs.filter(location__dwithin=(near, D(m=radius_m)))
        return qs.order_by("distance", "starts_at", "pk")
    return qs.order_by("-starts_at", "-pk")


def activities_of_q(person: Person | None) -> Q:
    """A member's activities: of the member's branch, those it checked in to, and those it is expected at."""
    if person is None:
        return Q(pk__in=[])
    q = Q(checkins__person=person)
    if person.branch_id is not None:
        q |= Q(branch_id=person.branch_id) | Q(audience=Activity.Audience.BRANCHES, invited_branches=person.branch_id)
    return Q(pk__in=Activity.objects.filter(q).values("pk"))


def activity_expected_people(activity: Activity) -> QuerySet[Person]:
    """The members an activity expects: its branch's (and invited branches') party members; nobody in particular
    for an activity open to all."""
    if activity.audience == Activity.Audience.ALL:
        return Person.objects.none()
    branches = [activity.branch_id]
    if activity.audience == Activity.Audience.BRANCHES:
        branches += list(activity.invited_branches.values_list("pk", flat=True))
    return Person.objects.filter(branch_id__in=branches, categories__contains=[PersonCategory.PARTY_MEMBER])


def activity_expected_count(activity: Activity) -> int | None:
    if activity.audience == Activity.Audience.ALL:
        return None
    return activity_expected_people(activity).count()


def activity_attendance_for(*, user: User | AnonymousUser, activity: Activity) -> QuerySet[CheckIn] | None:
    """The check-ins of `activity` that `user` may read by name: all of them for those who know the organizing
    branch, and each member's own for the member's home branch. None when `user` may read none of them (not even
    that there are any)."""
    known = branches_known_to(user)
    checkins = CheckIn.objects.filter(activity=activity).select_related("person", "home_branch")
    if known.filter(pk=activity.branch_id).exists():
        return checkins.order_by("at", "pk")
    own = checkins.filter(home_branch__in=known.values("pk"))
    return own.order_by("at", "pk") if own.exists() else None


def activity_media_of(activity: Activity) -> QuerySet[ActivityMedia]:
    return ActivityMedia.objects.filter(activity=activity).order_by("created", "pk")


def activity_has_record_q() -> Q:
    """An activity with a record: minutes written, or a photo or video."""
    return ~Q(minutes="") | Q(Exists(ActivityMedia.objects.filter(activity=OuterRef("pk"))))


def activities_organized_due(*, now: dt.datetime | None = None) -> QuerySet[Activity]:
    """Activities that have ended with a record and not yet earned their organizer's points."""
    now = now or timezone.now()
    awarded = PointsEntry.objects.filter(
        idempotency_key=Concat(Value(f"{ORGANIZED_RULE}:engagement.activity:"), OuterRef("pk"))
    )
    return (
        # a month back: an activity whose organizer cannot be found is not looked at for ever
        Activity.objects.filter(ends_at__lte=now, ends_at__gte=now - dt.timedelta(days=31))
        .filter(status=Activity.Status.PLANNED)
        .filter(activity_has_record_q())
        .exclude(Exists(awarded))
        .order_by("pk")
    )


def activities_checked_in(*, person: Person, activity_ids: list[int]) -> set[int]:
    """Which of these activities `person` checked in to."""
    return set(
        CheckIn.objects.filter(person=person, activity_id__in=activity_ids).values_list("activity_id", flat=True)
    )
