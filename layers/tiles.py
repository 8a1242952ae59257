"""Vector tiles of the registry's layers: one `ST_AsMVT` statement wrapped around the layer's own queryset.

The rows of a tile are exactly `layer.queryset(user)`, compiled to SQL by Django and wrapped, so access scope and
clearance are the registry's, never re-implemented here. A tile carries only plain, non-personal columns (see
`tile_attributes`). Tiles of public layers are cached (Django's cache, Redis) under a version of the layer's table
(see `tile_version`: a counter that saves and deletes bump, and PostgreSQL's own change counters for bulk writes);
tiles of scoped layers are built per request and never cached.
"""

import hashlib
import logging
import time
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.db.models import GeometryField
from django.contrib.postgres.fields import ArrayField
from django.core.cache import cache as django_cache
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import connection, models, transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save

from grid.models import User
from grid.selectors import value_prepared
from layers.registry import LAYERS, Layer, Sensitivity

logger = logging.getLogger(__name__)

MAX_ZOOM = 22
EXTENT = 4096  # tile coordinates per side (the MVT default)
BUFFER = 64  # tile coordinates kept beyond each edge, so that symbols at an edge are drawn whole in both tiles
CACHE_TIMEOUT = 24 * 3600  # a version bump makes old entries unreachable; this only frees memory
BROWSER_MAX_AGE = 60  # seconds a browser may reuse a public tile without asking again

# Column types a tile may carry. Free text (TextField), JSON (ST_AsMVT would spread its keys into attributes),
# binary data, geometries and relations never go into a tile.
_PLAIN_FIELDS = (
    models.CharField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.FloatField,
    models.DecimalField,
    models.BooleanField,
    models.DateField,  # DateTimeField included
    models.AutoField,
    models.BigAutoField,
)


@dataclass(frozen=True)
class TileAttribute:
    name: str  # the attribute's name in the tile (the registry's)
    field: models.Field


def _plain(field: models.Field) -> bool:
    if field.is_relation or not field.concrete or isinstance(field, GeometryField):
        return False
    if isinstance(field, ArrayField):
        return isinstance(field.base_field, models.CharField)
    return isinstance(field, _PLAIN_FIELDS) and not isinstance(field, models.TextField)


@cache
def tile_attributes(layer_name: str) -> tuple[TileAttribute, ...]:
    """The registry attributes of a layer that go into its tiles: plain columns of the model, never personal ones.

    On personal layers (people) a tile carries even less: the id and coded values (fields with choices, booleans),
    so that no name, birth date, member code, ID-card number or phone is ever in a tile, masked or not; the popup
    reads the rest through the API, which masks and audits.
    """
    layer = LAYERS[layer_name]
    found = []
    for attribute in layer.attributes:
        if attribute.personal:
            continue
        try:
            field = layer.model._meta.get_field(attribute.name)
        except FieldDoesNotExist:
            continue  # computed or read through a relation (grid__code …)
        if not _plain(field):
            continue
        if layer.sensitivity == Sensitivity.PERSONAL and not (
            field.primary_key or isinstance(field, models.BooleanField) or _coded(field)
        ):
            continue
        found.append(TileAttribute(attribute.name, field))
    return tuple(found)


def _coded(field: models.Field) -> bool:
    base = field.base_field if isinstance(field, ArrayField) else field
    return bool(base.choices)


def _value_sql(column: str, field: models.Field) -> str:
    """How a column reaches the tile: MVT knows strings, numbers and booleans; anything else becomes a string."""
    if isinstance(field, ArrayField):
        return f"array_to_string({column}, ',')"
    if isinstance(field, models.DateField):
        return f"to_json({column}) #>> '{{}}'"  # ISO 8601, as in the GeoJSON endpoints
    if isinstance(field, models.DecimalField):
        return f"{column}::float8"
    return column


