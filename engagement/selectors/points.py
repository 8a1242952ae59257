"""Reads of the points ledger: a person's entries, what they earned, and the leaderboards of branches and
communities."""

import datetime as dt

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext

from engagement.models import CommunityRegistration, PointsEntry
from engagement.models.points import MALL_ORDER, MALL_REFUND, REASON_NAMES
from grid.models import AdminArea
from layers.models import Organization, Person

# What a person spends and gets back in the mall is no achievement: leaderboards rank what was earned.
NOT_EARNED = (MALL_ORDER, MALL_REFUND)


def points_entries(*, person: Person) -> QuerySet[PointsEntry]:
    """The person's ledger, newest first."""
    return PointsEntry.objects.filter(person=person).select_related("rule").order_by("-created", "-id")


def reason_name(entry: PointsEntry) -> str:
    """An entry's reason for people: the rule's name (translated where the catalogue knows the seeded name), or the
    name of a reason that no rule earns."""
    if entry.rule is not None:
        return gettext(entry.rule.name)
    name = REASON_NAMES.get(entry.reason)
    return str(name) if name is not None else entry.reason


def month_start(at: dt.datetime | None = None) -> dt.datetime:
    """The first instant of the month of `at` in the display time zone."""
    local = timezone.localtime(at or timezone.now())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def points_earned(*, person: Person, since: dt.datetime | None = None) -> int:
    qs = PointsEntry.objects.filter(person=person).exclude(reason__in=NOT_EARNED)
    if since is not None:
        qs = qs.filter(created__gte=since)
    return qs.aggregate(total=Sum("amount"))["total"] or 0


def name_masked(name: str) -> str:
    """A name as people without a right to it see it: the family name and one star per other character (张**)."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)


def people_of_branch(branch: Organization) -> QuerySet[Person]:
    return Person.objects.filter(branch=branch)


def people_of_community(community: AdminArea) -> QuerySet[Person]:
    """Those who live in the community's grids and those it accepted at community check-in (进社区报到)."""
    accepted = CommunityRegistration.objects.filter(
        community=community, status=CommunityRegistration.Status.ACCEPTED
    ).values("person_id")
    return Person.objects.filter(Q(grid__community=community) | Q(pk__in=accepted))


def points_leaderboard(*, people: QuerySet[Person], since: dt.datetime | None = None, limit: int = 10) -> list[dict]:
    """The `limit` people of `people` who earned the most points (since `since`), most first: person id, name and
    points, ties by the register's order (id)."""
    qs = PointsEntry.objects.filter(person__in=people.values("pk")).exclude(reason__in=NOT_EARNED)
    if since is not None:
        qs = qs.filter(created__gte=since)
    rows = (
        qs.values("person_id", "person__name")
        .annotate(points=Sum("amount"))
        .filter(points__gt=0)
        .order_by("-points", "person_id")[:limit]
    )
    return [{"person": r["person_id"], "name": r["person__name"], "points": r["points"]} for r in rows]
