"""Readers of import files: one per format, each giving a `Table` of rows (values by column) and geometries.

`read_table` picks the reader by the file's extension: CSV and .xlsx in `tabular`, the spatial formats in
`spatial`, what they share (the `Table`, `ReadError`, zip limits, text decoding, the header row) in `table`.

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

from pathlib import Path

from django.utils.translation import gettext as _

from layers.io.readers.spatial import read_geojson, read_gpkg, read_kml, read_shapefile_zip
from layers.io.readers.table import (
    FIELD_MAP_NAME,
    FORMATS,
    XLSX_REFUSED,
    ReadError,
    Table,
    decode_text,
    formula_quoted,
    formula_unquoted,
    paused_gc,
    zip_limits,
    zip_problem,
)
from layers.io.readers.tabular import read_csv, read_xlsx

__all__ = [
    "FIELD_MAP_NAME",
    "FORMATS",
    "XLSX_REFUSED",
    "ReadError",
    "Table",
    "decode_text",
    "formula_quoted",
    "formula_unquoted",
    "paused_gc",
    "read_csv",
    "read_geojson",
    "read_gpkg",
    "read_kml",
    "read_shapefile_zip",
    "read_table",
    "read_xlsx",
    "zip_limits",
    "zip_problem",
]


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
