"""Exports of any layer, as the requesting account may see it, to zipped Shapefile, GeoPackage, GeoJSON, KML or CSV.

Rows come from PostgreSQL CHUNK at a time in primary-key order, each chunk aggregated by PostgreSQL into one row
of arrays, a column each (no GEOS object, no model instance, no tuple per row); geometry as WKB, or for points
written to a Shapefile as two arrays of coordinates. Only personal attributes (ID-card number, phone) take a
Python step per row: they are decrypted and, unless the account has clearance, masked by the registry's own
`Attribute.read`.

GeoPackage, GeoJSON, KML and CSV go to GDAL through pyogrio's raw writer. GeoPackage is appended chunk by chunk;
GDAL's GeoJSON and KML drivers cannot append without rewriting the whole file, and its CSV driver cannot append
X/Y columns, so those three formats gather the chunks' columns (numpy arrays, not rows) and write once at the end.
Shapefiles are written here (see "Shapefile" below) and streamed into their zip.
"""

import csv
import datetime as dt
import hashlib
import io
import itertools
import logging
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import AsWKB
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.files import File
from django.db import OperationalError, connections, models, transaction
from django.db.models import F, Func, Q, QuerySet, Value
from django.utils import timezone
from django.utils.translation import gettext as _
from pyogrio import raw

from grid.access import grids_for, may_see_sensitive, scope_loaded
from grid.models import User
from layers.filters import LayerQuerySerializer
from layers.io.readers import FIELD_MAP_NAME, formula_quoted  # the importer reads back what the exporter writes
from layers.io.shapefile import (
    SHAPEFILE_MAX_BYTES,
    SHAPEFILE_PRJ,
    DbfField,
    dbf_header,
    dbf_records,
    point_files,
    too_large,
)
from layers.models import AuditEntry, ExportJob, JobStatus
from layers.registry import LAYERS, Attribute, Layer, Sensitivity
from layers.selectors import LayerFilters, layer_rows, layer_visible_to
from layers.services import audit_record

logger = logging.getLogger(__name__)

CHUNK = 50_000  # rows per fetch and per write: few enough appends, bounded memory
DEFAULT_RETENTION_HOURS = 24
FILTER_NAMES = ("area", "bbox", "from", "to", "category", "kind")


@dataclass(frozen=True)
class _Format:
    driver: str
    suffix: str
    appendable: bool  # the driver appends a chunk cheaply (no rewrite of what is there)
    layer_options: dict = field(default_factory=dict)


FORMATS = {
    ExportJob.Format.SHP: _Format("ESRI Shapefile", ".shp", True, {"ENCODING": "UTF-8"}),  # → .cpg "UTF-8"
    ExportJob.Format.GPKG: _Format("GPKG", ".gpkg", True),
    ExportJob.Format.GEOJSON: _Format("GeoJSON", ".geojson", False),
    ExportJob.Format.KML: _Format("KML", ".kml", False),
    # the BOM lets spreadsheet programs read the Chinese text as UTF-8
    ExportJob.Format.CSV: _Format("CSV", ".csv", False, {"WRITE_BOM": "YES"}),
}


# --- filters ----------------------------------------------------------------------------------------------------------


def export_filters_parse(*, layer: Layer, filters: dict, user: User | AnonymousUser) -> LayerFilters:
    """The export's filters ({"area", "bbox", "from", "to", "category", "kind"} as given) checked against `layer`.

    The same rules as the layer endpoints' query (one serializer); errors are a ValidationError keyed by the
    export's own names (`bbox`, not the endpoints' `in_bbox`).
    """
    data = {
        ("in_bbox" if name == "bbox" else name): value
        for name, value in filters.items()
        if name in FILTER_NAMES and value not in (None, "")
    }
    query = LayerQuerySerializer(data=data, context={"layer": layer, "user": user})
    if not query.is_valid():
        raise ValidationError(
            {
                ("bbox" if name == "in_bbox" else name): [str(m) for m in messages]
                for name, messages in query.errors.items()
            }
        )
    return query.filters


