"""The fast path of imports for large files of places, things and households: columns, a staging table, SQL.

`layers.io.imports` validates row by row into dicts; for a file of a million rows that Python work (a
converter call per cell, a dict per row, a report check per row) costs more than PostgreSQL's whole write.
Here the same converters run per column instead (a plain text column is stripped in one comprehension, a
number column parsed by `map(float, …)`, a column of few distinct values converted once per value), the checks
that rarely fail (ranges, required cells, duplicate codes) run over whole columns and fall back to the cell's
own converter only where something is wrong, so every message is the converter's own. The rows' codes and
points then go by COPY into temporary staging tables (no row formatted in Python: the codes as one joined CSV
column, the points as fixed-width binary records built by numpy), where their grids are found by one spatial
join against the grids (the placement rule of grid.selectors.territory decides the points on shared edges),
fetched back as one bytea, and the codes already stored are found by one join. Codes and points are validated
first and staged and located on a thread (`Locating`) while Python validates the other columns. Rows without a
usable point are few and keep the row-by-row placement of `layers.io.imports` (grid code, else a household's
address). Stored rows are updated by the row-by-row path's UPDATE; new rows are COPY'd straight into the
layer's table.

Problems are collected here with a sort key (phase, row, order within the row) and handed to the report
in the order the row-by-row path writes them: conversion, required and duplicate problems of each row,
then coordinates, then placement.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
from django.db import DatabaseError
from django.utils.translation import gettext as _

from grid.crs import CRS, to_wgs84
from grid.models import Grid
from layers.io.mapping import TARGETS, Mapping, Target, converter
from layers.io.readers import Table

FAST_LAYERS = frozenset({"places", "things", "households"})
COPY_ROWS = 50_000  # rows per COPY block: bounded memory, and progress while the rows go in
TEMP_BUFFERS = "256MB"  # a session's temporary tables' buffers, taken as they are used (not up front)
INDEX_FROM = 20_000  # located rows from which a GIST index on the staging points pays for itself
STAGING = "_import_keys"  # i (index in the columns), code, point
POINTS = "_import_points"  # i, lon, lat of the rows whose grid comes from their point
FULL = "_import_rows"  # whole rows that update stored ones: the write's UPDATE reads them as it reads the slow path's
_PLAIN_TEXT = frozenset({"text", "code"})  # kinds whose converter is `_text` with a length limit

# phases of the report, in the row-by-row path's order
CONVERT, COORDINATES, PLACEMENT = 0, 1, 2


def fits(layer: str, table: Table) -> bool:
    """Whether the staged path takes this import: places, things and households from a file without geometries."""
    return layer in FAST_LAYERS and table.geometries is None


class Problems:
    """Report entries with their place in the row-by-row order, handed to the report sorted."""

    def __init__(self) -> None:
        self.entries: list[tuple] = []

    def add(self, phase: int, row: int, order: tuple, column: str | None, problem: str, level: str = "error") -> None:
        self.entries.append((phase, row, order, column, problem, level))

    def sink(self, phase: int) -> _Sink:
        """An object with the report's `add(row, column, problem, level)`, for code written against the report."""
        return _Sink(self, phase)

    def error_rows(self) -> set[int]:
        return {e[1] for e in self.entries if e[5] == "error"}

    def flush(self, report) -> None:
        for _phase, row, _order, column, problem, level in sorted(self.entries, key=lambda e: e[:3]):
            report.add(row, column, problem, level)
        self.entries = []


class _Sink:
    def __init__(self, problems: Problems, phase: int) -> None:
        self.problems, self.phase, self.count = problems, phase, 0

    def add(self, row: int, column: str | None, problem: str, level: str = "error") -> None:
        self.count += 1  # keeps the order of one row's problems
        self.problems.add(self.phase, row, (self.count,), column, problem, level)


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
    targets = {t.name: t for t in TARGETS[layer]}
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
    _duplicate_keys(columns, plan, problems)
    _points(columns, mapping, crs, problems, n)
    if ready is not None:
        ready(columns)
    convert(keys=False)
    return columns


def _duplicate_keys(columns: Columns, plan: list[tuple[str, str]], problems: Problems) -> None:
    key = "code"
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


