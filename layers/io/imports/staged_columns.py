"""The staged path's validation: the file converted column by column instead of cell by cell.

The same converters as the row-by-row path (layers.io.converters) run per column (a plain text column is
stripped in one comprehension, a number column parsed by `map(float, …)`, a column of few distinct values
converted once per value); the checks that rarely fail (ranges, required cells, duplicate codes) run over whole
columns and fall back to the cell's own converter only where something is wrong, so every message is the
converter's own. Each problem carries its place in the row-by-row order (layers.io.imports.report.Problems).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from django.utils.translation import gettext as _

from grid.crs import CRS, to_wgs84
from layers.io.converters import converter
from layers.io.imports.report import CONVERT, COORDINATES, Problems
from layers.io.imports.validate import set_point
from layers.io.mapping import Mapping
from layers.io.readers import Table
from layers.io.specs import IMPORTS, Target

_PLAIN_TEXT = frozenset({"text", "code"})  # kinds whose converter is `_text` with a length limit


def convert_column(
    cells: tuple | list, target: Target, convert: Callable, *, text: bool = False
) -> tuple[list, list[tuple[int, str]]]:
    """The converted values of one column (None where a cell fails) and the failures as (index, message).

    Equal, cell by cell, to calling `convert` on every cell: the shortcuts apply only to str cells (what a
    CSV gives; `text`: the caller knows every cell is one), where they compute what the converter computes,
    and any cell they cannot vouch for goes through the converter itself.
    """
    if not text and set(map(type, cells)) - {str}:
        return _each(cells, convert)
    if target.kind in _PLAIN_TEXT:
        values = list(map(str.strip, cells))  # _text of a str
        limit = target.max_length
        if not limit or max(map(len, values), default=0) <= limit:
            return values, []
        failures = []
        for i, value in enumerate(values):
            if len(value) > limit:
                failures.append((i, _message(convert, cells[i])))
                values[i] = None
        return values, failures
    if target.kind == "float":
        try:
            values = list(map(float, cells))  # float() strips the same whitespace as str.strip()
        except ValueError:  # an empty cell (None to the converter) or a bad one
            return _each(cells, convert)
        if values and not np.isfinite(np.array(values, dtype=float)).all():  # the converter refuses nan and inf
            return _each(cells, convert)
        return values, []
    # any other converter is a pure function of the text: once per distinct value
    good: dict[str, object] = {}
    bad: dict[str, str] = {}
    for value in set(cells):
        try:
            good[value] = convert(value)
        except ValueError as exc:
            bad[value] = str(exc)
    if not bad:
        return list(map(good.__getitem__, cells)), []
    return [good.get(c) for c in cells], [(i, bad[c]) for i, c in enumerate(cells) if c in bad]


def _each(cells: Iterable, convert: Callable) -> tuple[list, list[tuple[int, str]]]:
    values: list = []
    failures = []
    append = values.append
    for i, cell in enumerate(cells):
        try:
            append(convert(cell))
        except ValueError as exc:
            append(None)
            failures.append((i, str(exc)))
    return values, failures


def _message(convert: Callable, cell: object) -> str:
    try:
        convert(cell)
    except ValueError as exc:
        return str(exc)
    raise AssertionError("the shortcut refused a cell that its converter takes")  # pragma: no cover


@dataclass
class Columns:
    """The validated file, one list per target; `failed` holds the indices whose cell did not convert."""

    rows: list[int]
    values: dict[str, list]
    failed: dict[str, set[int]]
    lon: list = field(default_factory=list)  # WGS 84, None where there is no usable point
    lat: list = field(default_factory=list)
    locate: list = field(default_factory=list)  # True: the grid comes from the point, in SQL
    grid_id: list = field(default_factory=list)
    bad_point: set[int] = field(default_factory=set)
    found: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))  # grid by point, -1: none

    def record(self, i: int) -> dict:
        """Row i as the row-by-row path's record (a failed cell has no key)."""
        record = {t: v[i] for t, v in self.values.items() if i not in self.failed.get(t, ())}
        record["_row"] = self.rows[i]
        record["lon"], record["lat"] = self.lon[i], self.lat[i]
        if i in self.bad_point:
            record["_bad_point"] = True
        return record


KEYS = frozenset({"code", "lon", "lat"})  # what staging and locating need: validated first (see validate's `ready`)


