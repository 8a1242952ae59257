"""Reads for dispatch: which workers could take an incident, which service requests a volunteer could claim."""

import datetime as dt

from django.conf import settings
from django.contrib.gis.db.models import PointField
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from grid.access import grids_for
from grid.models import Grid, Incident, Role, User

# A worker's load: the cases on their hands (dispatched to them, or being worked on).
LOAD_STATUSES = (Incident.Status.DISPATCHED, Incident.Status.IN_PROGRESS)


def _point_json(point: Point) -> dict:
    return {"type": "Point", "coordinates": [round(point.x, 7), round(point.y, 7)]}


def worker_candidates(
    *, incident: Incident, user: User, limit: int = 10, include_volunteers: bool = False
) -> list[dict]:
    """On-duty workers with a fresh position who work in `user`'s grids, nearest to `incident` first.

    One query. The ranking is by the exact geodesic distance on the WGS 84 spheroid (geography
    ST_Distance), not by `<->`, which measures on a sphere and may swap two workers a few metres apart:
    the rows to sort are few (the on-duty workers of one dispatcher's grids), so an exact sort costs
    less than a KNN walk followed by a correction. With `include_volunteers`, on-duty volunteers with a
    fresh position join them wherever they are registered (they belong to no grid).
    """
    fresh_since = timezone.now() - dt.timedelta(minutes=settings.WORKER_POSITION_MAX_AGE_MINUTES)
    works_in_scope = Exists(
        Grid.workers.through.objects.filter(user_id=OuterRef("pk"), grid_id__in=grids_for(user).values("pk"))
    )
    who = Q(role=Role.GRID_WORKER) & works_in_scope
    if include_volunteers:
        who |= Q(volunteer=True)
    load = (
        Incident.objects.filter(assignee_id=OuterRef("pk"), status__in=LOAD_STATUSES)
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = (
        User.objects.filter(
            who,
            is_active=True,
            worker_status__on_duty=True,
            worker_status__location__isnull=False,
            worker_status__position_at__gte=fresh_since,
        )
        .annotate(
            distance=Distance("worker_status__location", incident.location),
            open_cases=Coalesce(Subquery(load, output_field=IntegerField()), Value(0)),
            grid_codes=ArraySubquery(Grid.objects.filter(workers=OuterRef("pk")).order_by("code").values("code")),
        )
        .order_by("distance", "pk")
        .values(
            "pk",
            "username",
            "first_name",
            "last_name",
            "phone",
            "role",
            "volunteer",
            "worker_status__location",
            "worker_status__accuracy_m",
            "worker_status__position_at",
            "distance",
            "open_cases",
            "grid_codes",
        )[:limit]
    )
    return [
        {
            "id": row["pk"],
            "username": row["username"],
            "full_name": f"{row['first_name']} {row['last_name']}".strip(),
            "phone": row["phone"],
            "role": row["role"],
            "volunteer": row["volunteer"],
            "position": _point_json(row["worker_status__location"]),
            "accuracy_m": row["worker_status__accuracy_m"],
            "position_at": row["worker_status__position_at"],
            "distance_m": round(row["distance"].m, 1),
            "open_cases": row["open_cases"],
            "grids": row["grid_codes"],
        }
        for row in rows
    ]


def incidents_claimable(*, point: Point, radius_m: float, limit: int = 50) -> list[dict]:
    """Service requests opened to volunteers, accepted and not yet taken, within `radius_m` of `point`, nearest first.

    Not scoped by `incidents_for`: volunteers claim requests near them wherever they are. So it returns
    only what a volunteer needs to decide (no reporter, no handling unit).
    """
    # Incident.location is geometry; the cast makes ST_DWithin and ST_Distance measure metres on the spheroid.
    rows = (
        Incident.objects.filter(
            kind=Incident.Kind.REQUEST,
            open_to_volunteers=True,
            assignee__isnull=True,
            status=Incident.Status.ACCEPTED,
        )
        .annotate(geog=Cast("location", PointField(srid=4326, geography=True)))
        .filter(geog__dwithin=(point, D(m=radius_m)))
        .annotate(distance=Distance("geog", point))
        .order_by("distance", "pk")
        .values("pk", "location", "distance", "category__code", "category__name", "note", "created", "deadline")[:limit]
    )
    return [
        {
            "id": row["pk"],
            "location": _point_json(row["location"]),
            "distance_m": round(row["distance"].m, 1),
            "category": row["category__code"],
            "category_name": row["category__name"],
            "note": row["note"],
            "created": row["created"],
            "deadline": row["deadline"],
        }
        for row in rows
    ]
