"""Readers of import files: one per format, each giving a `Table` of rows (values by column) and geometries.

Formats: CSV (UTF-8 with or without BOM, else GB18030, the superset of GBK), Excel .xlsx, zipped
Shapefile, GeoPackage, GeoJSON, KML. A file that cannot be read at all raises `ReadError`, whose message is
written into the import's report as it stands, so it says what is wrong and what to do.

Text encoding of a Shapefile's .dbf: the .cpg names it when present. Without a .cpg, GDAL would assume
ISO-8859-1, which turns Chinese names into mojibake; Chinese department files without .cpg are nearly
always GBK. So the .dbf is read byte for byte and decoded here: the dBASE language driver byte when it
says GBK (0x4D), else UTF-8 when every value is valid UTF-8, else GB18030; the report says which was used.

Zips (Shapefiles, and .xlsx, which is a zip of XML): the members' count and uncompressed sizes are judged from
the central directory before any member is read (`zip_problem`), so that a small file cannot inflate to gigabytes
in a worker; reading a member never goes past its declared size (zipfile checks it, and the CRC, as it reads).
Side files (.cpg, .prj, fields.csv) are small, and are refused beyond IMPORT_SIDE_FILE_MAX_BYTES. Workbooks are
parsed by openpyxl through defusedxml (entity declarations and external references refused), or not at all.

Coordinate systems: the file's own CRS (.prj, GeoPackage, GeoJSON = WGS 84) is kept in `Table.crs`; a
Shapefile without .prj gives `crs_missing=True`, which the import reports unless the job names a crs.
The SRS text reaches pyogrio's bundled GDAL (>= 3.9, see settings' note on gis.W001) and pyproj, never
Django's GDAL.
"""

import csv
import datetime as dt
import gc
import io
import os
import re
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".zip": "shapefile",
    ".gpkg": "gpkg",
    ".geojson": "geojson",
    ".json": "geojson",
    ".kml": "kml",
}
FIELD_MAP_NAME = "fields.csv"  # written by layers.io.exports into a Shapefile's zip: long name, short name, title
_FIELD_MAP_HEADER = ["field", "shapefile_field", "title"]
# Zip members: how many, and how large all of them together may be once uncompressed; a side file's size.
DEFAULT_ZIP_MAX_MEMBERS = 200
DEFAULT_ZIP_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_SIDE_FILE_MAX_BYTES = 64 * 1024
SIDE_FILES = (".cpg", ".prj", FIELD_MAP_NAME)
XLSX_REFUSED = gettext_lazy(
    "The workbook holds XML entity declarations or references to other files, which imports refuse. "
    "Save it again from Excel or WPS as .xlsx, or as CSV."
)
_GBK_CODEPAGES = {"gbk", "cp936", "936", "gb2312", "gb18030", "ansi 936", "windows-936", "ms936"}


class ReadError(Exception):
    """The file as a whole cannot be imported (too large, broken, wrong format)."""


@dataclass
class Table:
    columns: list[str]
    rows: list[list]  # values in column order
    row_numbers: list[int]  # the row as the department sees it: spreadsheet line, or feature number
    geometries: list[bytes | None] | None = None  # WKB, for the spatial formats
    crs: str | None = None  # the file's own coordinate system (EPSG:n or WKT), None when it does not say
    crs_missing: bool = False  # a spatial file that should say (a Shapefile without .prj) and does not
    notes: list[str] = field(default_factory=list)  # how the file was read, for the report
    row_problems: list[tuple[int, str]] = field(default_factory=list)
    text: bool = False  # every cell is a str (a CSV's): readers of other formats give numbers, dates, None


def zip_limits() -> tuple[int, int, int]:
    """Members, total uncompressed bytes, bytes of one side file: the settings, else the defaults."""
    return (
        int(getattr(settings, "IMPORT_ZIP_MAX_MEMBERS", DEFAULT_ZIP_MAX_MEMBERS)),
        int(getattr(settings, "IMPORT_ZIP_MAX_BYTES", DEFAULT_ZIP_MAX_BYTES)),
        int(getattr(settings, "IMPORT_SIDE_FILE_MAX_BYTES", DEFAULT_SIDE_FILE_MAX_BYTES)),
    )