def validate(
    layer: str,
    table: Table,
    mapping: Mapping,
    crs: str,
    problems: Problems,
    progress: Callable[[float, int], None],
    ready: Callable[[Columns], None] | None = None,
) -> Columns:
    """Every mapped column converted, required cells, defaults, duplicate keys and points checked.

    Codes and points come first: `ready(columns)` is called once they are final (the other columns still
    to do), so that PostgreSQL can stage and locate the rows while Python converts the rest. Each problem
    carries its place in the row-by-row order, so the report does not depend on which column went first.
    """
    spec = IMPORTS[layer]
    targets = {t.name: t for t in spec.targets}
    index = {c: i for i, c in enumerate(table.columns)}
    n = len(table.rows)
    cells = list(zip(*table.rows, strict=True)) if n else [() for _c in table.columns]
    columns = Columns(rows=table.row_numbers, values={}, failed={})
    rows = table.row_numbers
    plan = list(mapping.columns.items())
    required = [(t, c) for c, t in plan if targets[t].required]
    done = 0

    def convert(keys: bool) -> None:
        nonlocal done
        for p, (column, target) in enumerate(plan):
            if (target in KEYS) != keys:
                continue
            values, failures = convert_column(
                cells[index[column]], targets[target], converter(targets[target]), text=table.text
            )
            columns.values[target] = values
            columns.failed[target] = {i for i, _m in failures}
            for i, message in failures:
                problems.add(CONVERT, rows[i], (0, p), column, message)
            done += 1
            progress(0.05 + 0.3 * done / len(plan), 0)
        for r, (target, column) in enumerate(required):  # on the converted values, before the defaults
            if (target in KEYS) != keys:
                continue
            values, failed = columns.values[target], columns.failed[target]
            if not all(values):
                for i, value in enumerate(values):
                    if not value and i not in failed:
                        problems.add(CONVERT, rows[i], (1, r), column, _("empty; this column is required"))
        for target, default in mapping.defaults.items():
            if (target in KEYS) != keys:
                continue
            values = columns.values.get(target)
            if values is None:
                columns.values[target] = [default] * n
            elif not all(values):
                columns.values[target] = [v if v else default for v in values]

    convert(keys=True)
    _duplicate_keys(columns, plan, problems, spec.key)
    _points(columns, mapping, crs, problems, n)
    if ready is not None:
        ready(columns)
    convert(keys=False)
    return columns


def _duplicate_keys(columns: Columns, plan: list[tuple[str, str]], problems: Problems, key: str) -> None:
    key_column = next((c for c, t in plan if t == key), key)
    keys = [k for k in columns.values.get(key, ()) if k]
    if len(set(keys)) == len(keys):
        return
    rows = columns.rows
    seen: dict[str, int] = {}
    for i, value in enumerate(columns.values[key]):
        if value:
            if value in seen:
                problems.add(
                    CONVERT,
                    rows[i],
                    (2, 0),
                    key_column,
                    _("the same %(key)s as row %(row)d") % {"key": key_column, "row": seen[value]},
                )
            else:
                seen[value] = rows[i]


def _points(columns: Columns, mapping: Mapping, crs: str, problems: Problems, n: int) -> None:
    """lon/lat checked as `set_point` checks them, whole columns at once; the few odd rows through it."""
    columns.grid_id = [None] * n
    names = {t: c for c, t in mapping.columns.items()}
    if "lon" not in names:
        columns.lon, columns.lat, columns.locate = [None] * n, [None] * n, [False] * n
        return
    lon = np.array(columns.values["lon"], dtype=float)  # None (empty or failed) is nan: the converter refuses nan
    lat = np.array(columns.values["lat"], dtype=float)
    failed = columns.failed["lon"] | columns.failed["lat"]
    columns.bad_point = set(failed)  # reported already
    with np.errstate(invalid="ignore"):
        fine = (np.abs(lon) <= 180) & (np.abs(lat) <= 90) & ~((lon == 0) & (lat == 0))
    odd = np.flatnonzero(~fine & ~(np.isnan(lon) & np.isnan(lat)))
    if crs != CRS.WGS84:
        for i in np.flatnonzero(fine):
            lon[i], lat[i] = to_wgs84(float(lon[i]), float(lat[i]), crs)
    columns.lon = [x if ok else None for x, ok in zip(lon.tolist(), fine.tolist(), strict=True)]
    columns.lat = [y if ok else None for y, ok in zip(lat.tolist(), fine.tolist(), strict=True)]
    columns.locate = fine.tolist()
    sink = problems.sink(COORDINATES)
    for i in odd.tolist():
        if i in failed:
            continue
        x, y = columns.values["lon"][i], columns.values["lat"][i]
        record = {"_row": columns.rows[i], "lon": None, "lat": None}
        if x is None or y is None:
            sink.add(
                record["_row"],
                names["lon" if x is None else "lat"],
                _("longitude and latitude come in pairs; one is empty"),
            )
            continue
        set_point(record, x, y, crs, names["lon"], names["lat"], sink)
        columns.bad_point.add(i)  # `fine` let through every pair that passes


def unlocated(columns: Columns) -> list[int]:
    """Rows whose grid cannot come from a point of their own: grid code, address, or nothing."""
    return [i for i, locate in enumerate(columns.locate) if not locate]


def take_placement(columns: Columns, indices: list[int], records: list[dict]) -> None:
    """What the row-by-row placement found for the unlocated rows: grid, and a point from an address."""
    for i, record in zip(indices, records, strict=True):
        columns.grid_id[i] = record.get("grid_id")
        columns.lon[i], columns.lat[i] = record["lon"], record["lat"]
