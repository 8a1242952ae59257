"""Reads of the station mall: the items at the stations nearest a point, a member's orders, and the order that a
keeper's pickup code names."""

from django.contrib.gis.db.models.functions import Distance, GeometryDistance
from django.contrib.gis.geos import Point
from django.db.models import Exists, OuterRef, QuerySet

from engagement.access import stations_kept_by
from engagement.models import MallItem, MallOrder
from grid.models import Station, User
from layers.models import Person

# Enough for a phone's screen; a station with more has its cheapest first.
ITEMS_PER_STATION_MAX = 50


def mall_stations_near(*, point: Point | None, limit: int = 5) -> list[Station]:
    """The `limit` stations nearest `point` that offer something (all such stations by name without a point), each
    with `distance` (metres on the spheroid, or None)."""
    offering = Station.objects.filter(Exists(MallItem.objects.filter(station=OuterRef("pk"), active=True)))
    if point is None:
        stations = list(offering.order_by("name", "id")[:limit])
        for station in stations:
            station.distance = None
        return stations
    # KNN from the GIST index ranks on the sphere; the few taken are then ranked by their spheroid distance.
    near = list(
        offering.annotate(distance=Distance("location", point)).order_by(GeometryDistance("location", point))[
            : limit + 3
        ]
    )
    near.sort(key=lambda s: (s.distance.m, s.pk))
    return near[:limit]


def mall_items_near(*, point: Point | None, stations: int = 5) -> list[MallItem]:
    """The items on offer at the nearest stations (see mall_stations_near), nearest station first, cheapest first
    within one; each item's `station` carries its `distance`."""
    found = mall_stations_near(point=point, limit=stations)
    by_id = {s.pk: s for s in found}
    items = list(MallItem.objects.filter(station_id__in=by_id, active=True).order_by("price", "name", "id"))
    order = {s.pk: i for i, s in enumerate(found)}
    items.sort(key=lambda item: order[item.station_id])
    counts: dict[int, int] = {}
    kept = []
    for item in items:
        counts[item.station_id] = counts.get(item.station_id, 0) + 1
        if counts[item.station_id] <= ITEMS_PER_STATION_MAX:
            item.station = by_id[item.station_id]
            kept.append(item)
    return kept


def mall_orders_of(*, person: Person) -> QuerySet[MallOrder]:
    """A member's orders, newest first."""
    return MallOrder.objects.filter(person=person).select_related("item__station").order_by("-ordered_at", "-id")


def mall_order_for_pickup(*, code: str, keeper: User) -> MallOrder | None:
    """The order a pickup code names, if `keeper` keeps its item's station (None otherwise, as for no such code)."""
    return (
        MallOrder.objects.filter(pickup_code=code, item__station__in=stations_kept_by(keeper).values("pk"))
        .select_related("item__station", "person")
        .first()
    )
