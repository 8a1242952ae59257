"""Zipped Shapefile, written with numpy: .shp and .shx of points, and .dbf of any layer, streamed into the zip.

A point layer's .shp and .shx, and every .dbf, are written here with numpy: GDAL's Shapefile driver writes a
feature at a time (a seek and a write per record and per file, and a conversion per value), which made it the
slowest step of an export. Lines and polygons (organizations) keep GDAL for their geometry, which orients rings and
splits parts as the format wants; their .dbf is ours as well, so that every export's attributes are typed and sized
alike. The files are laid out as ESRI's Shapefile Technical Description (1998) and dBASE III say, and as GDAL writes
them: the same field types, null markers, .prj and .cpg. Text fields are as wide as their longest value (GDAL's
default is 80 bytes, widened as longer values come). A Shapefile holds one geometry type: a mixed layer becomes one
Shapefile per type in the zip, and fields.csv maps the shortened field names back to the layer's.
"""

import csv
import io
import itertools
import logging
import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.utils import timezone
from django.utils.translation import gettext as _

from layers.io.exports.columns import Column
from layers.io.exports.fetch import Chunk, Part
from layers.io.exports.writers.base import ExportWriter, GdalFile
from layers.io.readers import FIELD_MAP_NAME  # the importer reads back what the exporter writes

logger = logging.getLogger(__name__)

SHAPEFILE_PRJ = (  # what GDAL writes for EPSG:4326
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)
SHAPEFILE_MAX_BYTES = 2**31 - 1  # offsets are 32-bit signed counts of 16-bit words; GDAL stops at 2 GB too
DBF_TEXT_MAX = 254  # bytes in a character field
_SHP_RECORD = np.dtype([("number", ">i4"), ("length", ">i4"), ("type", "<i4"), ("x", "<f8"), ("y", "<f8")])
_SHX_RECORD = np.dtype([("offset", ">i4"), ("length", ">i4")])
_DATE_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9]  # YYYY-MM-DD → YYYYMMDD
_DBF_NULL = {"N": b"*", "L": b"?", "D": b"0"}  # a null cell is this character throughout; text: blanks


def too_large() -> ValueError:
    return ValueError(_("Too many features for a Shapefile (2 GB per file at most): export a GeoPackage instead."))


def _utf8_cut(value: bytes, limit: int = DBF_TEXT_MAX) -> bytes:
    return value[:limit].decode("utf-8", "ignore").encode()  # never half a character


def _text_cells(values: np.ndarray) -> np.ndarray:
    """Text values (None: empty) as a bytes array of their UTF-8, at most DBF_TEXT_MAX bytes each."""
    items = values.tolist()
    if None in items:
        items = ["" if v is None else v for v in items]
    parts = None
    try:  # one join, one encode and one split in C rather than an encode per value
        parts = "\x00".join(items).encode().split(b"\x00")
    except TypeError:  # a value that is not text (a number): as str() writes it
        pass
    if parts is None or len(parts) != len(items):  # … or a value holding a NUL, which a .dbf cannot
        parts = [str(v).replace("\x00", "").encode() for v in items]
    cells = np.array(parts, dtype="S")
    if cells.dtype.itemsize > DBF_TEXT_MAX:
        logger.warning("text longer than %d bytes cut to fit a .dbf field", DBF_TEXT_MAX)
        cells = np.array([_utf8_cut(p) if len(p) > DBF_TEXT_MAX else p for p in parts], dtype="S")
    return cells


