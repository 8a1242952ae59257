"""Reads of stations: the nearest ones to a point, exactly by distance on the spheroid."""

import datetime as dt
import json

from django.contrib.gis.geos import Point
from django.db import connection
from django.db.backends.postgresql.base import ServerBindingCursor

from grid.opening_hours import local_day_and_time

# Nearest by true (WGS 84 spheroid) distance, exactly, nearly always in one short walk of the GIST index.
# `<->` on geography orders by distance on the sphere of mean radius R = 6,371,008.77 m, which can rank
# two stations differently from the spheroid (by up to ~0.5%). Along any path the spheroid's length
# element is at least M/R times the sphere's, M (the meridian radius of curvature, <= the other one,
# N) growing from 6,335,439 m at the equator to the poles. The geodesic from the query point to a
# station at sphere distance s stays within s * N_max/R / M_min = s / 6,307,140 radians of latitude of
# the point, so its spheroid length is at least s * M(|lat| - s / 6,307,140) / R =: f(s) * s, which
# grows with s (the query divides by 6,307,000: a wider band, on the safe side). The global bounds,
# 0.994417 <= spheroid / sphere <= 1.004487, match PostGIS on 200,000 random pairs (0.994417, 1.004464).
# So: take the n stations nearest on the sphere (the last at S), and from them the k nearest on the
# spheroid (the farthest at D). Every station not taken is at least S away on the sphere, so at least
# f(S) * S on the spheroid: if that exceeds D, it cannot be among the k nearest, and the answer is
# settled. Over the demo county's bounding box this settles 95% of points with n = k + 4 (k = 5), the
# rest (nearly all outside the county) with a second walk of 4n + 16. Past that (never seen) every
# station within D is read and ranked: the k taken lie within D, so the true k nearest do too. Later
# steps run only when the earlier one did not settle (one-time filters). Reading everything within D
# straight away, as this query first did, costs 10-50 ms for a point outside a dense town: thousands
# of stations lie in the box around it.
# The point is written out in each place, never joined from a CTE: `ORDER BY location <-> p` can walk
# the index only when p is a constant or a parameter, not a column of another relation (that made the
# KNN a sequential scan of every station, ~0.7 s at 1,000,000 of them).
# The statement is prepared once per connection (see value_prepared), so LIMITs are written into its
# text: with `LIMIT $n`, the generic plan that PostgreSQL may settle on after five runs cannot know that
# only a few rows are wanted, and sorts the whole table instead of walking the index (~1 s).
_POINT_SQL = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography"
_STATION_COLUMNS = "id, kind, name, address, phone, amenities, opening_hours, organization_name, location"


def _nearest_sql(*, where: str, limit: int) -> str:
    point, fetch_a = _POINT_SQL, limit + 3 + limit // 4
    fetch_b = 4 * fetch_a + 16
    columns = ", ".join(f"s.{c}" for c in _STATION_COLUMNS.split(", "))
    walk = (
        f"SELECT {columns}, s.location <-> {point} AS sphere_m, ST_Distance(s.location, {point}) AS distance_m "
        f"FROM grid_station s WHERE {where} ORDER BY s.location <-> {point}"
    )

    def settled(near: str, top: str, fetch: int) -> str:
        s_m = "max(sphere_m)"
        return (
            f"SELECT count(*) < {fetch} OR {s_m} * 6335439.327 / 6371008.771 * power(1 - 0.00669437999014 "
            f"* sin(greatest(0, radians(abs(%(lat)s)) - {s_m} / 6307000))^2, -1.5) "
            f"> (SELECT max(distance_m) FROM {top}) + 0.01 AS yes FROM {near}"
        )

    return f"""
WITH near_a AS MATERIALIZED ({walk} LIMIT {fetch_a}),
top_a AS MATERIALIZED (SELECT * FROM near_a ORDER BY distance_m, id LIMIT {limit}),
settled_a AS ({settled("near_a", "top_a", fetch_a)}),
near_b AS MATERIALIZED ({walk} LIMIT {fetch_b}),
top_b AS MATERIALIZED (SELECT * FROM near_b ORDER BY distance_m, id LIMIT {limit}),
settled_b AS ({settled("near_b", "top_b", fetch_b)}),
hits AS (
    SELECT {_STATION_COLUMNS}, distance_m FROM top_a WHERE (SELECT yes FROM settled_a)
    UNION ALL
    SELECT {_STATION_COLUMNS}, distance_m FROM top_b
    WHERE NOT (SELECT yes FROM settled_a) AND (SELECT yes FROM settled_b)
    UNION ALL
    (SELECT {columns}, ST_Distance(s.location, {point}) AS distance_m FROM grid_station s
     WHERE NOT (SELECT yes FROM settled_a) AND NOT (SELECT yes FROM settled_b) AND {where}
       AND ST_DWithin(s.location, {point}, (SELECT max(distance_m) + 0.01 FROM top_b))
     ORDER BY distance_m, s.id LIMIT {limit})
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


_OPEN_NOW_SQL = (
    "EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(s.opening_hours -> %(day)s, '[]'::jsonb)) span"
    " WHERE span ->> 0 <= %(clock)s AND %(clock)s < span ->> 1)"
)


def stations_nearest_geojson(
    *,
    lon: float,
    lat: float,
    limit: int = 5,
    kind: str | None = None,
    amenities: list[str] | None = None,
    open_at: dt.datetime | None = None,
) -> str:
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
    return value_prepared(_nearest_sql(where=" AND ".join(where), limit=int(limit)), params)


class _PreparingCursor(ServerBindingCursor):
    """psycopg's server-side-binding cursor, asking PostgreSQL to prepare every statement it runs."""

    def execute(self, query, params=None, *, prepare=True, **kwargs):
        return super().execute(query, params, prepare=prepare, **kwargs)


def value_prepared(sql: str, params: dict[str, object] | list[object]):
    """The first value of the first row of a read-only `sql` (None without a row), run through Django's cursor
    wrapper (error translation, query logging) as a prepared statement.

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
        raw = _PreparingCursor(connection.connection)
    with connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def stations_nearest(*, point: Point, limit: int = 5, **filters) -> list[dict]:
    """The same search as a list of GeoJSON features, for Python callers."""
    text = stations_nearest_geojson(lon=point.x, lat=point.y, limit=limit, **filters)
    return json.loads(text)["features"]
