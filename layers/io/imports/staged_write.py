"""The staged path's write: the stored rows the file matches updated by the row-by-row path's UPDATE (their whole
rows staged by COPY), the new rows COPY'd straight into the layer's table."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from itertools import islice

import numpy as np
from psycopg.copy import QueuedLibpqWriter

from layers.io.imports.staged_columns import Columns
from layers.io.imports.staged_locate import COPY_ROWS, STAGING
from layers.io.specs import Column

FULL = "_import_rows"  # whole rows that update stored ones: the write's UPDATE reads them as it reads the slow path's


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
    spec: tuple[Column, ...],
    columns: Columns,
    indices: list[int],
    progress: Callable[[int], None],
) -> None:
    """New rows straight into the layer's table by COPY, as the write's INSERT would build them.

    COPY writes a table in batches, several times faster than INSERT … SELECT, which writes row by row. The
    values are those of the spec's insert expressions (layers.io.specs): an empty text is '' (or
    the column's default, `EMPTY`), the point is ST_SetSRID(ST_MakePoint(lon, lat), 4326) as EWKB,
    created and modified are the transaction's now().

    Binary COPY: PostgreSQL reads each value as it stores it (the point's EWKB as bytes, not hex text; the
    timestamps as integers, not parsed twice a row), and psycopg formats each row in C. A writer thread
    sends the data (releasing the GIL while it waits on the socket), so the rows of the next block are
    formatted here while PostgreSQL stores the previous one. Any error surfaces when the COPY ends, inside
    the import's transaction, which then rolls back whole.
    """
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