def export_request(*, user: User, layer_name: str, format: str, filters: dict) -> ExportJob:
    """Check and record an export job for `user`; the worker runs it after commit."""
    errors: dict[str, str] = {}
    layer = LAYERS.get(layer_name)
    if layer is None:
        errors["layer"] = _("There is no layer named “%(name)s”.") % {"name": layer_name}
    if format not in FORMATS:
        errors["format"] = _("Choose one of: %(formats)s.") % {"formats": ", ".join(FORMATS)}
    if errors:
        raise ValidationError(errors)
    if not user.is_authenticated or not layer_visible_to(layer=layer, user=user):
        raise PermissionDenied(_("This layer is not open to this account."))
    export_filters_parse(layer=layer, filters=filters, user=user)
    given = {name: str(filters[name]) for name in FILTER_NAMES if filters.get(name) not in (None, "")}
    job = ExportJob.objects.create(created_by=user, layer=layer.name, format=format, filters=given)

    from layers.io.export_tasks import export_run_task  # the task module imports this one

    transaction.on_commit(lambda: export_run_task.delay(job_id=job.pk))
    return job


def export_job_for(*, user: User | AnonymousUser, pk: int) -> ExportJob | None:
    """The job, if `user` made it: nobody else (superusers neither) sees its filters or its file."""
    if not user.is_authenticated or not user.is_active:
        return None
    return ExportJob.objects.filter(pk=pk, created_by=user).first()


# --- what a file may be given to ------------------------------------------------------------------------------------


def retention() -> dt.timedelta:
    return dt.timedelta(hours=float(getattr(settings, "EXPORT_RETENTION_HOURS", DEFAULT_RETENTION_HOURS)))


def export_expires(job: ExportJob) -> dt.datetime | None:
    """When the job's file is deleted (EXPORT_RETENTION_HOURS after it was written); None before it is."""
    return job.finished + retention() if job.finished and job.status == JobStatus.DONE else None


def export_expired(job: ExportJob, *, now: dt.datetime | None = None) -> bool:
    expires = export_expires(job)
    return expires is not None and expires <= (now or timezone.now())


def export_file_delete(*, job: ExportJob) -> None:
    """Delete the job's file (the job stays, as the record of what was exported)."""
    if job.file:
        try:
            job.file.delete(save=False)
        except OSError:  # storage trouble: the next purge tries again
            logger.warning("export %s: file not deleted", job.pk, exc_info=True)
            return
        ExportJob.objects.filter(pk=job.pk).update(file="")


def exports_purge(*, now: dt.datetime | None = None) -> int:
    """Delete the files of expired exports; how many."""
    cutoff = (now or timezone.now()) - retention()
    count = 0
    for job in ExportJob.objects.filter(status=JobStatus.DONE, finished__lte=cutoff).exclude(file=""):
        export_file_delete(job=job)
        count += not job.file
    return count


def _scope_key(user: User | AnonymousUser, layer: Layer) -> str:
    """What bounds the rows `user` gets of `layer`: a public layer's are everybody's; otherwise the account's role
    and areas and the grids they give. The same key at download time means the same rows may be handed over."""
    if layer.sensitivity == Sensitivity.PUBLIC:
        return "public"
    areas = sorted(user.areas.values_list("pk", flat=True)) if user.is_authenticated else []
    grids = sorted(grids_for(user).values_list("pk", flat=True))
    text = f"{user.is_superuser}|{getattr(user, 'role', '')}|{areas}|{grids}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _cleared(user: User | AnonymousUser, layer: Layer) -> bool:
    """Whether the account's clearance shapes the file: personal layers, unmasked and with sensitive categories."""
    return layer.sensitivity == Sensitivity.PERSONAL and may_see_sensitive(user)


def export_download_problem(*, job: ExportJob, user: User | AnonymousUser) -> str | None:
    """Why `user` may not be given the job's file now, though they made it (None: they may): the layer is closed
    to them, their scope is not what it was when the file was written, or the file holds what needs a clearance
    they no longer have. Judged against the export's audit entry, which records what the file was written for."""
    layer = LAYERS.get(job.layer)
    user = scope_loaded(user)
    if layer is None or not layer_visible_to(layer=layer, user=user):
        return _("This layer is not open to this account.")
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT, details__job=job.pk).order_by("-id").first()
    if entry is None:  # written before files were checked at download: nothing to check it against
        return _("This export cannot be checked against this account. Request a new export.")
    written_for = entry.details
    if written_for.get("clearance") and not _cleared(user, layer):
        return _("This export holds personal data that this account may no longer see. Request a new export.")
    if written_for.get("scope") != _scope_key(user, layer):
        return _("This account's area or role has changed since the export was written. Request a new export.")
    return None