@dataclass
class DbfField:
    """One .dbf field: its type, its width, and its cells and nulls chunk by chunk (padded when written)."""

    name: str
    type: str  # C text, N number, L logical, D date
    width: int
    decimals: int = 0
    chunks: list[tuple[np.ndarray, np.ndarray | None]] = field(default_factory=list)

    @classmethod
    def for_kind(cls, name: str, kind: str) -> "DbfField":
        # the types GDAL gives pyogrio's arrays: Integer64 N(18), Real N(24.15), Boolean L, Date D; else text
        return {
            "int": lambda: cls(name, "N", 18),
            "float": lambda: cls(name, "N", 24, 15),
            "bool": lambda: cls(name, "L", 1),
            "date": lambda: cls(name, "D", 8),
        }.get(kind, lambda: cls(name, "C", 1))()

    def add(self, values: np.ndarray, mask: np.ndarray | None) -> None:
        if self.type == "C":
            cells = _text_cells(values)
        elif self.type == "L":
            cells = np.where(values.astype(bool), b"T", b"F")
        elif self.type == "D":
            mask = np.isnat(values) if mask is None else mask | np.isnat(values)
            digits = values.astype("datetime64[D]").astype("S10").view(np.uint8).reshape(-1, 10)[:, _DATE_DIGITS]
            cells = np.ascontiguousarray(digits).view("S8").ravel()
        elif self.decimals:  # a real number, as shapelib formats it (%24.15f), or %g where that is too long
            mask = np.isnan(values) if mask is None else mask | np.isnan(values)
            cells = np.array([b"" if v != v else self._real(v) for v in values.tolist()], dtype="S")
        else:  # an integer
            cells = values.astype(np.int64).astype("S20")
        if self.type in ("C", "N"):  # widens to the longest value of any chunk
            self.width = max(self.width, int(np.strings.str_len(cells).max(initial=0)))
        self.chunks.append((cells, mask if mask is not None and mask.any() else None))

    def _real(self, value: float) -> bytes:
        text = b"%*.*f" % (self.width, self.decimals, value)
        return text if len(text) <= self.width else b"%*.*g" % (self.width, self.decimals, value)

    def block(self, i: int) -> np.ndarray:
        """Chunk `i`'s cells as an (n, width) array of bytes: numbers right-aligned, NUL for text's blanks."""
        cells, mask = self.chunks[i]
        if self.type == "N":
            cells = np.strings.rjust(cells, self.width)
        cells = cells.astype(f"S{self.width}")
        if mask is not None:
            cells[mask] = _DBF_NULL.get(self.type, b"") * self.width
        return cells.view(np.uint8).reshape(len(cells), self.width)


def dbf_header(fields: list[DbfField], count: int) -> bytes:
    today = timezone.localdate()
    record = 1 + sum(f.width for f in fields)
    head = struct.pack("<4BIHH20x", 3, today.year - 1900, today.month, today.day, count, 32 * len(fields) + 33, record)
    for f in fields:
        head += struct.pack("<11sc4xBB14x", f.name.encode("ascii"), f.type.encode(), f.width, f.decimals)
    return head + b"\r"


def dbf_records(fields: list[DbfField], i: int) -> bytes:
    """The records of chunk `i`: a blank (not deleted) flag, then each field's cells, padded with blanks."""
    blocks = [f.block(i) for f in fields]
    records = np.empty((len(blocks[0]), 1 + sum(f.width for f in fields)), dtype=np.uint8)
    records[:, 0] = 0x20
    at = 1
    for f, block in zip(fields, blocks, strict=True):
        records[:, at : at + f.width] = block
        at += f.width
    records[records == 0] = 0x20  # numpy pads bytes with NUL, a .dbf with blanks
    return records.tobytes()


def _shp_header(length: int, shape_type: int, bbox: tuple) -> bytes:
    return struct.pack(">7i", 9994, 0, 0, 0, 0, 0, length // 2) + struct.pack(
        "<2i8d", 1000, shape_type, *bbox, 0, 0, 0, 0
    )


def point_files(xy: np.ndarray) -> tuple[bytes, bytes]:
    """The .shp and .shx of points; NaN coordinates make a null shape (4 bytes of content instead of 20)."""
    x, y = xy
    n = len(x)
    null = np.isnan(x) | np.isnan(y)
    records = np.zeros(n, dtype=_SHP_RECORD)
    records["number"] = np.arange(1, n + 1)
    records["length"] = np.where(null, 2, 10)  # content length in 16-bit words
    records["type"] = np.where(null, 0, 1)
    records["x"], records["y"] = x, y
    sizes = np.where(null, 12, 28)
    body = records.view(np.uint8).reshape(n, 28)
    if null.any():  # a null record ends after its shape type: the rest of its 28 bytes goes
        keep = np.ones((n, 28), dtype=bool)
        keep[null, 12:] = False
        body = body[keep]
    length = 100 + int(sizes.sum())
    if length > SHAPEFILE_MAX_BYTES:
        raise too_large()
    index = np.empty(n, dtype=_SHX_RECORD)
    index["offset"] = (100 + np.cumsum(sizes) - sizes) // 2
    index["length"] = records["length"]
    present = ~null
    bbox = (x[present].min(), y[present].min(), x[present].max(), y[present].max()) if present.any() else (0,) * 4
    return _shp_header(length, 1, bbox) + body.tobytes(), _shp_header(100 + 8 * n, 1, bbox) + index.tobytes()


def shapefile_field_names(names: list[str]) -> list[str]:
    """DBF field names: ASCII letters, digits and `_`, at most 10 characters, unique regardless of case.

    Predictable: other characters become `_` (a name with nothing ASCII left becomes `field`), a name is cut
    to 10 characters, and one already taken is cut shorter and gets 1, 2, … (`category_name` → `category_n`;
    a second `category_n…` → `category_1`). fields.csv in the zip maps them back.
    """
    taken: set[str] = set()
    out = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name)[:10]
        base = base if base.strip("_") else "field"  # nothing ASCII left (类别): a neutral name
        short, n = base, 0
        while short.lower() in taken:
            n += 1
            short = base[: 10 - len(str(n))] + str(n)
        taken.add(short.lower())
        out.append(short)
    return out