def _copy_csv(cursor, sql: str, rows: Iterable, n: int, progress: Callable[[int], None] | None = None) -> None:
    """Rows through COPY … (FORMAT csv) in blocks that csv.writer's C loop formats."""
    rows = iter(rows)
    with cursor.db.wrap_database_errors, cursor.cursor.copy(sql) as cp:
        done = 0
        while done < n:
            count = min(COPY_ROWS, n - done)
            block = io.StringIO()
            csv.writer(block, lineterminator="\n").writerows(islice(rows, count))
            cp.write(block.getvalue())
            done += count
            if progress:
                progress(done)


def more_temp_buffers(cursor) -> None:
    """Room in this session's temporary buffers for the staging tables (8 MB by default: a million staged
    points and their index go through the OS cache page by page, and the grid join takes 3x longer).

    PostgreSQL takes the setting only before the session's first temporary table and refuses it after;
    then the session keeps the size it has, which is only slower.
    """
    cursor.execute("SAVEPOINT staging_temp_buffers")
    try:
        cursor.execute(f"SET LOCAL temp_buffers = '{TEMP_BUFFERS}'")
    except DatabaseError:
        cursor.execute("ROLLBACK TO SAVEPOINT staging_temp_buffers")
    cursor.execute("RELEASE SAVEPOINT staging_temp_buffers")