# --- columns ----------------------------------------------------------------------------------------------------------


class _PathRow:
    """Stands in for a model instance in `Attribute.read`, which only walks attributes (`row.grid.code`).

    Reading: each attribute step extends an ORM path, and a complete path gives its fetched value. Probing
    (`seen` given, no values): the steps are recorded, so that a plain attribute becomes one `values()` column
    (`grid__code`) and a computed one (a masked ID-card number) names the columns its Python read needs.
    """

    __slots__ = ("_values", "_prefix", "_seen")

    def __init__(self, values: dict | None, prefix: str = "", seen: list | None = None):
        self._values, self._prefix, self._seen = values, prefix, seen

    def __getattr__(self, name: str):
        path = self._prefix + name
        if self._seen is not None:
            self._seen.append(path)
            return _PathRow(None, path + "__", self._seen)
        if path in self._values:
            return self._values[path]
        return _PathRow(self._values, path + "__")

    def __bool__(self) -> bool:  # while probing, a value is "empty": computed reads stop early and harmlessly
        return self._seen is None


@dataclass(frozen=True)
class Column:
    """One attribute as it is exported: where its values come from and what type the file gives them."""

    attribute: Attribute
    kind: str  # text, int, float, bool, date, datetime, list, personal
    path: str | None = None  # the values() column of a plain attribute
    sources: tuple[str, ...] = ()  # the values() columns a personal (Python) read needs

    @property
    def name(self) -> str:
        return self.attribute.name


def _probe(attribute: Attribute) -> tuple[object, list[str]]:
    seen: list[str] = []
    probe = _PathRow(None, "", seen)
    try:
        result = attribute.read(probe)
    except Exception:  # a computed read may trip over the stand-in; the recorded paths are what counts
        result = None
    return result, seen


def _model_field(model: type[models.Model], path: str) -> models.Field:
    current, found = model, None
    for part in path.split("__"):
        found = current._meta.get_field(part)
        if found.is_relation and found.related_model is not None:
            current = found.related_model
    return found


def _kind(model_field: models.Field) -> str:
    if isinstance(model_field, ArrayField):
        return "list"
    if isinstance(model_field, models.BooleanField):
        return "bool"
    if isinstance(model_field, models.DateTimeField):
        return "datetime"
    if isinstance(model_field, models.DateField):
        return "date"
    if isinstance(model_field, models.IntegerField | models.AutoField) and not model_field.is_relation:
        return "int"
    if isinstance(model_field, models.FloatField | models.DecimalField):
        return "float"
    return "text"


def layer_columns(layer: Layer) -> list[Column]:
    """The layer's attributes as export columns, in the registry's order."""
    columns = []
    for attribute in layer.attributes:
        result, seen = _probe(attribute)
        leaves = tuple(p for p in dict.fromkeys(seen) if not any(o.startswith(p + "__") for o in seen))
        if attribute.personal or not (isinstance(result, _PathRow) and len(leaves) == 1):
            if not leaves:
                raise ValueError(f"layer {layer.name}: attribute {attribute.name} reads no field")
            columns.append(Column(attribute, "personal", sources=leaves))
            continue
        try:
            kind = _kind(_model_field(layer.model, leaves[0]))
        except FieldDoesNotExist as exc:
            raise ValueError(f"layer {layer.name}: attribute {attribute.name}: {exc}") from exc
        columns.append(Column(attribute, kind, path=leaves[0]))
    return columns


def _null_mask(values: list) -> np.ndarray | None:
    if None not in values:  # a scan in C: most columns have no null
        return None
    mask = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    return mask if mask.any() else None


def _column_array(column: Column, values: list) -> tuple[np.ndarray, np.ndarray | None]:
    """The values of one column of a chunk as the array pyogrio writes, and the mask of its nulls."""
    kind = column.kind
    if kind in ("text", "list"):  # a list arrives joined by PostgreSQL (array_to_string), see _fetch
        return np.array(values, dtype=object), None
    if kind in ("int", "bool"):
        mask = _null_mask(values)
        clean = values if mask is None else [0 if v is None else v for v in values]
        return np.array(clean, dtype=np.int64 if kind == "int" else np.bool_), mask
    if kind == "float":
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64), None
    if kind == "date":
        return np.array(values, dtype="datetime64[D]"), None  # None → NaT → null
    if kind == "datetime":
        # ISO 8601 with the display zone's offset: unambiguous in every format (DBF has no date-time type)
        return np.array([None if v is None else timezone.localtime(v).isoformat() for v in values], dtype=object), None
    raise AssertionError(kind)


