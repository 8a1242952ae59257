"""Readers of spatial files: zipped Shapefiles (the .dbf decoded here, see the package's note on encodings),
GeoPackage, GeoJSON and KML, through pyogrio's GDAL."""

import csv
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from django.utils.translation import gettext as _
from pyogrio.errors import DataLayerError, DataSourceError

from layers.io.readers.table import FIELD_MAP_NAME, ReadError, Table, open_zip, side_file

_FIELD_MAP_HEADER = ["field", "shapefile_field", "title"]
_GBK_CODEPAGES = {"gbk", "cp936", "936", "gb2312", "gb18030", "ansi 936", "windows-936", "ms936"}


def _dbf_language_driver(data: bytes) -> int:
    return data[29] if len(data) > 29 else 0


def read_shapefile_zip(path: Path) -> Table:
    """The rows of every Shapefile in the zip at `path`.

    A Shapefile holds one geometry type, so a layer of points and polygons (organizations) travels as one
    Shapefile per type in one zip, as our exports write it. Several Shapefiles are read one after the other,
    each with its own encoding, if they have the same fields (in any order) and coordinate system; otherwise
    the zip is refused with a message that names them.
    """
    archive = open_zip(
        path,
        _("The zip file is broken or not a zip file (%(exc)s). Zip the Shapefile's .shp, .shx, .dbf and .prj again."),
    )
    try:
        broken = archive.testzip()  # every member decompressed once: bounded by zip_problem's limits
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        archive.close()
        raise ReadError(
            _(
                "The zip file is broken or not a zip file (%(exc)s). Zip the Shapefile's .shp, .shx, "
                ".dbf and .prj again."
            )
            % {"exc": exc}
        ) from exc
    if broken is not None:
        archive.close()
        raise ReadError(
            _("The zip file is damaged: %(member)s cannot be read. Zip the Shapefile again.") % {"member": broken}
        )
    with archive:
        names = [n for n in archive.namelist() if not n.startswith("__MACOSX/") and not n.endswith("/")]
        shps = sorted(n for n in names if n.lower().endswith(".shp"))
        if not shps:
            raise ReadError(
                _("The zip holds no .shp file. A Shapefile import is a zip of .shp, .shx, .dbf and .prj (and .cpg).")
            )
        field_map = _field_map(archive, names)
        tables = [_read_shapefile(path, archive, names, shp, field_map) for shp in shps]
    if len(tables) == 1:
        return tables[0]
    return _concatenate_shapefiles(shps, tables)


def _read_shapefile(
    path: Path, archive: zipfile.ZipFile, names: list[str], shp: str, field_map: dict[str, str]
) -> Table:
    stem = shp[:-4]
    siblings = {n[len(stem) :].lower(): n for n in names if n[: len(stem)] == stem and "." in n[len(stem) :]}
    missing = [ext for ext in (".shx", ".dbf") if ext not in siblings]
    if missing:
        raise ReadError(
            _("The Shapefile %(name)s lacks its %(missing)s file.")
            % {"name": Path(shp).name, "missing": " and ".join(missing)}
        )
    notes = []
    cpg = side_file(archive, siblings[".cpg"]).decode("ascii", "replace").strip() if ".cpg" in siblings else ""
    with archive.open(siblings[".dbf"]) as dbf:
        dbf_head = dbf.read(32)
    has_prj = ".prj" in siblings
    if cpg:
        encoding = "GB18030" if cpg.lower() in _GBK_CODEPAGES else cpg
        notes.append(_("Text encoding %(enc)s, as the .cpg says.") % {"enc": cpg})
    elif _dbf_language_driver(dbf_head) == 0x4D:
        encoding = "GB18030"
        notes.append(_("No .cpg: text read as GBK, as the .dbf's language driver says."))
    else:
        encoding = None  # decided below from the bytes
    table = _read_ogr(f"/vsizip/{path}/{shp}", encoding=encoding or "ISO-8859-1", notes=notes)
    if encoding is None:
        _redecode(table)
    _orient_polygons(table)
    table.crs_missing = not has_prj
    if not has_prj:
        table.crs = None
    if field_map:
        _rename_columns(table, field_map)
    return table