def tile_in_range(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def tile_sql(*, layer: Layer, user: User | AnonymousUser, z: int, x: int, y: int) -> tuple[str, list] | None:
    """The statement that answers one tile of `layer` for `user`, with its parameters; None where the scope admits
    no row at all (Django compiles such a queryset to no statement)."""
    attributes = tile_attributes(layer.name)
    geometry = layer.model._meta.get_field(layer.geometry_field)
    # values() keeps every filter of the queryset (scope, clearance) and drops the select_related joins.
    qs = (
        layer.queryset(user)
        .order_by()
        .values(tile_geom=F(layer.geometry_field), **{f"tile_{i}": F(a.field.name) for i, a in enumerate(attributes)})
    )
    try:
        inner, inner_params = qs.query.sql_with_params()
    except EmptyResultSet:
        return None
    pk = next((i for i, a in enumerate(attributes) if a.field.primary_key), None)
    columns = "".join(
        f', {_value_sql(f"rows.tile_{i}", a.field)} AS "{a.name}"' for i, a in enumerate(attributes) if i != pk
    )
    if pk is not None:  # the feature id of MVT (an integer), and the same value as an attribute for popups
        columns += f', rows.tile_{pk} AS "tile_fid", rows.tile_{pk} AS "{attributes[pk].name}"'
    # The index on the column answers `&&` only against the column's own type: a geography box for a geography
    # column, a box in the column's SRID for a geometry one. The box includes the buffer.
    margin = BUFFER / EXTENT
    box = f"ST_Transform(ST_TileEnvelope(%s::int, %s::int, %s::int, margin => {margin!r}), {geometry.srid})"
    if geometry.geography:
        box, geom = f"{box}::geography", "rows.tile_geom::geometry"
    else:
        geom = "rows.tile_geom"
    fid = ", 'tile_fid'" if pk is not None else ""
    sql = (
        f"SELECT ST_AsMVT(tile, %s, {EXTENT}, 'geom'{fid}) FROM ("
        f"SELECT ST_AsMVTGeom(ST_Transform({geom}, 3857), ST_TileEnvelope(%s::int, %s::int, %s::int), "
        f"{EXTENT}, {BUFFER}, true) AS geom{columns} "
        f"FROM ({inner}) AS rows WHERE rows.tile_geom && {box}"
        f") AS tile WHERE tile.geom IS NOT NULL"
    )
    return sql, [layer.name, z, x, y, *inner_params, z, x, y]


def _fetch_tile(sql: str, params: list) -> bytes:
    # prepared once per connection: planning the tile statement costs about as much as running it on a tile
    # of a few hundred features
    value = value_prepared(sql, params)
    return bytes(value) if value is not None else b""


def tile_build(*, layer: Layer, user: User | AnonymousUser, z: int, x: int, y: int) -> bytes:
    """One tile of `layer` as `user` may see it, straight from PostGIS; b"" when no feature falls in it."""
    statement = tile_sql(layer=layer, user=user, z=z, x=x, y=y)
    return b"" if statement is None else _fetch_tile(*statement)


# --- cache ------------------------------------------------------------------------------------------------------


def tile_cacheable(layer: Layer) -> bool:
    """Only public layers are cached: their rows are the same for every caller. A scoped layer's tile differs per
    account (scope, clearance) and changes when scopes change, so it is built per request and never stored.
    (settings.TILES_CACHE = False turns the cache off altogether, as the benchmark does to measure without it.)"""
    return layer.sensitivity == Sensitivity.PUBLIC


def _version_key(model: type[models.Model]) -> str:
    # The database's name is part of every key: several databases (tests, benchmarks) may share one Redis.
    return f"tiles:v:{settings.DATABASES['default']['NAME']}:{model._meta.db_table}"


def tile_version(layer: Layer) -> str:
    """The current version of the layer's table: a counter that saves and deletes bump at once (`tiles_changed`),
    and PostgreSQL's own count of the table's inserted, updated and deleted rows and its file node, which also move
    with bulk writes, QuerySet.update(), raw SQL and TRUNCATE (seen by other connections within about 10 s, when
    the writer's statistics reach the shared counters).

    A lost counter (Redis restarted) starts again from the clock, so that it never meets tiles stored under an
    earlier number."""
    return f"{_counter(layer.model)}.{_table_changes(layer.model)}"


def _counter(model: type[models.Model]) -> int:
    key = _version_key(model)
    counter = django_cache.get(key)
    if counter is None:
        django_cache.add(key, time.time_ns(), timeout=None)
        counter = django_cache.get(key)
    return int(counter)


def _table_changes(model: type[models.Model]) -> str:
    with connection.cursor() as cursor:
        cursor.execute(_TABLE_CHANGES_SQL, [model._meta.db_table])
        return cursor.fetchone()[0]


# One cheap lookup by oid: no scan of the table.
_TABLE_CHANGES_SQL = (
    "SELECT concat_ws('.', pg_relation_filenode(t.oid), pg_stat_get_tuples_inserted(t.oid), "
    "pg_stat_get_tuples_updated(t.oid), pg_stat_get_tuples_deleted(t.oid)) FROM (SELECT %s::regclass::oid AS oid) t"
)


def tiles_changed(*, model: type[models.Model]) -> None:
    """Make every cached tile of the layers of `model` stale now. Saves and deletes of single rows call it by
    themselves (below); writes that bypass them (bulk_create, QuerySet.update, raw SQL) are seen through
    PostgreSQL's counters within seconds (see `tile_version`), or at once if their service calls this."""
    key = _version_key(model)
    try:
        try:
            django_cache.incr(key)
        except ValueError:  # no version yet: nothing is cached under one either
            django_cache.add(key, time.time_ns(), timeout=None)
    except Exception:  # the cache being down must not fail a write; tiles are not served from it then
        logger.warning("tiles: could not bump the version of %s", model._meta.db_table, exc_info=True)


def _cached_models() -> set[type[models.Model]]:
    return {layer.model for layer in LAYERS.values() if tile_cacheable(layer)}


def _on_change(sender, **kwargs) -> None:
    # Now, for this connection's own reads inside the transaction; and again after commit, because a request that
    # read the old rows between the two may have stored its tile under the new version.
    tiles_changed(model=sender)
    transaction.on_commit(lambda: tiles_changed(model=sender))


for _model in _cached_models():
    post_save.connect(_on_change, sender=_model, dispatch_uid=f"tiles-{_model._meta.label}-save")
    post_delete.connect(_on_change, sender=_model, dispatch_uid=f"tiles-{_model._meta.label}-delete")


@dataclass(frozen=True)
class Tile:
    body: bytes
    etag: str | None  # for cached (public) tiles only
    cached: bool  # whether the tile may be kept by browsers and proxies


def tile_for(*, layer: Layer, user: User | AnonymousUser, z: int, x: int, y: int) -> Tile:
    """One tile of `layer` for `user`: from the cache for public layers (built and stored on a miss)."""
    if not tile_cacheable(layer) or not getattr(settings, "TILES_CACHE", True):
        return Tile(tile_build(layer=layer, user=user, z=z, x=x, y=y), None, False)
    changes = _table_changes(layer.model)
    try:
        version = f"{_counter(layer.model)}.{changes}"
        key = f"tiles:t:{settings.DATABASES['default']['NAME']}:{layer.name}:{version}:{z}/{x}/{y}"
        body = django_cache.get(key)
    except Exception:  # no cache: serve the tile uncached rather than fail
        logger.warning("tiles: cache unavailable", exc_info=True)
        return Tile(tile_build(layer=layer, user=user, z=z, x=x, y=y), None, False)
    etag = '"' + hashlib.blake2b(key.encode(), digest_size=12).hexdigest() + '"'
    if body is None:
        body = tile_build(layer=layer, user=user, z=z, x=x, y=y)
        try:
            django_cache.set(key, body, timeout=CACHE_TIMEOUT)
        except Exception:  # a cache that is down costs speed only
            logger.warning("tiles: could not store a tile", exc_info=True)
    return Tile(body, etag, True)
