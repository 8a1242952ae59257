"""Writes to the territory and stations, and the re-placement of what lies in changed grids."""

from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.db import connection, transaction
from django.db.models import Model, QuerySet

from grid.models import AdminArea, Grid, Incident, Station
from grid.selectors import grid_containing

# Re-derive placement of the rows in (or formerly in) some grids. A row is a target when every row is,
# when it has no grid (its grid was deleted, or it lay outside before), when its grid is one of the
# changed grids, or when a changed grid now covers it. Each target takes the grid of the placement rule
# (the SQL function grid_containing, see grid.selectors.territory). Only rows whose placement differs are
# written. Polygon-driven: each grid finds its rows through the rows' GIST index (OFFSET 0 keeps the planner
# from flattening the lateral subquery into one big join), ~10x faster than a lookup per row; the rule is
# asked only for the rows that several grids cover.
_PLACE_SQL = """
WITH g AS (
    SELECT g.id, c.id AS cid, s.id AS sid, k.id AS kid
    FROM {grids} g
    JOIN {areas} c ON c.id = g.community_id
    LEFT JOIN {areas} s ON s.id = c.parent_id AND s.level = {street}
    LEFT JOIN {areas} k ON k.id = s.parent_id AND k.level = {county}
),
pairs AS (
    SELECT r.id, g.id AS grid_id
    FROM {grids} g CROSS JOIN LATERAL (
        SELECT r.id FROM {table} r
        WHERE {index_filter} AND ST_Covers(g.boundary, {point}) AND ({target}) OFFSET 0
    ) r
),
covered AS (
    SELECT p.id, CASE WHEN count(*) = 1 THEN min(p.grid_id)
                      ELSE (SELECT grid_containing({point}) FROM {table} r WHERE r.id = p.id) END AS grid_id
    FROM pairs p GROUP BY p.id
),
placed AS (
    SELECT r.id, g.id AS grid_id, g.cid AS community_id, g.sid AS street_id, g.kid AS county_id
    FROM {table} r LEFT JOIN covered c ON c.id = r.id LEFT JOIN g ON g.id = c.grid_id
    WHERE {target}
)
UPDATE {table} r SET {assign}
FROM placed
WHERE r.id = placed.id AND ROW({current}) IS DISTINCT FROM ROW({new})
"""
_TARGET = """%(all)s OR r.grid_id IS NULL OR r.grid_id = ANY(%(ids)s)
    OR EXISTS (SELECT 1 FROM {grids} gg WHERE gg.id = ANY(%(ids)s) AND ST_Covers(gg.boundary, {point}))"""


def _place(*, model: type[Model], point: str, index_filter: str, fields: list[str], grid_ids: list[int] | None) -> int:
    names = {
        "table": model._meta.db_table,
        "grids": Grid._meta.db_table,
        "areas": AdminArea._meta.db_table,
        "street": int(AdminArea.Level.STREET),
        "county": int(AdminArea.Level.COUNTY),
        "point": point,
        "index_filter": index_filter,
    }
    sql = _PLACE_SQL.format(
        **names,
        target=_TARGET.format(**names),
        assign=", ".join(f"{f} = placed.{f}" for f in fields),
        current=", ".join(f"r.{f}" for f in fields),
        new=", ".join(f"placed.{f}" for f in fields),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"all": grid_ids is None, "ids": list(grid_ids or [])})
        return cursor.rowcount


def incidents_place(*, grid_ids: list[int] | None = None) -> int:
    """Re-derive grid, community, street and county of the incidents in (or formerly in) `grid_ids`,
    or of every incident when None. Returns how many changed; a second run changes nothing."""
    return _place(
        model=Incident,
        point="r.location",
        index_filter="TRUE",
        fields=["grid_id", "community_id", "street_id", "county_id"],
        grid_ids=grid_ids,
    )


def stations_place(*, grid_ids: list[int] | None = None) -> int:
    """Re-derive the grid of the stations in (or formerly in) `grid_ids`, or of all when None."""
    # Stations are geography: `&&` against the grid's box as geography is what their GIST index answers.
    return _place(
        model=Station,
        point="r.location::geometry",
        index_filter="r.location && g.boundary::geography",
        fields=["grid_id"],
        grid_ids=grid_ids,
    )


def places_refresh(*, grid_ids: list[int] | None = None) -> dict[str, int]:
    """Re-place incidents and stations after the grids `grid_ids` changed or were deleted, in one transaction."""
    with transaction.atomic():
        return {"incidents": incidents_place(grid_ids=grid_ids), "stations": stations_place(grid_ids=grid_ids)}


def _as_multipolygon(geometry) -> MultiPolygon:
    if isinstance(geometry, Polygon):
        return MultiPolygon(geometry, srid=geometry.srid)
    return geometry


def grid_save(*, grid: Grid) -> Grid:
    """Validate and store a grid; incidents whose grid may have changed are re-placed after commit."""
    from grid.tasks import places_refresh_task  # grid.tasks imports this module

    grid.boundary = _as_multipolygon(grid.boundary)
    with transaction.atomic():
        # Serialise grid writes of one community so that two overlapping grids cannot both pass clean().
        AdminArea.objects.select_for_update().filter(pk=grid.community_id).first()
        grid.full_clean()
        grid.save()
        transaction.on_commit(lambda: places_refresh_task.delay(grid_ids=[grid.pk]))
    return grid


def grids_delete(*, grids: QuerySet[Grid]) -> int:
    """Delete grids; their incidents and stations lose them and are re-placed (in a neighbour, if any) after
    commit, by one task however many grids went. Returns how many grids were deleted."""
    from grid.tasks import places_refresh_task  # grid.tasks imports this module

    with transaction.atomic():
        # their grid_id becomes NULL, which makes them targets of the re-placement
        deleted = grids.delete()[1].get(Grid._meta.label, 0)
        transaction.on_commit(lambda: places_refresh_task.delay(grid_ids=[]))
    return deleted


def station_save(*, station: Station) -> Station:
    """Validate and store a station in the grid that covers it."""
    station.full_clean()
    station.grid = grid_containing(point=Point(station.location.x, station.location.y, srid=4326))
    station.save()
    return station
