"""Incident statistics of an area: per area one level below it and per category, what came in during a period,
how much of it is closed, how fast it was accepted and resolved, and what is overdue now."""

import datetime as dt
from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.db.models import Aggregate, Count, DurationField, F, Q

from grid.access import AREA_ROLES, incidents_for
from grid.models import AdminArea, Grid, Incident, User

Level = AdminArea.Level

# For an area of each level: the incident field that names the area one level below it (its grid, below a
# community), and the lookup that keeps incidents inside the area.
_CHILD_FIELD = {
    Level.PROVINCE: "county__parent_id",
    Level.CITY: "county_id",
    Level.COUNTY: "street_id",
    Level.STREET: "community_id",
    Level.COMMUNITY: "grid_id",
}
_INSIDE = {
    Level.PROVINCE: "county__parent__parent_id__in",
    Level.CITY: "county__parent_id__in",
    Level.COUNTY: "county_id__in",
    Level.STREET: "street_id__in",
    Level.COMMUNITY: "community_id__in",
}


class AreaOutOfScope(Exception):
    """The account may not see this area's incidents (or has no area at all)."""


class Median(Aggregate):
    """The median of an interval (percentile_cont works on intervals as on numbers); NULLs are left out."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def areas_in_scope(*, user: User | AnonymousUser, area: AdminArea | None) -> list[AdminArea]:
    """The areas to report on: `area` if the user's scope holds it (one of their areas or below one), else
    AreaOutOfScope; without `area`, the user's highest areas (a superuser's: every county)."""
    if not user.is_authenticated or not user.is_active:
        raise AreaOutOfScope
    if user.is_superuser:
        if area is not None:
            return [area]
        return list(AdminArea.objects.filter(level=Level.COUNTY).order_by("code"))
    own = list(user.areas.all()) if user.role in AREA_ROLES else []
    if not own:
        raise AreaOutOfScope
    if area is None:
        top = min(a.level for a in own)
        return sorted((a for a in own if a.level == top), key=lambda a: a.code)
    # The area and its ancestors: the caller fetches it with its parents (select_related), the tree being at
    # most five deep.
    ancestors, node = set(), area
    while node is not None:
        ancestors.add(node.pk)
        node = node.parent
    if not ancestors & {a.pk for a in own}:
        raise AreaOutOfScope
    return [area]


def _children(areas: list[AdminArea]) -> dict[int, dict[str, str]]:
    """{id: {"code", "name"}} of the areas one level below `areas` (grids below communities), in code order."""
    if areas[0].level == Level.COMMUNITY:
        rows: Iterable = Grid.objects.filter(community__in=areas).order_by("code").values_list("pk", "code", "name")
    else:
        rows = AdminArea.objects.filter(parent__in=areas).order_by("code").values_list("pk", "code", "name")
    return {pk: {"code": code, "name": name} for pk, code, name in rows}


def _minutes(interval: dt.timedelta | None) -> float | None:
    return None if interval is None else round(interval.total_seconds() / 60, 2)


def _figures(row: dict) -> dict:
    received, closed = row["received"], row["closed"]
    return {
        "received": received,
        "closed": closed,
        "closure_rate": round(closed / received, 3) if received else None,
        "median_minutes_to_accept": _minutes(row["to_accept"]),
        "median_minutes_to_resolve": _minutes(row["to_resolve"]),
        "yellow": row["yellow"],
        "red": row["red"],
    }


def incident_stats(
    *,
    user: User | AnonymousUser,
    area: AdminArea | None,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
) -> dict:
    """Statistics of the incidents the user may see in `area` (default: see areas_in_scope), per area one level
    below it and category, with totals per area.

    received, closed (of those received, closed now), closure_rate and the median minutes from report to first
    acceptance and to last resolution count incidents created in [start, end); yellow and red count the open
    incidents at that live level at `now`, whenever they were reported. Two aggregate queries, whatever the size.
    """
    areas = areas_in_scope(user=user, area=area)
    result: dict = {
        "areas": [{"code": a.code, "name": a.name, "level": a.level} for a in areas],
        "from": start,
        "to": end,
        "now": now,
        "rows": [],
        "totals": [],
    }
    if not areas:
        return result
    level = areas[0].level
    children = _children(areas)
    period = Q(created__gte=start, created__lt=end)
    live = Q(status__in=Incident.OPEN_STATUSES, deadline__isnull=False)
    red = live & Q(deadline__lt=now)
    yellow = live & Q(yellow_at__lte=now, deadline__gte=now)
    figures = {
        "received": Count("pk", filter=period),
        "closed": Count("pk", filter=period & Q(status=Incident.Status.CLOSED)),
        "to_accept": Median(F("accepted_at") - F("created"), filter=period),
        "to_resolve": Median(F("resolved_at") - F("created"), filter=period),
        "yellow": Count("pk", filter=yellow),
        "red": Count("pk", filter=red),
    }
    incidents = (
        incidents_for(user)
        .filter(**{_INSIDE[level]: [a.pk for a in areas]})
        .filter(period | yellow | red)
        .order_by()  # the model's ordering would join the GROUP BY
        .annotate(child=F(_CHILD_FIELD[level]))
    )
    per_area = {row["child"]: row for row in incidents.values("child").annotate(**figures) if row["child"] in children}
    zero = {"received": 0, "closed": 0, "to_accept": None, "to_resolve": None, "yellow": 0, "red": 0}
    result["totals"] = [{"area": ref, **_figures(per_area.get(pk, zero))} for pk, ref in children.items()]
    order = {pk: i for i, pk in enumerate(children)}
    rows = [
        row
        for row in incidents.values("child", "category__code", "category__name").annotate(**figures)
        if row["child"] in children
    ]
    rows.sort(key=lambda r: (order[r["child"]], r["category__code"]))
    result["rows"] = [
        {
            "area": children[r["child"]],
            "category": {"code": r["category__code"], "name": r["category__name"]},
            **_figures(r),
        }
        for r in rows
    ]
    return result