def _personal_array(column: Column, values: dict[str, list], *, unmasked: bool) -> np.ndarray:
    """A personal attribute of a chunk: decrypted and, unless the account has clearance, masked by its own read."""
    sources = [values[path] for path in column.sources]
    # clearance: the registry's full value (its read masks), audited with the export
    reveal = column.attribute.reveal if unmasked else None
    read, names = reveal or column.attribute.read, column.sources
    return np.array(
        [read(_PathRow(dict(zip(names, row, strict=True)))) for row in zip(*sources, strict=True)], dtype=object
    )


def _formulas_neutralised(columns: list[Column], data: list[np.ndarray]) -> None:
    """Text cells of a CSV that a spreadsheet would run as formulas (`=HYPERLINK(…)`), quoted (see
    readers.formula_quoted); numbers stay numbers."""
    for i, column in enumerate(columns):
        if column.kind in ("text", "list", "personal"):
            values = data[i]
            data[i] = np.array([formula_quoted(v) if isinstance(v, str) and v else v for v in values], dtype=object)


# --- field names (Shapefile) ------------------------------------------------------------------------------------------


def shapefile_field_names(names: list[str]) -> list[str]:
    """DBF field names: ASCII letters, digits and `_`, at most 10 characters, unique regardless of case.

    Predictable: other characters become `_` (a name with nothing ASCII left becomes `field`), a name is cut
    to 10 characters, and one already taken is cut shorter and gets 1, 2, … (`category_name` → `category_n`;
    a second `category_n…` → `category_1`). fields.csv in the zip maps them back.
    """
    taken: set[str] = set()
    out = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name)[:10]
        base = base if base.strip("_") else "field"  # nothing ASCII left (类别): a neutral name
        short, n = base, 0
        while short.lower() in taken:
            n += 1
            short = base[: 10 - len(str(n))] + str(n)
        taken.add(short.lower())
        out.append(short)
    return out


# --- geometry ---------------------------------------------------------------------------------------------------------

GEOMETRY_TYPES = {
    "POINT": "Point",
    "MULTIPOINT": "MultiPoint",
    "LINESTRING": "LineString",
    "MULTILINESTRING": "MultiLineString",
    "POLYGON": "Polygon",
    "MULTIPOLYGON": "MultiPolygon",
}


@dataclass(frozen=True)
class _Part:
    """One output layer: a file of the export (Shapefile splits mixed geometries into several)."""

    stem: str
    geometry_type: str
    geometry: object  # expression of the geometry to write
    where: Q = field(default_factory=Q)


class _Dimension(Func):
    function = "ST_Dimension"
    output_field = models.IntegerField()


def _parts(layer: Layer, fmt: str, rows: QuerySet) -> tuple[QuerySet, list[_Part]]:
    geometry_field = layer.model._meta.get_field(layer.geometry_field)
    geom = F(layer.geometry_field)
    typed = GEOMETRY_TYPES.get(geometry_field.geom_type)
    if typed is not None or fmt != ExportJob.Format.SHP:
        # one layer: a typed column as it is; a mixed one (organizations) as "any geometry", which GeoPackage,
        # GeoJSON, KML and CSV (WKT) all hold
        return rows, [_Part(layer.name, typed or "Unknown", geom)]
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
    points = _Part(
        f"{layer.name}_point",
        "MultiPoint" if multipoints else "Point",
        extract(1) if multipoints else geom,
        Q(_export_dim=0) | Q(_export_dim__isnull=True),
    )
    lines = _Part(f"{layer.name}_line", "MultiLineString", extract(2), Q(_export_dim=1))
    polygons = _Part(f"{layer.name}_polygon", "MultiPolygon", extract(3), Q(_export_dim=2))
    present = [part for part in (points, lines, polygons) if rows.filter(part.where).exists()]
    return rows, present or [points]


