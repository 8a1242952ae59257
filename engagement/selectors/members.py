"""Reads of members and branches: online branches with their counts, activities and notices, the names a caller
may know, and the mobile members a home branch sees on its map."""

import datetime as dt

from django.contrib.gis.db.models.functions import Distance, GeometryDistance
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from engagement.access import branches, branches_known_to, branches_run_by
from engagement.models import Activity, BranchCadre, BranchNotice, CheckIn, MobileMemberRecord
from grid.models import AdminArea, User
from layers.models import Organization, Person

ACTIVITIES_SHOWN = 20
NOTICES_SHOWN = 20


def _communities_under(area: AdminArea) -> QuerySet[AdminArea]:
    """The communities at or below `area`, whatever its level (the tree is at most five deep)."""
    below = Q(pk=area.pk)
    path = "parent"
    for _level in range(4):
        below |= Q(**{path: area.pk})
        path += "__parent"
    return AdminArea.objects.filter(below, level=AdminArea.Level.COMMUNITY)


def _members_count() -> Subquery:
    counted = (
        Person.objects.filter(branch=OuterRef("pk")).order_by().values("branch").annotate(n=Count("pk")).values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def branches_listed(
    *, area: AdminArea | None = None, near: Point | None = None, radius_m: float | None = None
) -> QuerySet[Organization]:
    """Every branch (public), with its member count; within `area` and, with `near`,
    nearest first (true distance, in metres, as `distance`)."""
    qs = branches().select_related("parent").annotate(member_count=_members_count()).order_by("code")
    if area is not None:
        qs = qs.filter(grid__community__in=_communities_under(area).values("pk"))
    if near is not None:
        qs = qs.exclude(geometry=None).annotate(distance=Distance("geometry", near, spheroid=True))
        if radius_m is not None:
            qs = qs.filter(geometry__distance_lte=(near, D(m=radius_m), "spheroid"))
        qs = qs.order_by(GeometryDistance("geometry", near), "code")
    return qs


def branch_get(*, pk: int) -> Organization | None:
    return branches_listed().filter(pk=pk).first()


def branch_counts(*, branch: Organization) -> dict[str, int]:
    members = Person.objects.filter(branch=branch)
    today = timezone.localdate()
    return {
        "members": members.count(),
        "cadres": BranchCadre.objects.filter(branch=branch).count(),
        "mobile_members": MobileMemberRecord.objects.filter(person__branch=branch)
        .filter(Q(until=None) | Q(until__gte=today))
        .values("person")
        .distinct()
        .count(),
        "activities": Activity.objects.filter(branch=branch).count(),
    }


def branch_activities(*, branch: Organization, now: dt.datetime | None = None) -> dict[str, list[Activity]]:
    """The branch's activities not over yet (soonest first) and those past (latest first)."""
    now = now or timezone.now()
    qs = Activity.objects.filter(branch=branch).annotate(checkin_count=Count("checkins"))
    return {
        "upcoming": list(qs.filter(ends_at__gte=now).order_by("starts_at", "id")[:ACTIVITIES_SHOWN]),
        "past": list(qs.filter(ends_at__lt=now).order_by("-starts_at", "-id")[:ACTIVITIES_SHOWN]),
    }


def branch_notices(*, branch: Organization) -> QuerySet[BranchNotice]:
    return BranchNotice.objects.filter(branch=branch, published_at__lte=timezone.now()).order_by("-published_at", "-id")


def branch_is_known_to(*, user: User, branch: Organization) -> bool:
    return branches_known_to(user).filter(pk=branch.pk).exists()


def branch_is_run_by(*, user: User, branch: Organization) -> bool:
    return branches_run_by(user).filter(pk=branch.pk).exists()


def branch_people(*, branch: Organization) -> dict[str, list[dict]]:
    """Names and titles of a branch's cadres and members: only for those `branch_is_known_to`."""
    cadres = [
        {"name": c.person.name, "title": c.title, "title_display": c.get_title_display()}
        for c in BranchCadre.objects.filter(branch=branch).select_related("person").order_by("title", "person__name")
    ]
    members = [
        {"name": p.name, "member_code": p.member_code, "mobile": p.mobile_member}
        for p in Person.objects.filter(branch=branch)
        .order_by("name", "id")
        .only("name", "member_code", "mobile_member")
    ]
    return {"cadres": cadres, "members": members}


def _checkins_elsewhere() -> Subquery:
    counted = (
        CheckIn.objects.filter(person=OuterRef("person"))
        .exclude(activity__branch=OuterRef("person__branch"))
        .order_by()
        .values("person")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def branch_mobile_members(*, branch: Organization) -> QuerySet[MobileMemberRecord]:
    """The current whereabouts of the branch's members who are away, each with how many check-ins they made at
    other branches' activities (which count for this one)."""
    today = timezone.localdate()
    return (
        MobileMemberRecord.objects.filter(person__branch=branch)
        .filter(Q(until=None) | Q(until__gte=today), since__lte=today)
        .exclude(location=None)
        .select_related("person", "community")
        .annotate(checkins_elsewhere=_checkins_elsewhere(), person_name=F("person__name"))
        .order_by("person__name", "person_id", "-since", "-id")
        .distinct("person__name", "person_id")
    )


def whereabouts_of(*, person: Person) -> QuerySet[MobileMemberRecord]:
    return MobileMemberRecord.objects.filter(person=person).select_related("community").order_by("-since", "-id")
