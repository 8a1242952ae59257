"""The staged path's placement: the rows' codes and points staged by COPY, their grids found by one spatial join.

No row is formatted in Python: the codes go as one joined CSV column, the points as fixed-width binary records
built by numpy. The grids are found by one join against the grids (the placement rule `grid_containing`, see
grid.selectors.territory, decides the points on shared edges) and fetched back as one bytea. This runs on a
thread (`Locating`) while Python validates the other columns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from django.db import DatabaseError

from grid.models import Grid
from layers.io.imports.staged_columns import Columns

COPY_ROWS = 50_000  # rows per COPY block: bounded memory, and progress while the rows go in
TEMP_BUFFERS = "256MB"  # a session's temporary tables' buffers, taken as they are used (not up front)
INDEX_FROM = 20_000  # located rows from which a GIST index on the staging points pays for itself
STAGING = "_import_keys"  # i (index in the columns), code, point
POINTS = "_import_points"  # i, lon, lat of the rows whose grid comes from their point


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