# --- fetching ---------------------------------------------------------------------------------------------------------


@dataclass
class _Chunk:
    """Up to CHUNK rows of one part, as columns: values by values() path, and the geometry."""

    size: int
    values: dict[str, list]
    wkb: np.ndarray | None = None  # object array of WKB (None for no geometry)
    xy: np.ndarray | None = None  # (2, n) float64 longitude, latitude (NaN for no geometry), points only


def _fetch(rows: QuerySet, columns: list[Column], paths: list[str], part: _Part, *, xy: bool) -> Iterator[_Chunk]:
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
        out = _Chunk(n, values)
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


def _chunk_arrays(
    columns: list[Column], chunk: _Chunk, *, unmasked: bool
) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    data, masks = [], []
    for column in columns:
        if column.kind == "personal":
            data.append(_personal_array(column, chunk.values, unmasked=unmasked))
            masks.append(None)
        else:
            array, mask = _column_array(column, chunk.values[column.path])
            data.append(array)
            masks.append(mask)
    return data, masks


# --- Shapefile --------------------------------------------------------------------------------------------------------

_Member = tuple[str, int, Iterator[bytes]]  # a file of the zip: name, size, contents in pieces


@dataclass
class _ShapefileWriter:
    """One Shapefile of the zip: attributes gathered as .dbf cells; points as coordinates, other geometries
    appended by GDAL (geometry only) to a Shapefile in the work folder, whose .shp and .shx are taken."""

    stem: str
    fields: list[DbfField]
    geometry: "_Writer | None" = None  # GDAL, for lines and polygons
    xy: list[np.ndarray] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def add(self, chunk: _Chunk, data: list[np.ndarray], masks: list[np.ndarray | None]) -> None:
        for f, values, mask in zip(self.fields, data, masks, strict=True):
            f.add(values, mask)
        if self.geometry is not None:
            self.geometry.add(chunk.wkb, [], [])
        else:
            self.xy.append(chunk.xy)
        self.sizes.append(chunk.size)

    def members(self) -> Iterator[_Member]:
        if self.geometry is None:
            shp, shx = point_files(np.hstack(self.xy) if self.xy else np.empty((2, 0)))
            self.xy.clear()
            yield f"{self.stem}.shp", len(shp), iter([shp])
            yield f"{self.stem}.shx", len(shx), iter([shx])
        else:
            self.geometry.close()
            for suffix in (".shp", ".shx"):
                path = self.geometry.path.with_suffix(suffix)
                yield path.name, path.stat().st_size, _file_pieces(path)
        fields = self.fields
        if not fields:  # a .dbf needs a field: FID, as GDAL adds
            fields = [DbfField("FID", "N", 9)]
            start = 0
            for size in self.sizes:
                fields[0].add(np.arange(start, start + size), None)
                start += size
        count = sum(self.sizes)
        header = dbf_header(fields, count)
        size = len(header) + count * (1 + sum(f.width for f in fields)) + 1
        if size > SHAPEFILE_MAX_BYTES:
            raise too_large()
        records = (dbf_records(fields, i) for i in range(len(self.sizes)))
        yield f"{self.stem}.dbf", size, itertools.chain([header], records, [b"\x1a"])
        yield f"{self.stem}.prj", len(SHAPEFILE_PRJ), iter([SHAPEFILE_PRJ.encode()])
        yield f"{self.stem}.cpg", 5, iter([b"UTF-8"])


def _file_pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while piece := source.read(1 << 22):
            yield piece


def _zip(archive: Path, members: Iterator[_Member]) -> None:
    """The zip of `members`, each written as it is produced. Deflate level 1: the .dbf's blank padding
    compresses nearly as well as at level 6, in a fraction of the time."""
    stamp = timezone.localtime().timetuple()[:6]
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name, size, pieces in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            info._compresslevel = 1  # where ZipFile.open() reads the level (compress_level from Python 3.13 on)
            with zipped.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as out:
                for piece in pieces:
                    out.write(piece)


def _field_map(columns: list[Column], names: list[str]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["field", "shapefile_field", "title"])
    for column, short in zip(columns, names, strict=True):
        writer.writerow([column.name, short, str(column.attribute.title)])
    return out.getvalue().encode("utf-8-sig")


# --- the run ----------------------------------------------------------------------------------------------------------


