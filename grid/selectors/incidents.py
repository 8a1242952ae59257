"""Reads of incidents beyond the access scope's own querysets: categories, possible duplicates."""

import datetime as dt

from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.db.models import PointField
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.measure import D
from django.db.models.functions import Cast

from grid.access import incidents_for
from grid.models import Category, Incident, User


def categories_active() -> list[Category]:
    return list(Category.objects.filter(active=True).order_by("sort_order", "code"))


def incidents_possible_duplicates(
    *, incident: Incident, user: User | AnonymousUser, days: int = 30, limit: int = 10
) -> list[dict]:
    """Open incidents that `user` may open, of the same category within the category's duplicate radius (true
    distance in metres), reported in the last `days` days, nearest first.

    Scoped by incidents_for: a resident reporting where a neighbour reported must not learn that report's id
    or note."""
    since = incident.created - dt.timedelta(days=days)
    # Incident.location is geometry; the cast makes ST_DWithin and ST_Distance measure metres on the spheroid.
    rows = (
        incidents_for(user)
        .filter(category_id=incident.category_id, status__in=Incident.OPEN_STATUSES, created__gte=since)
        .exclude(pk=incident.pk)
        .annotate(geog=Cast("location", PointField(srid=4326, geography=True)))
        .filter(geog__dwithin=(incident.location, D(m=incident.category.duplicate_radius_m)))
        .annotate(distance=Distance("geog", incident.location))
        .order_by("distance", "pk")
        .values("pk", "status", "created", "note", "distance")[:limit]
    )
    return [
        {
            "id": row["pk"],
            "status": row["status"],
            "created": row["created"],
            "note": row["note"],
            "distance_m": round(row["distance"].m, 1),
        }
        for row in rows
    ]