def _orient_polygons(table: Table) -> None:
    """Polygons as Simple Features orient them (exterior counter-clockwise, holes clockwise), not as the Shapefile
    stores them (the other way round), so that a polygon exported and imported again has its vertices in the order
    it had. Needs shapely >= 2.1."""
    if not table.geometries:
        return
    geoms = shapely.from_wkb(np.array(table.geometries, dtype=object), on_invalid="ignore")
    polygonal = np.flatnonzero(np.isin(shapely.get_type_id(geoms), (3, 6)))  # Polygon, MultiPolygon
    if not len(polygonal):
        return
    oriented = shapely.to_wkb(shapely.orient_polygons(geoms[polygonal], exterior_cw=False))
    for i, wkb in zip(polygonal.tolist(), oriented.tolist(), strict=True):
        table.geometries[i] = wkb


def _concatenate_shapefiles(shps: list[str], tables: list[Table]) -> Table:
    """One table of the rows of several Shapefiles, in the order of their names, numbered on from one to the next."""
    first = tables[0]
    for shp, table in zip(shps[1:], tables[1:], strict=True):
        if sorted(table.columns) != sorted(first.columns):
            raise ReadError(
                _(
                    "The zip holds several Shapefiles with different fields: %(first)s has %(first_fields)s, "
                    "%(other)s has %(other_fields)s. Import one Shapefile per zip, or give them the same fields."
                )
                % {
                    "first": Path(shps[0]).name,
                    "first_fields": ", ".join(first.columns) or "-",
                    "other": Path(shp).name,
                    "other_fields": ", ".join(table.columns) or "-",
                }
            )
        if table.crs != first.crs:
            raise ReadError(
                _(
                    "The zip holds several Shapefiles in different coordinate systems (%(first)s: %(first_crs)s, "
                    "%(other)s: %(other_crs)s). Import one Shapefile per zip, or save them in the same one."
                )
                % {
                    "first": Path(shps[0]).name,
                    "first_crs": first.crs or _("no .prj"),
                    "other": Path(shp).name,
                    "other_crs": table.crs or _("no .prj"),
                }
            )
    combined = Table(
        columns=list(first.columns),
        rows=[],
        row_numbers=[],
        geometries=[],
        crs=first.crs,
        crs_missing=first.crs_missing,
    )
    parts = []
    for shp, table in zip(shps, tables, strict=True):
        order = [table.columns.index(c) for c in combined.columns]
        start = len(combined.rows) + 1
        combined.rows.extend([row[i] for i in order] for row in table.rows)
        combined.row_numbers.extend(start - 1 + n for n in table.row_numbers)
        combined.geometries.extend(table.geometries or [None] * len(table.rows))
        combined.row_problems.extend((start - 1 + n, problem) for n, problem in table.row_problems)
        for note in table.notes:
            if note not in combined.notes:
                combined.notes.append(note)
        parts.append(
            _("%(name)s as rows %(first)d–%(last)d")
            % {"name": Path(shp).name, "first": start, "last": len(combined.rows)}
            if table.rows
            else _("%(name)s (no rows)") % {"name": Path(shp).name}
        )
    combined.notes.insert(0, _("Read %(n)d Shapefiles: %(parts)s.") % {"n": len(shps), "parts": "; ".join(parts)})
    return combined


def _field_map(archive: zipfile.ZipFile, names: list[str]) -> dict[str, str]:
    """Short name → original name, from the fields.csv our exports put beside the Shapefile; {} without one."""
    member = next((n for n in names if Path(n).name.lower() == FIELD_MAP_NAME), None)
    if member is None:
        return {}
    try:
        text = side_file(archive, member).decode("utf-8-sig")
    except UnicodeDecodeError:
        return {}
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or [c.strip() for c in rows[0][:3]] != _FIELD_MAP_HEADER:
        return {}  # not ours: left alone, the file imports as before
    return {row[1].strip().lower(): row[0].strip() for row in rows[1:] if len(row) >= 2 and row[0] and row[1]}


def _rename_columns(table: Table, field_map: dict[str, str]) -> None:
    """The Shapefile's shortened column names back to the original ones, as fields.csv maps them."""
    renamed = [field_map.get(c.lower(), c) for c in table.columns]
    if len(set(renamed)) != len(renamed) or renamed == table.columns:
        return  # a clash would lose a column: keep the names as they are
    table.columns = renamed
    table.notes.append(_("Column names restored from %(name)s.") % {"name": FIELD_MAP_NAME})