@dataclass
class _Writer:
    """Writes one part's chunks to one file: appended as they come, or gathered and written once."""

    path: Path
    fmt: _Format
    part: _Part
    fields: list[str]
    options: dict
    dataset_options: dict
    written: int = 0
    _held: list[tuple[np.ndarray, list[np.ndarray], list[np.ndarray | None]]] = field(default_factory=list)

    def add(self, geometry: np.ndarray, data: list[np.ndarray], masks: list[np.ndarray | None]) -> None:
        if self.fmt.appendable:
            self._write(geometry, data, masks, append=self.written > 0)
        else:
            self._held.append((geometry, data, masks))
        self.written += len(geometry)

    def close(self) -> None:
        if self.fmt.appendable and self.written:
            return
        if not self._held:  # an empty layer still makes a readable file with the right fields
            self._write(
                np.array([], dtype=object),
                [np.array([], dtype=object) for _ in self.fields],
                [None] * len(self.fields),
                append=False,
            )
            return
        geometry = np.concatenate([g for g, _, _ in self._held])
        data, masks = [], []
        for i in range(len(self.fields)):
            data.append(np.concatenate([d[i] for _, d, _ in self._held]))
            parts = [m[i] for _, _, m in self._held]
            masks.append(
                None
                if all(m is None for m in parts)
                else np.concatenate(
                    [
                        np.zeros(len(d[i]), dtype=bool) if m is None else m
                        for (_, d, _), m in zip(self._held, parts, strict=True)
                    ]
                )
            )
        self._held.clear()
        self._write(geometry, data, masks, append=False)

    def _write(self, geometry, data, masks, *, append: bool) -> None:
        raw.write(
            str(self.path),
            geometry,
            data,
            self.fields,
            field_mask=masks if any(m is not None for m in masks) else None,
            layer=self.path.stem,
            driver=self.fmt.driver,
            geometry_type=self.part.geometry_type,
            crs="EPSG:4326",
            append=append,
            promote_to_multi=False,
            layer_options=None if append else (self.options or None),
            dataset_options=None if append else (self.dataset_options or None),
        )


def _set_progress(job: ExportJob, value: float) -> None:
    # an UPDATE of its own, committed at once outside a transaction, so a poller sees it while the job runs
    ExportJob.objects.filter(pk=job.pk).update(progress=round(min(value, 1.0), 3))


def _export(
    *, job: ExportJob, layer: Layer, user: User | AnonymousUser, filters: LayerFilters, workdir: Path
) -> tuple[Path, int, list[str]]:
    fmt = FORMATS[job.format]
    shapefile = job.format == ExportJob.Format.SHP
    columns = layer_columns(layer)
    unmasked = may_see_sensitive(user)
    personal = [c.name for c in columns if c.kind == "personal"]
    names = [c.name for c in columns]
    if shapefile:
        names = shapefile_field_names(names)
    options = dict(fmt.layer_options)
    dataset_options: dict = {}
    geometry_field = layer.model._meta.get_field(layer.geometry_field)
    if job.format == ExportJob.Format.CSV:
        options["GEOMETRY"] = "AS_XY" if geometry_field.geom_type == "POINT" else "AS_WKT"
    if job.format == ExportJob.Format.KML and "name" in names:
        dataset_options["NameField"] = "name"  # the placemark's label: the feature's (Chinese) name

    # values() columns: plain attributes once each, then the sources of personal ones
    paths: list[str] = []
    for column in columns:
        for path in (column.path,) if column.path else column.sources:
            if path not in paths:
                paths.append(path)

    rows, parts = _parts(layer, job.format, layer_rows(layer=layer, user=user, filters=filters))
    total = rows.count()
    done = 0
    # appended formats reach 1.0 as they write; gathered ones and the Shapefile's zip keep the last tenth
    share = 1.0 if fmt.appendable and not shapefile else 0.9
    writers: list[_Writer | _ShapefileWriter] = []
    for part in parts:
        points = shapefile and part.geometry_type == "Point"  # points: .shp written here, from coordinates
        if shapefile:
            geometry = None if points else _Writer(workdir / f"{part.stem}.shp", fmt, part, [], {}, {})
            fields = [DbfField.for_kind(short, c.kind) for short, c in zip(names, columns, strict=True)]
            writer = _ShapefileWriter(part.stem, fields, geometry)
        else:
            writer = _Writer(workdir / f"{part.stem}{fmt.suffix}", fmt, part, names, options, dataset_options)
        for chunk in _fetch(rows, columns, paths, part, xy=points):
            data, masks = _chunk_arrays(columns, chunk, unmasked=unmasked)
            if job.format == ExportJob.Format.CSV:
                _formulas_neutralised(columns, data)
            if isinstance(writer, _ShapefileWriter):
                writer.add(chunk, data, masks)
            else:
                writer.add(chunk.wkb, data, masks)
            done += chunk.size
            _set_progress(job, share * done / max(total, 1))
        writers.append(writer)

    if not shapefile:
        writers[0].close()
        return writers[0].path, done, personal if unmasked else []

    def members() -> Iterator[_Member]:
        for writer in writers:
            yield from writer.members()
        field_map = _field_map(columns, names)
        yield FIELD_MAP_NAME, len(field_map), iter([field_map])

    archive = workdir / f"{layer.name}.zip"
    _zip(archive, members())
    return archive, done, personal if unmasked else []