_Member = tuple[str, int, Iterator[bytes]]  # a file of the zip: name, size, contents in pieces


@dataclass
class _ShapefileWriter:
    """One Shapefile of the zip: attributes gathered as .dbf cells; points as coordinates, other geometries
    appended by GDAL (geometry only) to a Shapefile in the work folder, whose .shp and .shx are taken."""

    stem: str
    fields: list[DbfField]
    geometry: GdalFile | None = None  # GDAL, for lines and polygons
    xy: list[np.ndarray] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def add(self, chunk: Chunk, data: list[np.ndarray], masks: list[np.ndarray | None]) -> None:
        for f, values, mask in zip(self.fields, data, masks, strict=True):
            f.add(values, mask)
        if self.geometry is not None:
            self.geometry.add(chunk.wkb, [], [])
        else:
            self.xy.append(chunk.xy)
        self.sizes.append(chunk.size)

    def members(self) -> Iterator[_Member]:
        if self.geometry is None:
            shp, shx = point_files(np.hstack(self.xy) if self.xy else np.empty((2, 0)))
            self.xy.clear()
            yield f"{self.stem}.shp", len(shp), iter([shp])
            yield f"{self.stem}.shx", len(shx), iter([shx])
        else:
            self.geometry.close()
            for suffix in (".shp", ".shx"):
                path = self.geometry.path.with_suffix(suffix)
                yield path.name, path.stat().st_size, _file_pieces(path)
        fields = self.fields
        if not fields:  # a .dbf needs a field: FID, as GDAL adds
            fields = [DbfField("FID", "N", 9)]
            start = 0
            for size in self.sizes:
                fields[0].add(np.arange(start, start + size), None)
                start += size
        count = sum(self.sizes)
        header = dbf_header(fields, count)
        size = len(header) + count * (1 + sum(f.width for f in fields)) + 1
        if size > SHAPEFILE_MAX_BYTES:
            raise too_large()
        records = (dbf_records(fields, i) for i in range(len(self.sizes)))
        yield f"{self.stem}.dbf", size, itertools.chain([header], records, [b"\x1a"])
        yield f"{self.stem}.prj", len(SHAPEFILE_PRJ), iter([SHAPEFILE_PRJ.encode()])
        yield f"{self.stem}.cpg", 5, iter([b"UTF-8"])


def _file_pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while piece := source.read(1 << 22):
            yield piece


def _zip(archive: Path, members: Iterator[_Member]) -> None:
    """The zip of `members`, each written as it is produced. Deflate level 1: the .dbf's blank padding
    compresses nearly as well as at level 6, in a fraction of the time."""
    stamp = timezone.localtime().timetuple()[:6]
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name, size, pieces in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            info._compresslevel = 1  # where ZipFile.open() reads the level (compress_level from Python 3.13 on)
            with zipped.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as out:
                for piece in pieces:
                    out.write(piece)


def _field_map(columns: list[Column], names: list[str]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["field", "shapefile_field", "title"])
    for column, short in zip(columns, names, strict=True):
        writer.writerow([column.name, short, str(column.attribute.title)])
    return out.getvalue().encode("utf-8-sig")


class ZippedShapefileWriter(ExportWriter):
    """One Shapefile per part, and fields.csv, streamed into one zip."""

    suffix = ".zip"
    one_geometry_type = True
    progress_share = 0.9  # the zip is written at the end, in the last tenth

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.field_names = shapefile_field_names(self.field_names)
        self._shapefiles: list[_ShapefileWriter] = []

    def xy(self, part: Part) -> bool:
        return part.geometry_type == "Point"  # points: .shp written here, from coordinates

    def begin(self, part: Part) -> None:
        geometry = (
            None
            if self.xy(part)
            else GdalFile(self.workdir / f"{part.stem}.shp", "ESRI Shapefile", part.geometry_type, [], True)
        )
        fields = [DbfField.for_kind(short, c.kind) for short, c in zip(self.field_names, self.columns, strict=True)]
        self._shapefiles.append(_ShapefileWriter(part.stem, fields, geometry))

    def add(self, chunk: Chunk, data: list[np.ndarray], masks: list[np.ndarray | None]) -> None:
        self._shapefiles[-1].add(chunk, data, masks)

    def finish(self) -> Path:
        archive = self.workdir / f"{self.layer.name}.zip"
        _zip(archive, self._members())
        return archive

    def _members(self) -> Iterator[_Member]:
        for shapefile in self._shapefiles:
            yield from shapefile.members()
        field_map = _field_map(self.columns, self.field_names)
        yield FIELD_MAP_NAME, len(field_map), iter([field_map])