def stage(cursor, columns: Columns, progress: Callable[[int], None]) -> None:
    """The rows' codes into the staging table (i = the row's index in the file's columns, numbered by COPY in
    the order of the rows) and the located rows' points into _import_points.

    No row is formatted in Python: the codes go as one column of CSV joined in one call, the points as
    binary COPY built by numpy (fixed-width records).
    """
    n = len(columns.rows)
    cursor.execute(
        f"DROP TABLE IF EXISTS {STAGING}, {POINTS}; "
        f"CREATE TEMP TABLE {STAGING} (i integer GENERATED ALWAYS AS IDENTITY (MINVALUE 0 START WITH 0), code text) "
        f"ON COMMIT DROP; CREATE TEMP TABLE {POINTS} (i integer, point geometry) ON COMMIT DROP"
    )
    codes = columns.values.get("code") or [None] * n
    with cursor.db.wrap_database_errors, cursor.cursor.copy(f"COPY {STAGING} (code) FROM STDIN (FORMAT csv)") as cp:
        cp.write(_csv_column(codes))
    progress(n // 2)
    located = np.flatnonzero(np.array(columns.locate, dtype=bool))
    lon, lat = np.array(columns.lon, dtype=float)[located], np.array(columns.lat, dtype=float)[located]
    with cursor.db.wrap_database_errors, cursor.cursor.copy(f"COPY {POINTS} FROM STDIN (FORMAT binary)") as cp:
        cp.write(_BINARY_HEADER)
        for start in range(0, len(located), COPY_ROWS):
            block = slice(start, start + COPY_ROWS)
            cp.write(_binary_points(located[block], lon[block], lat[block]))
        cp.write(_BINARY_TRAILER)
    progress(n)


def _csv_column(values: list) -> str:
    """One column as COPY … (FORMAT csv) reads it: an empty value or None as NULL (an unquoted empty line), any
    value with a character CSV or COPY treats specially quoted."""
    text = "\n".join([v or "" for v in values])
    if text.count("\n") != len(values) - 1 or any(c in text for c in '",\r\\'):
        text = "\n".join(['"' + v.replace('"', '""') + '"' if v else "" for v in values])
    return text + "\n" if values else ""


_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_BINARY_TRAILER = b"\xff\xff"
_POINT_RECORD = np.dtype(
    [
        ("fields", ">i2"),
        ("i_length", ">i4"),
        ("i", ">i4"),
        ("point_length", ">i4"),
        ("order", "u1"),  # the point as EWKB: little-endian, point with an SRID, 4326, x, y
        ("type", "<u4"),
        ("srid", "<u4"),
        ("x", "<f8"),
        ("y", "<f8"),
    ]
)


def _binary_points(i: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> bytes:
    """Rows (i integer, point geometry) of a binary COPY: field count, then each field's length and value; the
    point ST_SetSRID(ST_MakePoint(lon, lat), 4326) as EWKB (a stored point indexes and joins faster than one
    computed from lon/lat by an expression)."""
    record = np.empty(len(i), dtype=_POINT_RECORD)
    record["fields"], record["i_length"], record["point_length"] = 2, 4, 25
    record["order"], record["type"], record["srid"] = 1, 0x20000001, 4326
    record["i"], record["x"], record["y"] = i, lon, lat
    return record.tobytes()


def locate(cursor, columns: Columns) -> None:
    """Each located row's grid into `columns.found` (-1 for none): one join against the grids, and the placement
    rule (grid_containing, see grid.selectors.territory) for the points that several grids cover."""
    if columns.locate.count(True) >= INDEX_FROM:
        # many points: an index on them lets PostGIS walk each grid once, its polygon prepared once, rather
        # than searching the grids' index once per point (~5x faster from a few ten thousand points)
        # (building it also counts the table's rows for the planner: no ANALYZE needed)
        cursor.execute(f"CREATE INDEX ON {POINTS} USING gist (point)")
    else:
        cursor.execute(f"ANALYZE {POINTS}")
    # the pairs as one bytea (4 + 8 bytes a pair) that numpy reads as it is: no row, no int object per pair
    cursor.execute(
        f"SELECT string_agg(int4send(s.i) || int8send(g.id), ''::bytea) FROM {POINTS} s "
        f"JOIN {Grid._meta.db_table} g ON ST_Covers(g.boundary, s.point)"
    )
    (data,) = cursor.fetchone()
    pairs = np.frombuffer(data or b"", dtype=[("i", ">i4"), ("g", ">i8")])
    rows, grids = pairs["i"].astype(np.int64), pairs["g"].astype(np.int64)
    found = np.full(len(columns.rows), -1, dtype=np.int64)
    found[rows] = grids
    shared = np.flatnonzero(np.bincount(rows) > 1) if len(rows) else rows
    if len(shared):  # points on shared edges
        cursor.execute(
            f"SELECT i, grid_containing(point) FROM {POINTS} WHERE i = ANY(%s)", [shared.astype(np.int32).tolist()]
        )
        for i, grid_id in cursor.fetchall():
            found[i] = grid_id
    columns.found = found


class Locating:
    """`stage` and `locate` on a thread of their own, so that PostgreSQL stages the rows, indexes their points
    and joins them to the grids (seconds at a million rows) while Python validates the other columns.

    The thread has the import's connection to itself from `start` until `wait`: the caller touches no
    database in between (validation is pure Python; progress goes through its own connection). Its errors
    (Django's DatabaseError, as from any cursor) are raised by `wait`, which always returns the connection.
    """

    def __init__(self, cursor) -> None:
        self.cursor, self.thread, self.error = cursor, None, None

    def start(self, columns: Columns) -> None:
        def work() -> None:
            try:
                stage(self.cursor, columns, lambda done: None)  # progress is reported by the caller's thread
                locate(self.cursor, columns)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread by wait()
                self.error = exc

        self.thread = threading.Thread(target=work, name="import-locate", daemon=True)
        self.thread.start()

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def unplaced(columns: Columns) -> list[tuple[int, float, float]]:
    """Located rows in no grid: (index, lon, lat)."""
    missing = np.flatnonzero(np.array(columns.locate, dtype=bool) & (columns.found < 0))
    return [(i, columns.lon[i], columns.lat[i]) for i in missing.tolist()]


def outside(cursor, columns: Columns, scope: set[int]) -> list[tuple[int, str]]:
    """Located rows whose grid is not in `scope`: (index, the grid's code)."""
    found = columns.found
    rows = np.flatnonzero((found >= 0) & ~np.isin(found, np.array(sorted(scope), dtype=np.int64)))
    if not len(rows):
        return []
    cursor.execute(f"SELECT id, code FROM {Grid._meta.db_table} WHERE id = ANY(%s)", [np.unique(found[rows]).tolist()])
    codes = dict(cursor.fetchall())
    return [(i, codes[g]) for i, g in zip(rows.tolist(), found[rows].tolist(), strict=True)]


def take_grids(columns: Columns) -> None:
    """The grids found by point into `columns.grid_id`, beside those the row-by-row placement found."""
    found = columns.found
    if not len(found):
        return
    columns.grid_id = [g if g >= 0 else p for g, p in zip(found.tolist(), columns.grid_id, strict=True)]


def stored(cursor, table: str) -> list[int]:
    """Indices of the staged rows whose code the layer already holds."""
    cursor.execute(f"SELECT s.i FROM {STAGING} s JOIN {table} t ON t.code = s.code ORDER BY s.i")
    return [i for (i,) in cursor.fetchall()]


def stored_where(cursor, table: str, condition: str, params: list) -> list[int]:
    """Indices of the staged rows whose code the layer holds in a row `t` that meets `condition`."""
    cursor.execute(
        f"SELECT s.i FROM {STAGING} s JOIN {table} t ON t.code = s.code WHERE {condition} ORDER BY s.i", params
    )
    return [i for (i,) in cursor.fetchall()]


def stage_full(cursor, spec: list[tuple[str, str]], columns: Columns, indices: list[int]) -> None:
    """Whole rows (the write's temp columns) of the rows that update stored ones, into _import_rows_full."""
    names = [c for c, _t in spec]
    cursor.execute(
        f"DROP TABLE IF EXISTS {FULL}; CREATE TEMP TABLE {FULL} "
        f"({', '.join(f'{c} {t}' for c, t in spec)}) ON COMMIT DROP"
    )
    sources = [_column(columns, name) for name in names]
    text = [c for c, t in spec if t == "text"]  # an empty text cell is '' (None and '' mean the same to the write)
    _copy_csv(
        cursor,
        f"COPY {FULL} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL ({', '.join(text)}))",
        ([source[i] for source in sources] for i in indices),
        len(indices),
    )


def copy_new(
    cursor,
    table: str,
    spec: list[tuple[str, str, str | None, str | None]],
    columns: Columns,
    indices: list[int],
    progress: Callable[[int], None],
) -> None:
    """New rows straight into the layer's table by COPY, as the write's INSERT would build them.

    COPY writes a table in batches, several times faster than INSERT … SELECT, which writes row by row. The
    values are those of the insert expressions in `layers.io.imports._COLUMNS`: an empty text is '' (or
    the column's default, `EMPTY`), the point is ST_SetSRID(ST_MakePoint(lon, lat), 4326) as EWKB,
    created and modified are the transaction's now().

    Binary COPY: PostgreSQL reads each value as it stores it (the point's EWKB as bytes, not hex text; the
    timestamps as integers, not parsed twice a row), and psycopg formats each row in C. A writer thread
    sends the data (releasing the GIL while it waits on the socket), so the rows of the next block are
    formatted here while PostgreSQL stores the previous one. Any error surfaces when the COPY ends, inside
    the import's transaction, which then rolls back whole.
    """
    from psycopg.copy import QueuedLibpqWriter

    cursor.execute("SELECT now()")
    (now,) = cursor.fetchone()
    names = [c for c, t, _i, _u in spec if t and c != "grid_id"]  # and then location, which has no temp type
    if any(t != "text" for c, t, _i, _u in spec if c in names):  # pragma: no cover - every staged layer's are text
        raise AssertionError("copy_new writes text columns only")
    sources = []
    for name in names:
        values = _column(columns, name)
        empty = EMPTY.get(name, "")  # FORCE_NOT_NULL of the text COPY: no NULL text
        sources.append([v or empty for v in values])
    lon, lat = np.array(columns.lon, dtype=float), np.array(columns.lat, dtype=float)
    sources.append(_ewkb(lon, lat))
    sources.append(columns.grid_id)
    sql = (
        f"COPY {table} ({', '.join([*names, 'location', 'grid_id', 'created', 'modified'])}) FROM STDIN (FORMAT binary)"
    )
    pg = cursor.cursor
    # psycopg's errors as Django's (DatabaseError: the import reports the job failed), as Django's cursor does
    with cursor.db.wrap_database_errors, pg.copy(sql, writer=QueuedLibpqWriter(pg)) as cp:
        cp.set_types([*("text" for _n in names), "bytea", "int8", "timestamptz", "timestamptz"])
        write_row = cp.write_row
        done = 0
        for done, i in enumerate(indices, start=1):
            write_row([*(source[i] for source in sources), now, now])
            if done % COPY_ROWS == 0:
                progress(done)
    progress(len(indices))


EMPTY = {"condition": "ok"}  # what an empty cell writes, where the insert expression says other than ''


def _column(columns: Columns, name: str) -> list:
    if name in ("lon", "lat", "grid_id"):
        return getattr(columns, name)
    return columns.values.get(name) or [None] * len(columns.rows)


def _ewkb(lon: np.ndarray, lat: np.ndarray) -> list[bytes | None]:
    """ST_SetSRID(ST_MakePoint(lon, lat), 4326) as PostGIS stores it (EWKB), None where lon is nan."""
    record = np.zeros(len(lon), dtype=[("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")])
    record["order"], record["type"], record["srid"] = 1, 0x20000001, 4326  # little-endian point with an SRID
    record["x"], record["y"] = lon, lat
    data = record.tobytes()
    width = record.itemsize
    return [
        None if x != x else data[k : k + width] for k, x in zip(range(0, len(data), width), lon.tolist(), strict=True)
    ]
