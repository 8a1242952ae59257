"""Reads for dispatch: which workers could take an incident, which service requests a volunteer could claim."""

import datetime as dt

from django.conf import settings
from django.contrib.gis.db.models import PointField
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from grid.access import grid_scope_q
from grid.masks import mask_phone
from grid.models import Grid, Incident, Role, User, WorkerStatus

# A worker's load: the cases on their hands (dispatched to them, or being worked on).
LOAD_STATUSES = (Incident.Status.DISPATCHED, Incident.Status.IN_PROGRESS)


def _point_json(point: Point) -> dict:
    return {"type": "Point", "coordinates": [round(point.x, 7), round(point.y, 7)]}


def _position_rounded(point: Point) -> dict:
    # About 100 m: enough to show a worker on the dispatcher's map beside the case, not to follow them home.
    return {"type": "Point", "coordinates": [round(point.x, 3), round(point.y, 3)]}


def _incident_area_grids(incident: Incident) -> Q:
    """Grids of the incident's community or street."""
    q = Q(pk__in=[])
    if incident.community_id is not None:
        q |= Q(community_id=incident.community_id)
    if incident.street_id is not None:
        q |= Q(community__parent_id=incident.street_id)
    return q


def _assignable_q(*, incident: Incident, user: User, volunteers: bool = True) -> Q:
    """Who may take `incident` from `user`: grid workers of a grid in the incident's area or in the user's scope;
    with `volunteers`, volunteers whose areas hold the incident or whose last position lies within
    VOLUNTEER_CLAIM_RADIUS_M of it."""
    in_scope = grid_scope_q(user, grid_field="pk")
    # Q() is everything (a superuser's scope), but OR-ed with another Q it would vanish.
    grids = Grid.objects.filter(_incident_area_grids(incident) | in_scope) if in_scope else Grid.objects.all()
    works_there = Exists(Grid.workers.through.objects.filter(user_id=OuterRef("pk"), grid_id__in=grids.values("pk")))
    who = Q(role=Role.GRID_WORKER) & works_there
    if volunteers:
        areas = [pk for pk in (incident.community_id, incident.street_id) if pk is not None]
        in_area = Exists(User.areas.through.objects.filter(user_id=OuterRef("pk"), adminarea_id__in=areas))
        near = Q(worker_status__location__dwithin=(incident.location, D(m=settings.VOLUNTEER_CLAIM_RADIUS_M)))
        who |= Q(volunteer=True) & (in_area | near)
    return who


def workers_assignable(*, incident: Incident, user: User) -> QuerySet[User]:
    """The active accounts `user` may dispatch `incident` to (see _assignable_q)."""
    return User.objects.filter(_assignable_q(incident=incident, user=user), is_active=True)


def worker_candidates(
    *, incident: Incident, user: User, limit: int = 10, include_volunteers: bool = False
) -> list[dict]:
    """On-duty workers with a fresh position whom `user` may dispatch `incident` to, nearest first.

    One query. The ranking is by the exact geodesic distance on the WGS 84 spheroid (geography
    ST_Distance), not by `<->`, which measures on a sphere and may swap two workers a few metres apart:
    the rows to sort are few (the on-duty workers of one dispatcher's grids), so an exact sort costs
    less than a KNN walk followed by a correction. With `include_volunteers`, on-duty volunteers with a
    fresh position join them: those of the incident's area or within VOLUNTEER_CLAIM_RADIUS_M of it
    (they belong to no grid). Phones are masked and positions rounded: a dispatcher needs whom to send
    and how far they are, not where exactly a volunteer is.
    """
    fresh_since = timezone.now() - dt.timedelta(minutes=settings.WORKER_POSITION_MAX_AGE_MINUTES)
    who = _assignable_q(incident=incident, user=user, volunteers=include_volunteers)
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
            "phone": mask_phone(row["phone"]),
            "role": row["role"],
            "volunteer": row["volunteer"],
            "position": _position_rounded(row["worker_status__location"]),
            "accuracy_m": row["worker_status__accuracy_m"],
            "position_at": row["worker_status__position_at"],
            "distance_m": round(row["distance"].m, 1),
            "open_cases": row["open_cases"],
            "grids": row["grid_codes"],
        }
        for row in rows
    ]


def incidents_in_reach(*, user: User) -> QuerySet[Incident]:
    """Service requests a volunteer (or grid worker) may claim, whatever their status: in the account's areas
    (communities or streets; a grid worker's: their grids) or within VOLUNTEER_CLAIM_RADIUS_M of its last fresh
    position."""
    reach = Q(pk__in=[])
    if user.is_authenticated and user.is_active:
        areas = user.areas.values("pk")
        reach |= Q(community__in=areas) | Q(street__in=areas) | Q(grid__in=user.grids.values("pk"))
        fresh_since = timezone.now() - dt.timedelta(minutes=settings.WORKER_POSITION_MAX_AGE_MINUTES)
        status = WorkerStatus.objects.filter(user=user, location__isnull=False, position_at__gte=fresh_since).first()
        if status is not None:
            reach |= Q(geog__dwithin=(status.location, D(m=settings.VOLUNTEER_CLAIM_RADIUS_M)))
    # Incident.location is geometry; the cast makes ST_DWithin and ST_Distance measure metres on the spheroid.
    return (
        Incident.objects.filter(kind=Incident.Kind.REQUEST)
        .annotate(geog=Cast("location", PointField(srid=4326, geography=True)))
        .filter(reach)
    )


def incidents_claimable(*, user: User, point: Point, radius_m: float, limit: int = 50) -> list[dict]:
    """Service requests opened to volunteers, accepted and not yet taken, in `user`'s reach (incidents_in_reach)
    and within `radius_m` of `point`, nearest first.

    Not scoped by `incidents_for`: volunteers claim requests near them outside their scope. So it returns only
    what a volunteer needs to decide (no reporter, no handling unit).
    """
    rows = (
        incidents_in_reach(user=user)
        .filter(open_to_volunteers=True, assignee__isnull=True, status=Incident.Status.ACCEPTED)
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
