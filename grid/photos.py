"""Incident photos as uploaded by phones: checked, decoded, stripped of metadata, thumbnailed. No database.

A phone's photo carries EXIF: the camera, the time and, above all, where it was taken. Gridline keeps that
position (converted to WGS 84) as a hint for the report, and serves only a re-encoded copy that has no EXIF
or XMP at all, so that a photo passed on never tells where a reporter lives.
"""

import hashlib
import math
import os
import re
from dataclasses import dataclass
from io import BytesIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from grid.crs import to_wgs84

PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTOS_MAX_PER_REPORT = 9
THUMBNAIL_MAX_SIDE = 320
JPEG_QUALITY = 85

# Pillow format → (content type, file extension). Anything else is refused, GIF and BMP among them.
FORMATS = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "WEBP": ("image/webp", ".webp"),
}

_GPS_LATITUDE_REF = ExifTags.GPS.GPSLatitudeRef
_GPS_LATITUDE = ExifTags.GPS.GPSLatitude
_GPS_LONGITUDE_REF = ExifTags.GPS.GPSLongitudeRef
_GPS_LONGITUDE = ExifTags.GPS.GPSLongitude
_GPS_MAP_DATUM = ExifTags.GPS.GPSMapDatum


@dataclass(frozen=True)
class DecodedPhoto:
    """One checked upload: the stripped image and its thumbnail, ready to store, and what its EXIF told."""

    name: str
    format: str  # "JPEG", "PNG" or "WEBP"
    content_type: str
    sha256: str  # of the bytes as uploaded: a resend of the same photo has the same one
    width: int  # after EXIF orientation
    height: int
    image: bytes  # re-encoded, without EXIF/XMP
    thumbnail: bytes  # same format, longest side at most THUMBNAIL_MAX_SIDE
    gps: tuple[float, float] | None  # (lon, lat) in WGS 84

    @property
    def extension(self) -> str:
        return FORMATS[self.format][1]


class _Refused(Exception):
    """One file's problem, as the message the client will read."""


def photos_of_request(files, key: str, *, most: int = PHOTOS_MAX_PER_REPORT) -> list[UploadedFile]:
    """The uploads under `key`, refused (ValidationError on "photos") when the request holds more than `most`
    files under any name: each one is parsed and kept until the answer, used or not."""
    count = sum(len(files.getlist(name)) for name in files)
    if count > most:
        raise ValidationError(
            {"photos": [_("At most %(max)d photos per request; %(count)d were sent.") % {"max": most, "count": count}]}
        )
    return files.getlist(key)


def photos_decode(files: list[UploadedFile]) -> list[DecodedPhoto]:
    """Check and decode every upload before anything is stored; all problems are raised together.

    Raises ValidationError({"photos": [...]}) with one message per bad file, naming it by position and name.
    """
    if len(files) > PHOTOS_MAX_PER_REPORT:
        raise ValidationError(
            {
                "photos": [
                    _("At most %(max)d photos per report; %(count)d were sent.")
                    % {"max": PHOTOS_MAX_PER_REPORT, "count": len(files)}
                ]
            }
        )
    decoded, problems = [], []
    for position, upload in enumerate(files, start=1):
        label = {"position": position, "name": _display_name(upload)}
        try:
            decoded.append(_photo_decode(upload, label))
        except _Refused as refused:
            problems.append(str(refused))
    if problems:
        raise ValidationError({"photos": problems})
    return decoded


def _display_name(upload: UploadedFile) -> str:
    name = os.path.basename(str(getattr(upload, "name", "") or "")) or "?"
    return name if len(name) <= 80 else name[:77] + "…"


def _photo_decode(upload: UploadedFile, label: dict) -> DecodedPhoto:
    # The declared size first: a 50 MB upload is refused without being read.
    size = getattr(upload, "size", None)
    if size == 0:
        raise _Refused(_("Photo %(position)d (%(name)s) is empty.") % label)
    too_large = _("Photo %(position)d (%(name)s) is larger than %(max)d MB.") % {
        **label,
        "max": PHOTO_MAX_BYTES // (1024 * 1024),
    }
    if size is not None and size > PHOTO_MAX_BYTES:
        raise _Refused(too_large)
    upload.seek(0)
    raw = upload.read(PHOTO_MAX_BYTES + 1)  # the declared size may lie
    if not raw:
        raise _Refused(_("Photo %(position)d (%(name)s) is empty.") % label)
    if len(raw) > PHOTO_MAX_BYTES:
        raise _Refused(too_large)

    image = _image_open(raw, label)
    gps = _gps_of(image)
    fmt = image.format
    try:
        upright = ImageOps.exif_transpose(image)
        # Dropped here, so that no encoder can copy EXIF/XMP/comments from `info` into the output.
        icc_profile = upright.info.get("icc_profile") or None
        upright.info = {}
        content = _encode(upright, fmt, icc_profile=icc_profile)
        thumb = _thumbnail_of(upright, fmt)
        thumbnail = _encode(thumb, fmt, icc_profile=icc_profile if thumb.mode == upright.mode else None)
    except Exception as error:  # hostile input makes Pillow's codecs raise many kinds
        raise _Refused(
            _("Photo %(position)d (%(name)s) could not be read: it is damaged or incomplete.") % label
        ) from error
    return DecodedPhoto(
        name=label["name"],
        format=fmt,
        content_type=FORMATS[fmt][0],
        sha256=hashlib.sha256(raw).hexdigest(),
        width=upright.width,
        height=upright.height,
        image=content,
        thumbnail=thumbnail,
        gps=gps,
    )


