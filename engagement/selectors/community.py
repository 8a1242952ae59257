"""Reads of community check-in and volunteering: registrations as their person and their community's staff see
them, a community's roster for the map, the communities near a point, volunteer tasks, and service hours."""

from decimal import Decimal

from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.db.models import MultiPolygonField
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db.models import QuerySet, Sum
from django.db.models.functions import Cast, Coalesce

from engagement.access import (
    communities_served_by,
    may_see_community_names,
    person_of,
    volunteer_tasks_q,
)
from engagement.models import CommunityRegistration, ServiceHours, VolunteerTask
from grid.models import AdminArea, User
from layers.models import Person

REGISTRATION_RELATED = ("community", "person", "decided_by")


def registrations_of(*, person: Person | None) -> QuerySet[CommunityRegistration]:
    """A person's own registrations, newest first."""
    if person is None:
        return CommunityRegistration.objects.none()
    return CommunityRegistration.objects.filter(person=person).select_related(*REGISTRATION_RELATED)


def registrations_for_staff(
    *, user: User | AnonymousUser, community: AdminArea | None = None, status: str | None = None
) -> QuerySet[CommunityRegistration]:
    """The registrations with the communities of `user`'s area (communities_served_by), oldest pending first."""
    qs = CommunityRegistration.objects.filter(community__in=communities_served_by(user).values("pk"))
    if community is not None:
        qs = qs.filter(community=community)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related(*REGISTRATION_RELATED).order_by("created", "pk")


def _round(point: Point | None, digits: int) -> list[float] | None:
    if point is None:
        return None
    return [round(point.x, digits), round(point.y, digits)]


def community_roster(*, community: AdminArea, user: User | AnonymousUser) -> dict:
    """The community's accepted members as GeoJSON, for its map. The community's staff read names and exact points;
    everybody else a count by point, rounded to about 100 m, without names."""
    staff = may_see_community_names(user, community)
    rows = (
        CommunityRegistration.objects.filter(community=community, status=CommunityRegistration.Status.ACCEPTED)
        .select_related("person__branch")
        .order_by("decided_at", "pk")
    )
    features = []
    for r in rows:
        point = r.location or r.person.location
        properties = {"basis": r.basis, "since": r.decided_at.isoformat() if r.decided_at else None}
        if staff:
            properties |= {"name": r.person.name, "branch": r.person.branch.name if r.person.branch else None}
        coordinates = _round(point, 6 if staff else 3)
        features.append(
            {
                "type": "Feature",
                "id": r.pk,
                "geometry": {"type": "Point", "coordinates": coordinates} if coordinates else None,
                "properties": properties,
            }
        )
    return {
        "type": "FeatureCollection",
        "community": {"code": community.code, "name": community.name},
        "count": len(features),
        "names_shown": staff,
        "features": features,
    }


def communities_nearest(*, point: Point, limit: int = 10) -> list[dict]:
    """The communities nearest a point (the one it lies in first, distance 0), for a member choosing where to
    register."""
    rows = (
        AdminArea.objects.filter(level=AdminArea.Level.COMMUNITY)
        # geography: metres on the spheroid, for polygons as for points
        .annotate(distance=Distance(Cast("boundary", MultiPolygonField(srid=4326, geography=True)), point))
        .select_related("parent")
        .order_by("distance", "code")[:limit]
    )
    return [
        {
            "code": a.code,
            "name": a.name,
            "street": a.parent.name if a.parent else None,
            "distance_m": round(a.distance.m, 1),
        }
        for a in rows
    ]


def volunteer_tasks_visible(*, user: User | AnonymousUser, person: Person | None = None) -> QuerySet[VolunteerTask]:
    """The tasks `user` may see (engagement.access.volunteer_tasks_q)."""
    person = person if person is not None else person_of(user)
    return VolunteerTask.objects.filter(volunteer_tasks_q(user, person)).select_related(
        "branch", "community", "claimed_by"
    )


def volunteer_tasks_near(
    *,
    user: User | AnonymousUser,
    point: Point | None,
    radius_m: float,
    status: str | None,
    person: Person | None = None,
) -> QuerySet[VolunteerTask]:
    """Visible tasks of a status, within `radius_m` of `point` nearest first (without a point: by due date)."""
    qs = volunteer_tasks_visible(user=user, person=person)
    if status:
        qs = qs.filter(status=status)
    if point is None:
        return qs.order_by("due", "-created", "pk")
    return (
        qs.filter(location__dwithin=(point, D(m=radius_m)))
        .annotate(distance=Distance("location", point))
        .order_by("distance", "pk")
    )


def service_hours_of(*, person: Person | None, limit: int = 50) -> dict:
    """A person's service hours: the total, and the latest entries."""
    if person is None:
        return {"total_hours": "0.0", "entries": []}
    qs = ServiceHours.objects.filter(person=person)
    total = qs.aggregate(total=Coalesce(Sum("hours"), Decimal("0")))["total"]
    entries = [
        {
            "id": h.pk,
            "hours": str(h.hours),
            "served_on": h.served_on.isoformat(),
            "incident": h.incident_id,
            "task": h.task_id,
            "task_title": h.task.title if h.task_id else None,
        }
        for h in qs.select_related("task").order_by("-served_on", "-id")[:limit]
    ]
    return {"total_hours": str(Decimal(total).quantize(Decimal("0.1"))), "entries": entries}
