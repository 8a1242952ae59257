"""Readers of tables without geometries of their own: CSV and Excel .xlsx (a WKT column gives geometries)."""

import csv
import datetime as dt
import io
from pathlib import Path

import numpy as np
import openpyxl
import shapely
from django.utils.translation import gettext as _
from openpyxl import load_workbook

from layers.io.readers.table import (
    NEUTRALISED,
    XLSX_REFUSED,
    ReadError,
    Table,
    decode_text,
    formula_unquoted,
    header,
    open_zip,
    paused_gc,
)


def read_csv(path: Path) -> Table:
    text, encoding = decode_text(path.read_bytes())
    end = text.find("\n")
    first_line = text if end < 0 else text[:end]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        columns = header(next(reader))
    except StopIteration as exc:
        raise ReadError(_("The file is empty.")) from exc
    width = len(columns)
    table = Table(
        columns=columns,
        rows=[],
        row_numbers=[],
        notes=[_("Read as %(encoding)s text.") % {"encoding": encoding}],
        text=True,
    )
    try:
        with paused_gc():
            records = list(reader)  # csv's C loop; the rows are looked at one by one only when some are odd
    except csv.Error as exc:
        raise ReadError(
            _("The CSV cannot be parsed near row %(n)d: %(exc)s") % {"n": reader.line_num, "exc": exc}
        ) from exc
    quoted = NEUTRALISED.search(text) is not None
    del text
    if quoted:  # a scan in C first: most files hold no neutralised cell at all
        records = [[formula_unquoted(c) if c[:1] == "'" else c for c in row] for row in records]
    if set(map(len, records)) <= {width}:  # every row as wide as the header: nothing to skip, pad or report
        table.rows, table.row_numbers = records, list(range(2, len(records) + 2))
    else:
        _odd_rows(table, records, width)
    _wkt_geometries(table)
    return table


def _odd_rows(table: Table, records: list[list[str]], width: int) -> None:
    """Rows of other widths than the header's: blank ones skipped, short ones padded, long ones cut (and
    reported when what is cut holds a value); row numbers count every record after the header."""
    rows, numbers = table.rows, table.row_numbers
    for number, row in enumerate(records, start=2):
        if len(row) != width:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > width and any(cell.strip() for cell in row[width:]):
                table.row_problems.append(
                    (
                        number,
                        _("The row has %(n)d values; the header names %(w)d columns.") % {"n": len(row), "w": width},
                    )
                )
            row = (row + [""] * width)[:width]
        rows.append(row)
        numbers.append(number)


def _wkt_geometries(table: Table) -> None:
    """A column named WKT (how GDAL, and our exports of mixed geometries, write a CSV's geometry) as geometries.

    Its coordinates are taken as the coordinate columns are: WGS 84 unless the job names another crs.
    """
    i = next((i for i, c in enumerate(table.columns) if c.upper() == "WKT"), None)
    if i is None:
        return
    texts = [(row.pop(i) or "").strip() for row in table.rows]
    del table.columns[i]
    geoms = shapely.from_wkt(np.array([t or None for t in texts], dtype=object), on_invalid="ignore")
    for number, text, geom in zip(table.row_numbers, texts, geoms, strict=True):
        if text and geom is None:
            table.row_problems.append((number, _("%(value)s is not a WKT geometry") % {"value": text[:40]}))
    table.geometries = [None if g is None else shapely.to_wkb(g) for g in geoms]


def read_xlsx(path: Path) -> Table:
    if not openpyxl.DEFUSEDXML:  # openpyxl parses with defusedxml when installed (and not switched off)
        raise ReadError(_("Excel workbooks cannot be read safely on this server (no defusedxml); import a CSV."))
    from defusedxml import DefusedXmlException  # imported only once openpyxl has found it installed

    unreadable = _("The file is not a readable Excel workbook (.xlsx): %(exc)s")
    with open_zip(path, unreadable):
        pass  # the members' count and sizes, before openpyxl decompresses any
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and its own errors for a broken file
        root = exc
        while root.__cause__ is not None:  # openpyxl wraps the parser's error in one naming the server's path
            root = root.__cause__
        if isinstance(root, DefusedXmlException):
            raise ReadError(str(XLSX_REFUSED)) from exc
        raise ReadError(unreadable % {"exc": root}) from exc
    try:
        return _xlsx_table(book)
    except DefusedXmlException as exc:  # a sheet's XML is parsed as its rows are read
        raise ReadError(str(XLSX_REFUSED)) from exc
    finally:
        book.close()


def _xlsx_table(book) -> Table:
    sheet = book.worksheets[0]
    cells = sheet.iter_rows(values_only=True)
    columns = None
    header_row = 0
    for header_row, row in enumerate(cells, start=1):  # noqa: B007 - the header's row number is used below
        if any(c not in (None, "") for c in row):
            columns = header(list(row))
            break
    if columns is None:
        raise ReadError(_("The first sheet is empty."))
    width = len(columns)
    table = Table(
        columns=columns,
        rows=[],
        row_numbers=[],
        notes=[_("Read the first sheet, %(sheet)s.") % {"sheet": sheet.title}],
    )
    for number, row in enumerate(cells, start=header_row + 1):
        values = list(row[:width]) + [None] * (width - len(row))
        if all(v is None or v == "" for v in values):
            continue
        table.rows.append([v.date() if isinstance(v, dt.datetime) and v.time() == dt.time() else v for v in values])
        table.row_numbers.append(number)
    return table