def _image_open(raw: bytes, label: dict) -> Image.Image:
    """The decoded image, or _Refused: not JPEG/PNG/WebP, too many pixels, or damaged/truncated."""
    damaged = _("Photo %(position)d (%(name)s) could not be read: it is damaged or incomplete.") % label
    formats = list(FORMATS)
    try:
        # `formats` keeps Pillow's other parsers (GIF, BMP, TIFF, PSD…) away from uploaded bytes.
        probe = Image.open(BytesIO(raw), formats=formats)
    except UnidentifiedImageError as error:
        raise _Refused(_("Photo %(position)d (%(name)s) is not a JPEG, PNG or WebP image.") % label) from error
    except Image.DecompressionBombError as error:
        raise _Refused(_too_many_pixels(label)) from error
    except Exception as error:  # a malformed header raises whatever its parser meets first
        raise _Refused(damaged) from error
    # Image.open reads only the header: refuse a decompression bomb before decoding a pixel. Pillow's own
    # limit (~89 MP, and only a warning below twice that) lets one upload take gigabytes once decoded and
    # transposed; a phone's camera stays well under this one.
    if probe.width * probe.height > photo_pixels_max():
        raise _Refused(_too_many_pixels(label))
    try:
        probe.verify()
        # verify() leaves the image unusable; a second open decodes every pixel, which catches truncation.
        image = Image.open(BytesIO(raw), formats=formats)
        image.load()
    except Image.DecompressionBombError as error:
        raise _Refused(_too_many_pixels(label)) from error
    except Exception as error:  # truncated or corrupt data: OSError, SyntaxError, ValueError…
        raise _Refused(damaged) from error
    return image


def photo_pixels_max() -> int:
    """The most pixels a photo's header may declare: INCIDENT_PHOTO_MAX_PIXELS, never above Pillow's own limit."""
    return min(settings.INCIDENT_PHOTO_MAX_PIXELS, Image.MAX_IMAGE_PIXELS or settings.INCIDENT_PHOTO_MAX_PIXELS)


def _too_many_pixels(label: dict) -> str:
    return _("Photo %(position)d (%(name)s) has too many pixels (at most %(max)d).") % {
        **label,
        "max": photo_pixels_max(),
    }


def _encode(image: Image.Image, fmt: str, *, icc_profile: bytes | None) -> bytes:
    """`image` (its `info` emptied) in `fmt` with no metadata but its colour profile: no EXIF, XMP or text."""
    options: dict = {}
    if icc_profile:
        # The colour profile says how to show the colours (a phone's Display P3); it holds no location.
        options["icc_profile"] = icc_profile
    if fmt == "JPEG":
        options.update(quality=JPEG_QUALITY, optimize=True)
    elif fmt == "WEBP":
        options.update(quality=JPEG_QUALITY)
    out = BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _thumbnail_of(image: Image.Image, fmt: str) -> Image.Image:
    # Palette and 1-bit images resize with nearest-neighbour only; convert so the thumbnail is smooth.
    if image.mode not in ("L", "RGB", "RGBA", "LA"):
        image = image.convert("RGBA" if image.has_transparency_data else "RGB")
    if fmt == "JPEG" and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    scale = THUMBNAIL_MAX_SIDE / max(image.size)
    if scale >= 1:
        return image.copy()
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # reducing_gap: shrink by whole factors first, then LANCZOS; the same look at a fraction of the work.
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _gps_of(image: Image.Image) -> tuple[float, float] | None:
    """The EXIF GPS position as WGS 84 (lon, lat), or None when absent or not a usable position."""
    try:
        gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        if not gps:
            return None
        lat = _degrees(gps.get(_GPS_LATITUDE), gps.get(_GPS_LATITUDE_REF), positive="N", negative="S")
        lon = _degrees(gps.get(_GPS_LONGITUDE), gps.get(_GPS_LONGITUDE_REF), positive="E", negative="W")
        datum = _datum(gps.get(_GPS_MAP_DATUM))
    except Exception:  # noqa: BLE001 - broken EXIF costs the position hint, never the photo
        return None
    if lat is None or lon is None or not _valid(lon, lat):
        return None
    if datum is not None:
        lon, lat = to_wgs84(lon, lat, datum)
        if not _valid(lon, lat):
            return None
    return lon, lat


def _valid(lon: float, lat: float) -> bool:
    # (0, 0) is what a phone writes when it had no fix; it is in the Gulf of Guinea, not in a grid.
    return (
        math.isfinite(lon)
        and math.isfinite(lat)
        and -180.0 <= lon <= 180.0
        and -90.0 <= lat <= 90.0
        and not (lon == 0.0 and lat == 0.0)
    )


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).strip("\x00 \t")


def _degrees(value, ref, *, positive: str, negative: str) -> float | None:
    """EXIF degrees, minutes, seconds (rationals) and a hemisphere letter as signed decimal degrees."""
    if value is None or ref is None:
        return None
    parts = [float(part) for part in (value if isinstance(value, tuple | list) else (value,))]
    if not 1 <= len(parts) <= 3 or any(not math.isfinite(p) or p < 0 for p in parts):
        return None
    degrees = sum(part / 60**i for i, part in enumerate(parts))
    hemisphere = _text(ref).upper()
    if hemisphere == positive:
        return degrees
    if hemisphere == negative:
        return -degrees
    return None


def _datum(value) -> str | None:
    """The CRS to convert from, for a GPSMapDatum naming GCJ-02 or BD-09; None means WGS 84."""
    if value is None:
        return None
    key = re.sub(r"[^A-Z0-9]", "", _text(value).upper())
    if key.startswith("GCJ02"):
        return "gcj02"
    if key.startswith("BD09"):
        return "bd09"
    return None
