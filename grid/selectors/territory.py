"""Reads of the territory: which grid, community, street/town and county a point lies in.

The placement rule (among the grids that cover a point, the one with the lowest code) is the SQL function
`grid_containing(geometry)`, created by migration grid/0008. Everything that places points calls it: this
selector, the bulk re-placement of grid/services/territory.py and the imports of layers. Bulk paths find the
covering grids with a join and ask the function only for points that more than one grid covers."""

from dataclasses import dataclass

from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.geos import Point
from django.db.models import BigIntegerField, Func, Value

from grid.models import AdminArea, Grid


class GridContaining(Func):
    """SQL: the id of the grid that a point (geometry, SRID 4326) belongs to, NULL outside every grid."""

    function = "grid_containing"
    output_field = BigIntegerField()


def grid_containing(*, point: Point) -> Grid | None:
    """The one grid whose boundary covers `point`.

    A point on an edge shared by two grids is covered by both; the grid with the lowest code wins, so
    every point of the territory belongs to exactly one grid.
    """
    point_value = Value(point, output_field=GeometryField(srid=4326))
    return Grid.objects.filter(pk=GridContaining(point_value)).select_related("community__parent__parent").first()


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
    return Placement(
        grid, community, community.ancestor(AdminArea.Level.STREET), community.ancestor(AdminArea.Level.COUNTY)
    )
