"""Reads of the territory, stations and incidents."""

import datetime as dt
import json
from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.db import connection
from django.db.backends.postgresql.base import ServerBindingCursor

from grid.models import AdminArea, Category, Grid
from grid.opening_hours import local_day_and_time


def grid_containing(*, point: Point) -> Grid | None:
    """The one grid whose boundary covers `point`.

    A point on an edge shared by two grids is covered by both; the grid with the lowest code wins, so
    every point of the territory belongs to exactly one grid.
    """
    return (Grid.objects.filter(boundary__covers=point).select_related("community__parent__parent")
            .order_by("code").first())


@dataclass(frozen=True)
class Placement:
    grid: Grid | None
    community: AdminArea | None
    street: AdminArea | None
    county: AdminArea | None


def placement_of(*, point: Point) -> Placement:
    """The grid, community, street/town and county that contain `point`."""
    grid = grid_containing(point=point)
    if grid is None:
        return Placement(None, None, None, None)
    community = grid.community
    return Placement(grid, community, community.ancestor(AdminArea.Level.STREET),
                     community.ancestor(AdminArea.Level.COUNTY))


def categories_active() -> list[Category]:
    return list(Category.objects.filter(active=True).order_by("sort_order", "code"))


# The k nearest by the GIST index (<-> on geography orders by sphere distance), then every station
# within the largest spheroid distance among them, ordered exactly: the sphere and the spheroid can
# disagree by ~0.5%, so the index order alone may swap two close stations. The k stations found by
# the index lie within that distance, so the true k nearest do too.
# The point is written out in each place, never joined from a CTE: `ORDER BY location <-> p` can
# walk the GIST index only when p is a constant or a parameter, not a column of another relation
# (which turned the KNN into a sequential scan of every station, ~0.7 s at 1,000,000 of them).
# The statement is prepared once per connection (see _prepared_cursor), so the LIMIT is written into
# its text: with `LIMIT $n` the generic plan that PostgreSQL may settle on after five runs cannot know
# that only a few rows are wanted, and sorts the whole table instead of walking the index (~1 s).
_POINT_SQL = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography"
_NEAREST_SQL = """
WITH knn AS (
    SELECT ST_Distance(s.location, {point}) AS d FROM grid_station s
    WHERE {where} ORDER BY s.location <-> {point} LIMIT {limit:d}
),
hits AS (
    SELECT s.id, s.kind, s.name, s.address, s.phone, s.amenities, s.opening_hours, s.organization_name,
           s.location, ST_Distance(s.location, {point}) AS distance_m
    FROM grid_station s
    WHERE {where} AND ST_DWithin(s.location, {point}, (SELECT max(d) + 0.01 FROM knn))
    ORDER BY distance_m, s.id LIMIT {limit:d}
)
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(json_build_object(
    'type', 'Feature', 'id', h.id,
    'geometry', ST_AsGeoJSON(h.location::geometry, 7)::json,
    'properties', json_build_object(
        'id', h.id, 'kind', h.kind, 'name', h.name, 'address', h.address, 'phone', h.phone,
        'amenities', h.amenities, 'opening_hours', h.opening_hours,
        'organization_name', h.organization_name, 'distance_m', round(h.distance_m::numeric, 1))
) ORDER BY h.distance_m, h.id), '[]'::json))::text
FROM hits h
"""

_OPEN_NOW_SQL = ("EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(s.opening_hours -> %(day)s, '[]'::jsonb)) span"
                 " WHERE span ->> 0 <= %(clock)s AND %(clock)s < span ->> 1)")


def stations_nearest_geojson(*, lon: float, lat: float, limit: int = 5, kind: str | None = None,
                             amenities: list[str] | None = None, open_at: dt.datetime | None = None) -> str:
    """The `limit` stations nearest to a WGS 84 point as a GeoJSON FeatureCollection (text) with distance_m.

    PostGIS builds the JSON: serialising in Python would cost more than the query itself.
    """
    where = ["TRUE"]
    params: dict[str, object] = {"lon": lon, "lat": lat}
    if kind:
        where.append("s.kind = %(kind)s")
        params["kind"] = kind
    if amenities:
        where.append("s.amenities @> %(amenities)s::varchar[]")
        params["amenities"] = list(amenities)
    if open_at is not None:
        params["day"], params["clock"] = local_day_and_time(open_at)
        where.append(_OPEN_NOW_SQL)
    sql = _NEAREST_SQL.format(point=_POINT_SQL, where=" AND ".join(where), limit=int(limit))
    with _prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


class _PreparingCursor(ServerBindingCursor):
    """psycopg's server-side-binding cursor, asking PostgreSQL to prepare every statement it runs."""

    def execute(self, query, params=None, *, prepare=True, **kwargs):
        return super().execute(query, params, prepare=prepare, **kwargs)


def _prepared_cursor():
    """A Django cursor (health check, error translation, query logging) whose statements are prepared.

    Django sends queries with client-side binding, as new text every time, so PostgreSQL parses and
    plans each one: for the nearest-stations query that is more work than running it. This cursor
    binds on the server and prepares each statement once per connection (psycopg keeps the last 100
    per connection), which needs persistent connections (CONN_MAX_AGE) to pay off, and a pooler, if
    one is ever put in between, that supports prepared statements (PgBouncer >= 1.21).
    """
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cursor = _PreparingCursor(connection.connection)
    return connection.make_debug_cursor(cursor) if connection.queries_logged else connection.make_cursor(cursor)


def stations_nearest(*, point: Point, limit: int = 5, **filters) -> list[dict]:
    """The same search as a list of GeoJSON features, for Python callers."""
    text = stations_nearest_geojson(lon=point.x, lat=point.y, limit=limit, **filters)
    return json.loads(text)["features"]
