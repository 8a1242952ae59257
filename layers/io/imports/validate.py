"""Row-by-row validation: each cell converted (layers.io.converters), required cells, defaults and duplicate
keys checked, coordinates converted from the job's crs (or the file's own) to WGS 84."""

from collections.abc import Callable

import numpy as np
import shapely
from django.utils.translation import gettext as _
from pyproj import CRS as ProjCRS
from pyproj import Transformer

from grid.crs import CRS, to_wgs84
from layers import crypto
from layers.identifiers import id_card_birth_date, id_card_is_male
from layers.io.converters import converter
from layers.io.imports.report import Report
from layers.io.mapping import Mapping
from layers.io.readers import Table
from layers.io.specs import IMPORTS
from layers.models import ImportJob

# the file's own CRS is taken as WGS 84 for these: WGS 84, CGCS2000 (equal to < 1 m), Beijing 54, Xian 80
_AS_WGS84 = (4326, 4490, 4214, 4610)


def set_point(record: dict, lon: float, lat: float, crs: str, lon_column: str, lat_column: str, report) -> None:
    """The record's WGS 84 point from a pair in `crs`, or a report entry saying why the pair is no location."""
    row = record["_row"]
    record["_bad_point"] = True  # until the point passes
    if not -180 <= lon <= 180:
        report.add(row, lon_column, _("longitude %(v)s is outside -180…180") % {"v": lon})
        return
    if not -90 <= lat <= 90:
        report.add(row, lat_column, _("latitude %(v)s is outside -90…90") % {"v": lat})
        return
    if lon == 0 and lat == 0:
        report.add(row, lon_column, _("0, 0 is not a location (an empty coordinate?)"))
        return
    if crs != CRS.WGS84:
        lon, lat = to_wgs84(lon, lat, crs)
    record["lon"], record["lat"] = lon, lat
    del record["_bad_point"]


def validate_rows(
    job: ImportJob, table: Table, mapping: Mapping, report: Report, progress: Callable[[float, int], None]
) -> list[dict]:
    """The file's rows as records {target: value}, `_row` the row's number; problems into the report."""
    layer = job.layer
    spec = IMPORTS[layer]
    targets = {t.name: t for t in spec.targets}
    index = {c: i for i, c in enumerate(table.columns)}
    plan = [(index[c], t, c, converter(targets[t])) for c, t in mapping.columns.items()]
    required = [(t, c) for c, t in mapping.columns.items() if targets[t].required]
    defaults = mapping.defaults
    default_categories = list(defaults.get("categories", []))
    key = spec.key
    key_column = next((c for c, t in mapping.columns.items() if t == key), key)
    seen: dict[str, int] = {}
    records: list[dict] = []
    add = report.add
    total = len(table.rows) or 1
    for n, (number, row) in enumerate(zip(table.row_numbers, table.rows, strict=True)):
        record: dict = {"_row": number}
        for i, target, column, convert in plan:
            try:
                record[target] = convert(row[i])
            except ValueError as exc:
                add(number, column, str(exc))
                record.setdefault("_failed", set()).add(target)
        for target, column in required:
            if target in record and not record[target]:
                add(number, column, _("empty; this column is required"))
        for target, value in defaults.items():
            if not record.get(target):
                record[target] = value
        if default_categories and "categories" in record:
            record["categories"] = sorted(set(record["categories"]) | set(default_categories))
        value = record.get(key)
        if value:
            if value in seen:
                add(number, key_column, _("the same %(key)s as row %(row)d") % {"key": key_column, "row": seen[value]})
            else:
                seen[value] = number
        records.append(record)
        if n % 5000 == 4999:
            progress(0.05 + 0.35 * n / total, n)
    _coordinates(job, table, records, mapping, report)
    if layer == "people":
        _people_keys(records)
    return records


def _people_keys(records: list[dict]) -> None:
    """People's search hashes, and the birth date and gender their ID-card numbers give where the file has none."""
    for record in records:
        id_card = record.get("id_card")
        record["id_card_hash"] = crypto.search_hash(id_card) if id_card else ""
        if id_card and not record.get("birth_date"):
            record["birth_date"] = id_card_birth_date(id_card)
        if id_card and not record.get("gender"):
            record["gender"] = "male" if id_card_is_male(id_card) else "female"
        phone = record.get("phone")
        record["phone_hash"] = crypto.search_hash(phone) if phone else ""


def _coordinates(job: ImportJob, table: Table, records: list[dict], mapping: Mapping, report: Report) -> None:
    """Each record's WGS 84 point (`lon`, `lat`) or None, and for organizations any other geometry (`wkb`)."""
    crs = job.crs or CRS.WGS84
    names = {t: c for c, t in mapping.columns.items()}
    if "lon" in names:
        _coordinate_columns(records, names, crs, report)
        return
    for record in records:
        record["lon"] = record["lat"] = None
    if table.geometries is None:
        return
    geoms = shapely.from_wkb(np.array(table.geometries, dtype=object), on_invalid="ignore")
    file_crs = table.crs
    if file_crs:
        source = ProjCRS.from_user_input(file_crs)
        if source.to_epsg() not in _AS_WGS84:
            transformer = Transformer.from_crs(source, 4326, always_xy=True)
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
            report.add(None, None, _("Coordinates transformed from %(crs)s to WGS 84.") % {"crs": source.name}, "info")
    points = shapely.get_type_id(geoms) == 0
    for record, geom, is_point in zip(records, geoms, points, strict=True):
        if geom is None or shapely.is_empty(geom):
            continue
        if is_point:
            set_point(record, shapely.get_x(geom), shapely.get_y(geom), crs, _("geometry"), _("geometry"), report)
        elif IMPORTS[job.layer].polygons:
            if crs != CRS.WGS84:
                geom = shapely.transform(geom, lambda xy: np.array([to_wgs84(x, y, crs) for x, y in xy]))
            if not shapely.is_valid(geom):
                report.add(
                    record["_row"],
                    _("geometry"),
                    _("the geometry is not valid (%(why)s)") % {"why": shapely.is_valid_reason(geom)},
                )
                continue
            record["wkb"] = shapely.to_wkb(geom)
            inside = shapely.point_on_surface(geom)
            record["lon"], record["lat"] = shapely.get_x(inside), shapely.get_y(inside)
            record["geometry_is_point"] = False
        else:
            report.add(
                record["_row"],
                _("geometry"),
                _("a %(type)s; this layer takes points") % {"type": shapely.get_type_id(geom) and geom.geom_type},
            )


def _coordinate_columns(records: list[dict], names: dict[str, str], crs: str, report: Report) -> None:
    """Each record's point from its longitude and latitude columns."""
    for record in records:
        lon, lat = record.pop("lon", None), record.pop("lat", None)
        record["lon"] = record["lat"] = None
        if {"lon", "lat"} & record.get("_failed", set()):
            record["_bad_point"] = True  # reported already
            continue
        if lon is None and lat is None:
            continue
        if lon is None or lat is None:
            report.add(
                record["_row"],
                names["lon" if lon is None else "lat"],
                _("longitude and latitude come in pairs; one is empty"),
            )
            continue
        set_point(record, lon, lat, crs, names["lon"], names["lat"], report)