def _redecode(table: Table) -> None:
    """Text read as ISO-8859-1 (byte for byte) decoded as UTF-8 when all of it is valid UTF-8, else GB18030."""
    strings = [c for c in table.columns] + [v for row in table.rows for v in row if isinstance(v, str)]
    raw = [s.encode("latin-1") for s in strings]
    try:
        for b in raw:
            b.decode("utf-8")
        encoding, label = "utf-8", "UTF-8"
    except UnicodeDecodeError:
        encoding, label = "gb18030", "GBK/GB18030"
    try:
        table.columns = [c.encode("latin-1").decode(encoding) for c in table.columns]
        table.rows = [
            [v.encode("latin-1").decode(encoding) if isinstance(v, str) else v for v in row] for row in table.rows
        ]
    except UnicodeDecodeError as exc:
        raise ReadError(
            _("No .cpg file, and the .dbf's text is neither UTF-8 nor GBK. Add a .cpg naming its encoding.")
        ) from exc
    table.notes.append(_("No .cpg: text read as %(enc)s (it is valid %(enc)s; add a .cpg to say so).") % {"enc": label})


def _read_ogr(
    source: str, *, encoding: str | None = None, layer: str | None = None, notes: list[str] | None = None
) -> Table:
    try:
        meta, _fids, geometry, field_data = pyogrio.raw.read(
            source, layer=layer, encoding=encoding, datetime_as_string=True
        )
    except (DataSourceError, DataLayerError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise ReadError(_("The file cannot be read as spatial data: %(exc)s") % {"exc": exc}) from exc
    columns = [str(c) for c in meta["fields"]]
    n = len(geometry) if geometry is not None else (len(field_data[0]) if field_data else 0)
    lists = [
        [None if v is None or (isinstance(v, float) and v != v) else v for v in array.tolist()] for array in field_data
    ]
    rows = [list(values) for values in zip(*lists, strict=True)] if lists else [[] for _ in range(n)]
    return Table(
        columns=columns,
        rows=rows,
        row_numbers=list(range(1, n + 1)),
        geometries=list(geometry) if geometry is not None else None,
        crs=meta.get("crs"),
        notes=notes or [],
    )


def read_gpkg(path: Path) -> Table:
    try:
        layers = [name for name, geometry_type in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises its own error classes and OSError for a broken file
        raise ReadError(_("The file is not a readable GeoPackage: %(exc)s") % {"exc": exc}) from exc
    if not layers:
        raise ReadError(_("The GeoPackage holds no layer."))
    notes = []
    if len(layers) > 1:
        notes.append(
            _("The GeoPackage holds %(n)d layers; the first, %(layer)s, was read.")
            % {"n": len(layers), "layer": layers[0]}
        )
    return _read_ogr(os.fspath(path), layer=layers[0], notes=notes)


def read_geojson(path: Path) -> Table:
    # RFC 7946: GeoJSON is WGS 84 longitude/latitude; GDAL reports EPSG:4326 for it.
    return _read_ogr(os.fspath(path))


# Placemark properties that GDAL's LIBKML driver (which GDAL prefers to the KML driver when it has both)
# reports as fields besides Name and description: KML bookkeeping, not the department's data.
_KML_PLACEMARK_FIELDS = {
    "id",
    "timestamp",
    "begin",
    "end",
    "altitudeMode",
    "tessellate",
    "extrude",
    "visibility",
    "drawOrder",
    "icon",
    "snippet",
}


def read_kml(path: Path) -> Table:
    """KML through GDAL (LIBKML, else KML driver): geometry, the placemark's Name and description, and its fields.

    Our KML exports write the feature's `name` as the placemark's Name; it is read back as `name`.
    KML is WGS 84 longitude/latitude by definition.
    """
    try:
        layers = [name for name, geometry_type in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises its own error classes and OSError for a broken file
        raise ReadError(_("The file is not a readable KML file: %(exc)s") % {"exc": exc}) from exc
    if not layers:
        raise ReadError(_("The KML file holds no layer."))
    notes = []
    if len(layers) > 1:
        notes.append(
            _("The KML file holds %(n)d folders; the first, %(layer)s, was read.")
            % {"n": len(layers), "layer": layers[0]}
        )
    table = _read_ogr(os.fspath(path), layer=layers[0], notes=notes)
    keep = [i for i, c in enumerate(table.columns) if c not in _KML_PLACEMARK_FIELDS]
    if len(keep) < len(table.columns):
        table.columns = [table.columns[i] for i in keep]
        table.rows = [[row[i] for i in keep] for row in table.rows]
    if "name" not in table.columns:
        table.columns = ["name" if c == "Name" else c for c in table.columns]
    return table
