"""Writes to the territory, stations and incidents."""

import uuid

from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from grid.models import AdminArea, Category, Grid, Incident, Station, User
from grid.selectors import grid_containing, placement_of


class ClientUUIDConflict(Exception):
    """A client_uuid that another account already used: never hand that record out."""


def incident_report(*, reporter: User | None, location: Point, category: Category, client_uuid: uuid.UUID,
                    note: str = "") -> tuple[Incident, bool]:
    """Record a report once, in the grid that covers its point. Returns (incident, created)."""
    existing = Incident.objects.filter(client_uuid=client_uuid).first()
    if existing is None:
        placement = placement_of(point=location)
        if placement.grid is None:
            raise ValidationError({"location": _("This point lies outside every grid of the territory.")})
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    client_uuid=client_uuid, reporter=reporter, location=location, category=category, note=note,
                    grid=placement.grid, community=placement.community, street=placement.street,
                    county=placement.county)
            return incident, True
        except IntegrityError:
            # A concurrent resend of the same report won the race: fall through and return its record.
            existing = Incident.objects.get(client_uuid=client_uuid)
    if existing.reporter_id != (reporter.pk if reporter else None):
        raise ClientUUIDConflict(client_uuid)
    return existing, False


_PLACE_INCIDENTS_SQL = """
WITH g AS (
    SELECT g.id, g.code, g.boundary, c.id AS cid, s.id AS sid, k.id AS kid
    FROM grid_grid g
    JOIN grid_adminarea c ON c.id = g.community_id
    LEFT JOIN grid_adminarea s ON s.id = c.parent_id AND s.level = 4
    LEFT JOIN grid_adminarea k ON k.id = s.parent_id AND k.level = 3
),
target AS (
    SELECT i.id, i.location FROM grid_incident i
    WHERE %(all)s OR i.grid_id = ANY(%(ids)s)
       OR EXISTS (SELECT 1 FROM grid_grid gg WHERE gg.id = ANY(%(ids)s) AND ST_Covers(gg.boundary, i.location))
),
placed AS (
    SELECT t.id, best.id AS gid, best.cid, best.sid, best.kid
    FROM target t
    LEFT JOIN LATERAL (SELECT * FROM g WHERE ST_Covers(g.boundary, t.location) ORDER BY g.code LIMIT 1) best
      ON TRUE
)
UPDATE grid_incident i
SET grid_id = placed.gid, community_id = placed.cid, street_id = placed.sid, county_id = placed.kid
FROM placed
WHERE i.id = placed.id
  AND (i.grid_id, i.community_id, i.street_id, i.county_id)
      IS DISTINCT FROM (placed.gid, placed.cid, placed.sid, placed.kid)
"""


def incidents_place(*, grid_ids: list[int] | None = None) -> int:
    """Re-derive grid, community, street and county of the incidents in (or formerly in) `grid_ids`,
    or of every incident when None. Returns how many changed; a second run changes nothing."""
    with connection.cursor() as cursor:
        cursor.execute(_PLACE_INCIDENTS_SQL, {"all": grid_ids is None, "ids": list(grid_ids or [])})
        return cursor.rowcount


def _as_multipolygon(geometry) -> MultiPolygon:
    if isinstance(geometry, Polygon):
        return MultiPolygon(geometry, srid=geometry.srid)
    return geometry


def grid_save(*, grid: Grid) -> Grid:
    """Validate and store a grid; incidents whose grid may have changed are re-placed after commit."""
    from grid.tasks import incidents_place_task

    grid.boundary = _as_multipolygon(grid.boundary)
    with transaction.atomic():
        # Serialise grid writes of one community so that two overlapping grids cannot both pass clean().
        AdminArea.objects.select_for_update().filter(pk=grid.community_id).first()
        grid.full_clean()
        grid.save()
        transaction.on_commit(lambda: incidents_place_task.delay(grid_ids=[grid.pk]))
    return grid


def station_save(*, station: Station) -> Station:
    """Validate and store a station in the grid that covers it."""
    station.full_clean()
    station.grid = grid_containing(point=Point(station.location.x, station.location.y, srid=4326))
    station.save()
    return station