def _is_side_file(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith(SIDE_FILES[:2]) or Path(lowered).name == FIELD_MAP_NAME


def zip_problem(archive: zipfile.ZipFile) -> str | None:
    """Why the zip's members may not be read (too many, too large once uncompressed, a side file too large),
    judged from its central directory alone; None when they may."""
    max_members, max_bytes, max_side = zip_limits()
    members = archive.infolist()
    if len(members) > max_members:
        return _("The zip holds %(n)d files; imports take at most %(limit)d.") % {
            "n": len(members),
            "limit": max_members,
        }
    total = sum(m.file_size for m in members)
    if total > max_bytes:
        return _(
            "The zip's files take %(size).1f MB uncompressed; imports take at most %(limit).1f MB. "
            "Split it into smaller files."
        ) % {"size": total / 1e6, "limit": max_bytes / 1e6}
    for member in members:
        if _is_side_file(member.filename) and member.file_size > max_side:
            return _("%(name)s takes %(size)d bytes; such a file takes at most %(limit)d.") % {
                "name": Path(member.filename).name,
                "size": member.file_size,
                "limit": max_side,
            }
    return None


def _side_file(archive: zipfile.ZipFile, name: str) -> bytes:
    """A small member, read no further than the cap on side files (whatever its header says)."""
    limit = zip_limits()[2]
    with archive.open(name) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise ReadError(
            _("%(name)s takes %(size)d bytes; such a file takes at most %(limit)d.")
            % {"name": Path(name).name, "size": len(data), "limit": limit}
        )
    return data


def _open_zip(path: Path, broken: str) -> zipfile.ZipFile:
    """The zip at `path`, its members judged by `zip_problem` before anything is read; `broken`: the message
    (with %(exc)s) for a file that is no zip."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ReadError(broken % {"exc": exc}) from exc
    problem = zip_problem(archive)
    if problem:
        archive.close()
        raise ReadError(problem)
    return archive


def read_table(path: str | Path, *, name: str = "", max_bytes: int) -> Table:
    """The rows of the file at `path`; `name` (the uploaded file name) picks the format by its extension."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise ReadError(
            _("The file is %(size).1f MB; imports take at most %(limit).1f MB. Split it into smaller files.")
            % {"size": size / 1e6, "limit": max_bytes / 1e6}
        )
    if size == 0:
        raise ReadError(_("The file is empty."))
    suffix = Path(name or path.name).suffix.lower()
    kind = FORMATS.get(suffix)
    if kind is None:
        raise ReadError(
            _("Unknown file type %(suffix)s: use .csv, .xlsx, a zipped Shapefile (.zip), .gpkg, .geojson or .kml.")
            % {"suffix": suffix or "(none)"}
        )
    return {
        "csv": read_csv,
        "xlsx": read_xlsx,
        "shapefile": read_shapefile_zip,
        "gpkg": read_gpkg,
        "geojson": read_geojson,
        "kml": read_kml,
    }[kind](path)


# A cell a spreadsheet program would run as a formula (OWASP's list: = + - @, tab, carriage return), and such a
# cell neutralised by one leading quote. CSV exports quote them (cells that already begin with quotes before
# such a character get one more), CSV imports take one quote off again: a round trip keeps every value.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")


def formula_quoted(value: str) -> str:
    """The cell as a CSV export writes it: a leading quote where a spreadsheet would take it for a formula."""
    return "'" + value if _FORMULA.match(value) else value


def formula_unquoted(value: str) -> str:
    """The cell as `formula_quoted` had it."""
    return value[1:] if _NEUTRALISED.match(value) else value


def decode_text(data: bytes) -> tuple[str, str]:
    """Text and the encoding it was read in: UTF-8 (BOM or not) when valid, else GB18030 (covers GBK, GB2312)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "UTF-8"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "GB18030"
    except UnicodeDecodeError as exc:
        raise ReadError(
            _("The text is neither UTF-8 nor GBK/GB18030 (byte %(pos)d). Save the file as UTF-8.") % {"pos": exc.start}
        ) from exc


def _header(cells: list) -> list[str]:
    columns = [("" if c is None else str(c)).strip().lstrip("\ufeff") for c in cells]
    while columns and not columns[-1]:
        columns.pop()
    if not columns:
        raise ReadError(_("The first row must name the columns; it is empty."))
    seen: set[str] = set()
    for i, column in enumerate(columns):
        if not column:
            raise ReadError(_("Column %(n)d has no name in the first row.") % {"n": i + 1})
        if column in seen:
            raise ReadError(_("Column %(name)s appears twice in the first row.") % {"name": column})
        seen.add(column)
    return columns


@contextmanager
def paused_gc():
    """Python's cycle collector off while millions of rows are built: it is triggered by allocations and walks
    every live container each time, which at a million rows (lists, tuples) costs more than building them.
    The rows hold no reference cycles; the collector runs again, as it was, at the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_csv(path: Path) -> Table:
    text, encoding = decode_text(path.read_bytes())
    end = text.find("\n")
    first_line = text if end < 0 else text[:end]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        columns = _header(next(reader))
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
    quoted = _NEUTRALISED.search(text) is not None
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
    import numpy as np
    import shapely

    texts = [(row.pop(i) or "").strip() for row in table.rows]
    del table.columns[i]
    geoms = shapely.from_wkt(np.array([t or None for t in texts], dtype=object), on_invalid="ignore")
    for number, text, geom in zip(table.row_numbers, texts, geoms, strict=True):
        if text and geom is None:
            table.row_problems.append((number, _("%(value)s is not a WKT geometry") % {"value": text[:40]}))
    table.geometries = [None if g is None else shapely.to_wkb(g) for g in geoms]


def read_xlsx(path: Path) -> Table:
    import openpyxl
    from openpyxl import load_workbook

    if not openpyxl.DEFUSEDXML:  # openpyxl parses with defusedxml when installed (and not switched off)
        raise ReadError(_("Excel workbooks cannot be read safely on this server (no defusedxml); import a CSV."))
    from defusedxml import DefusedXmlException

    unreadable = _("The file is not a readable Excel workbook (.xlsx): %(exc)s")
    with _open_zip(path, unreadable):
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
            columns = _header(list(row))
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


def _dbf_language_driver(data: bytes) -> int:
    return data[29] if len(data) > 29 else 0


def read_shapefile_zip(path: Path) -> Table:
    """The rows of every Shapefile in the zip at `path`.

    A Shapefile holds one geometry type, so a layer of points and polygons (organizations) travels as one
    Shapefile per type in one zip, as our exports write it. Several Shapefiles are read one after the other,
    each with its own encoding, if they have the same fields (in any order) and coordinate system; otherwise
    the zip is refused with a message that names them.
    """
    archive = _open_zip(
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
    cpg = _side_file(archive, siblings[".cpg"]).decode("ascii", "replace").strip() if ".cpg" in siblings else ""
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
    import numpy as np
    import shapely

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
        text = _side_file(archive, member).decode("utf-8-sig")
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
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

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
    import pyogrio

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
    import pyogrio

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