def _finish(job: ExportJob, *, status: str, error: str = "") -> ExportJob:
    job.status, job.error, job.finished = status, error[:2000], timezone.now()
    if status == JobStatus.DONE:
        job.progress = 1.0
    job.save(update_fields=["status", "error", "finished", "progress", "feature_count", "file", "modified"])
    return job


def export_run(*, job: ExportJob) -> ExportJob:
    """Write the job's file, as its creator may see the layer now; audited. A finished job is left as it is."""
    claimed = ExportJob.objects.filter(pk=job.pk, status__in=[JobStatus.PENDING, JobStatus.RUNNING]).update(
        status=JobStatus.RUNNING, progress=0.0, error=""
    )
    job.refresh_from_db()
    if not claimed:
        return job
    user = scope_loaded(job.created_by or AnonymousUser())
    layer = LAYERS.get(job.layer)
    # access is judged again at run time: a role or scope may have changed since the request
    if layer is None or not user.is_authenticated or not layer_visible_to(layer=layer, user=user):
        return _finish(job, status=JobStatus.FAILED, error=_("This layer is not open to this account."))
    try:
        filters = export_filters_parse(layer=layer, filters=job.filters, user=user)
    except ValidationError as exc:
        return _finish(
            job,
            status=JobStatus.FAILED,
            error="; ".join(f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()),
        )
    try:
        with tempfile.TemporaryDirectory(prefix="gridline-export-") as tmp:
            path, count, unmasked = _export(job=job, layer=layer, user=user, filters=filters, workdir=Path(tmp))
            stamp = timezone.localtime().strftime("%Y%m%d")
            with path.open("rb") as produced:
                job.file.save(f"{layer.name}-{stamp}-{job.pk}{path.suffix}", File(produced), save=False)
    except OperationalError:
        raise  # the database went away: the task retries, and the job (still running) is claimed again
    except Exception as exc:
        logger.exception("export %s failed", job.pk)
        return _finish(job, status=JobStatus.FAILED, error=str(exc) or exc.__class__.__name__)
    job.feature_count = count
    with transaction.atomic():
        details = {
            "job": job.pk,
            "format": job.format,
            "filters": job.filters,
            "count": count,
            # what the file was written for, judged again at each download (export_download_problem)
            "scope": _scope_key(user, layer),
            "clearance": _cleared(user, layer),
        }
        if unmasked:
            details["unmasked"] = unmasked  # the file holds these personal fields in full
        audit_record(actor=user, action=AuditEntry.Action.EXPORT, target=layer.name, details=details)
        return _finish(job, status=JobStatus.DONE)


def export_filename(job: ExportJob) -> str:
    """The name a download is saved under: layer, day and job, e.g. places-20240501-12.zip."""
    return Path(job.file.name).name if job.file else f"{job.layer}-{job.pk}"


__all__ = [
    "CHUNK",
    "FORMATS",
    "Column",
    "export_download_problem",
    "export_expired",
    "export_expires",
    "export_file_delete",
    "export_filename",
    "export_filters_parse",
    "export_job_for",
    "export_request",
    "export_run",
    "exports_purge",
    "layer_columns",
    "shapefile_field_names",
]
