"""The rows an export writes, fetched from PostgreSQL CHUNK at a time in primary-key order, as columns.

Each chunk is aggregated by PostgreSQL into one row of arrays, a column each (no GEOS object, no model instance, no
tuple per row); geometry as WKB, or for points written to a Shapefile as two arrays of coordinates.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import AsWKB
from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models import F, Func, Q, QuerySet, Value

from layers.io.exports.columns import Column
from layers.registry import Layer

CHUNK = 50_000  # rows per fetch and per write: few enough appends, bounded memory

GEOMETRY_TYPES = {
    "POINT": "Point",
    "MULTIPOINT": "MultiPoint",
    "LINESTRING": "LineString",
    "MULTILINESTRING": "MultiLineString",
    "POLYGON": "Polygon",
    "MULTIPOLYGON": "MultiPolygon",
}


@dataclass(frozen=True)
class Part:
    """One output layer: a file of the export (Shapefile splits mixed geometries into several)."""

    stem: str
    geometry_type: str
    geometry: object  # expression of the geometry to write
    where: Q = field(default_factory=Q)


class _Dimension(Func):
    function = "ST_Dimension"
    output_field = models.IntegerField()


def parts(layer: Layer, rows: QuerySet, *, one_geometry_type: bool) -> tuple[QuerySet, list[Part]]:
    """The output layers of `rows`: one, unless the file holds one geometry type (`one_geometry_type`) and the
    layer's column is mixed."""
    geometry_field = layer.model._meta.get_field(layer.geometry_field)
    geom = F(layer.geometry_field)
    typed = GEOMETRY_TYPES.get(geometry_field.geom_type)
    if typed is not None or not one_geometry_type:
        # one layer: a typed column as it is; a mixed one (organizations) as "any geometry", which GeoPackage,
        # GeoJSON, KML and CSV (WKT) all hold
        return rows, [Part(layer.name, typed or "Unknown", geom)]
    # A Shapefile holds one geometry type. A mixed column (organizations: an office point or a compound's
    # polygon) becomes one Shapefile per dimension, each of one type: polygons and lines promoted to their
    # multi type (a Shapefile's polygons are multi anyway), points kept single unless a multipoint is among
    # them. Rows without a geometry go with the points, as null shapes.
    rows = rows.annotate(_export_dim=_Dimension(geom))

    def extract(code: int) -> Func:
        return Func(
            Func(geom, Value(code), function="ST_CollectionExtract", output_field=GeometryField(srid=4326)),
            function="ST_Multi",
            output_field=GeometryField(srid=4326),
        )

    multipoints = (
        rows.filter(_export_dim=0)
        .annotate(_export_type=Func(geom, function="GeometryType", output_field=models.CharField()))
        .filter(_export_type__in=["MULTIPOINT", "GEOMETRYCOLLECTION"])
        .exists()
    )
    points = Part(
        f"{layer.name}_point",
        "MultiPoint" if multipoints else "Point",
        extract(1) if multipoints else geom,
        Q(_export_dim=0) | Q(_export_dim__isnull=True),
    )
    lines = Part(f"{layer.name}_line", "MultiLineString", extract(2), Q(_export_dim=1))
    polygons = Part(f"{layer.name}_polygon", "MultiPolygon", extract(3), Q(_export_dim=2))
    present = [part for part in (points, lines, polygons) if rows.filter(part.where).exists()]
    return rows, present or [points]


@dataclass
class Chunk:
    """Up to CHUNK rows of one part, as columns: values by values() path, and the geometry."""

    size: int
    values: dict[str, list]
    wkb: np.ndarray | None = None  # object array of WKB (None for no geometry)
    xy: np.ndarray | None = None  # (2, n) float64 longitude, latitude (NaN for no geometry), points only


def value_paths(columns: list[Column]) -> list[str]:
    """The values() columns to fetch: plain attributes once each, then the sources of personal ones."""
    paths: list[str] = []
    for column in columns:
        for path in (column.path,) if column.path else column.sources:
            if path not in paths:
                paths.append(path)
    return paths


def chunks(rows: QuerySet, columns: list[Column], paths: list[str], part: Part, *, xy: bool) -> Iterator[Chunk]:
    """The part's rows in primary-key order, CHUNK at a time, each chunk as columns.

    PostgreSQL aggregates each chunk into one row of arrays (one `array_agg` per column, coordinates as one
    bytea of doubles), so that the client builds a few large values instead of a tuple per row. Chunks follow
    each other by key (`pk > last`), each its own statement: rows written meanwhile may or may not appear, none
    twice. A list attribute (an array column) is joined by PostgreSQL, as a text of comma-separated values.
    """
    kinds = {c.path: c.kind for c in columns if c.path}
    annotations: dict[str, object] = {"export_pk": F("pk")}
    for i, path in enumerate(paths):
        expression = F(path)
        if kinds.get(path) == "list":
            expression = Func(expression, Value(","), function="array_to_string", output_field=models.TextField())
        annotations[f"export_c{i}"] = expression
    aggregates = [f"array_agg({name})" for name in annotations]
    if xy:
        for name, function in (("export_x", "ST_X"), ("export_y", "ST_Y")):
            # ::geometry also takes a geography column (stations); NaN stands for no point
            annotations[name] = Func(
                part.geometry, template=f"{function}(%(expressions)s::geometry)", output_field=models.FloatField()
            )
            aggregates.append(f"string_agg(float8send(COALESCE({name}, 'NaN')), ''::bytea)")
    else:
        annotations["export_geom"] = AsWKB(part.geometry)
        aggregates.append("array_agg(export_geom)")
    selected = rows.filter(part.where).order_by("pk").annotate(**annotations)
    last = None
    while True:
        chunk = (selected if last is None else selected.filter(pk__gt=last)).values_list(*annotations)[:CHUNK]
        try:
            sql, params = chunk.query.sql_with_params()
        except EmptyResultSet:  # a scope or filter that admits nothing compiles to no statement
            return
        with connections[rows.db].cursor() as cursor:
            # the subquery's order is the order the aggregates see (checked below all the same)
            cursor.execute(f"SELECT {', '.join(aggregates)} FROM ({sql}) AS export_rows", params)
            result = cursor.fetchone()
        if result is None or result[0] is None:  # no rows: the aggregates are NULL
            return
        pks = np.array(result[0], dtype=np.int64)
        n = len(pks)
        order = None if n < 2 or bool((pks[1:] > pks[:-1]).all()) else np.argsort(pks)
        values = {}
        for i, path in enumerate(paths):
            column = result[1 + i]
            values[path] = column if order is None else [column[j] for j in order]
        out = Chunk(n, values)
        if xy:
            coordinates = np.vstack([np.frombuffer(result[-2], dtype=">f8"), np.frombuffer(result[-1], dtype=">f8")])
            out.xy = (coordinates if order is None else coordinates[:, order]).astype(np.float64)
        else:
            wkb = np.array([None if g is None else bytes(g) for g in result[-1]], dtype=object)
            out.wkb = wkb if order is None else wkb[order]
        yield out
        if n < CHUNK:
            return
        last = int(pks.max())
