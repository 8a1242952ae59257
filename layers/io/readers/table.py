"""What every reader shares: the `Table` a reader gives, `ReadError`, the zip limits judged before any member is
read, text decoding, the header row and the formula quoting of CSV cells."""

import gc
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
# Zip members: how many, and how large all of them together may be once uncompressed; a side file's size.
DEFAULT_ZIP_MAX_MEMBERS = 200
DEFAULT_ZIP_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_SIDE_FILE_MAX_BYTES = 64 * 1024
SIDE_FILES = (".cpg", ".prj", FIELD_MAP_NAME)
XLSX_REFUSED = gettext_lazy(
    "The workbook holds XML entity declarations or references to other files, which imports refuse. "
    "Save it again from Excel or WPS as .xlsx, or as CSV."
)


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


def _isside_file(name: str) -> bool:
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
        if _isside_file(member.filename) and member.file_size > max_side:
            return _("%(name)s takes %(size)d bytes; such a file takes at most %(limit)d.") % {
                "name": Path(member.filename).name,
                "size": member.file_size,
                "limit": max_side,
            }
    return None


def side_file(archive: zipfile.ZipFile, name: str) -> bytes:
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


def open_zip(path: Path, broken: str) -> zipfile.ZipFile:
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


# cell neutralised by one leading quote. CSV exports quote them (cells that already begin with quotes before
# such a character get one more), CSV imports take one quote off again: a round trip keeps every value.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")


def formula_quoted(value: str) -> str:
    """The cell as a CSV export writes it: a leading quote where a spreadsheet would take it for a formula."""
    return "'" + value if _FORMULA.match(value) else value


def formula_unquoted(value: str) -> str:
    """The cell as `formula_quoted` had it."""
    return value[1:] if NEUTRALISED.match(value) else value


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


def header(cells: list) -> list[str]:
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
