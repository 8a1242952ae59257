"""Incident photos: decoding and checks (grid.photos), storing once (grid.services.photos), serving (grid.api.photos).

Test images are made here with Pillow; GPS positions are checked against hand-computed degrees and pyproj."""

import hashlib
import struct
import threading
import time
import zlib
from io import BytesIO
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections, transaction
from django.utils import translation
from PIL import ExifTags, Image, ImageCms
from PIL.TiffImagePlugin import IFDRational
from pyproj import Geod

from grid.api.serializers import IncidentPhotoSerializer
from grid.crs import from_wgs84, to_wgs84
from grid.models import IncidentPhoto
from grid.photos import PHOTO_MAX_BYTES, PHOTOS_MAX_PER_REPORT, photos_decode
from grid.services import incidents_place
from grid.services.photos import incident_photos_attach
from tests.factories import IncidentFactory

GEOD = Geod(ellps="WGS84")
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="35,11.406N"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
# 35°11'24.36" N, 109°55'12" E, by hand: 35 + 11/60 + 24.36/3600 = 35.1901; 109 + 55/60 + 12/3600 = 109.92.
LAT_DMS, LAT_DEG = (IFDRational(35, 1), IFDRational(11, 1), IFDRational(2436, 100)), 35.1901
LON_DMS, LON_DEG = (IFDRational(109, 1), IFDRational(55, 1), IFDRational(12, 1)), 109.92


@pytest.fixture(autouse=True)
def english():
    """Messages are checked in English (the default language is Simplified Chinese)."""
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def exif_with(*, gps: dict | None = None, orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestPhone"
    exif[ExifTags.Base.Model] = "Model X"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if gps is not None:
        exif[ExifTags.IFD.GPSInfo] = gps
    return exif


def gps_tags(*, datum: str | None = None, lat=LAT_DMS, lon=LON_DMS, lat_ref="N", lon_ref="E") -> dict:
    tags = {
        ExifTags.GPS.GPSLatitudeRef: lat_ref,
        ExifTags.GPS.GPSLatitude: lat,
        ExifTags.GPS.GPSLongitudeRef: lon_ref,
        ExifTags.GPS.GPSLongitude: lon,
    }
    if datum is not None:
        tags[ExifTags.GPS.GPSMapDatum] = datum
    return tags


def picture(size=(800, 600), mode="RGB") -> Image.Image:
    """A picture with a red block in its stored top-left corner, on noise (so that JPEGs have real scan data)."""
    image = Image.effect_noise(size, 60).convert(mode)
    image.paste((255, 0, 0) if mode.startswith("RGB") else 255, (0, 0, size[0] // 4, size[1] // 4))
    return image


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def jpeg(*, gps: dict | None = None, orientation: int | None = None, size=(800, 600), xmp: bytes | None = None):
    options = {"exif": exif_with(gps=gps, orientation=orientation), "quality": 90}
    if xmp is not None:
        options["xmp"] = xmp
    return encoded(picture(size), "JPEG", **options)


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def refused(files) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        photos_decode(files)
    assert set(caught.value.message_dict) == {"photos"}
    return caught.value.message_dict["photos"]


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width`×`height` pixels, as a decompression bomb does, with almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def no_metadata(data: bytes) -> Image.Image:
    """The image in `data`, checked to carry no EXIF (so no GPS) and no XMP, read back by Pillow and as bytes."""
    image = Image.open(BytesIO(data))
    assert dict(image.getexif()) == {}
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert "exif" not in image.info and "xmp" not in image.info and "XML:com.adobe.xmp" not in image.info
    assert b"Exif\0\0" not in data and b"ns.adobe.com" not in data and b"TestPhone" not in data
    return image


# --- decoding ----------------------------------------------------------------------------------------------------


def test_wgs84_gps_is_read_as_hand_computed_degrees_and_the_output_has_no_metadata():
    raw = jpeg(gps=gps_tags(datum="WGS-84"), xmp=XMP)
    # the input really carries what must go: EXIF with GPS, the camera, XMP
    source = Image.open(BytesIO(raw))
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo) and b"ns.adobe.com" in raw and b"TestPhone" in raw

    [photo] = photos_decode([upload(raw)])

    assert photo.gps == pytest.approx((LON_DEG, LAT_DEG), abs=1e-9)
    assert (photo.format, photo.content_type, photo.width, photo.height) == ("JPEG", "image/jpeg", 800, 600)
    assert photo.sha256 == hashlib.sha256(raw).hexdigest()
    stored = no_metadata(photo.image)
    assert (stored.format, stored.size) == ("JPEG", (800, 600))
    thumbnail = no_metadata(photo.thumbnail)
    assert (thumbnail.format, thumbnail.size) == ("JPEG", (320, 240))


def test_southern_and_western_hemispheres_are_negative():
    [photo] = photos_decode([upload(jpeg(gps=gps_tags(lat_ref="S", lon_ref="W")))])
    assert photo.gps == pytest.approx((-LON_DEG, -LAT_DEG), abs=1e-9)


@pytest.mark.parametrize("datum", ["GCJ-02", "GCJ02", "gcj02", "GCJ-02 (Amap)"])
def test_gcj02_gps_is_converted_to_wgs84(datum):
    [photo] = photos_decode([upload(jpeg(gps=gps_tags(datum=datum)))])

    assert photo.gps == pytest.approx(to_wgs84(LON_DEG, LAT_DEG, "gcj02"), abs=1e-9)
    # independently: shifted back by the forward (closed-form) offset, it is the position the phone wrote
    assert from_wgs84(*photo.gps, "gcj02") == pytest.approx((LON_DEG, LAT_DEG), abs=1e-8)
    # and the GCJ-02 offset here is hundreds of metres, so skipping the conversion would be a visible error
    _, _, metres = GEOD.inv(LON_DEG, LAT_DEG, *photo.gps)
    assert 100 < metres < 1000


@pytest.mark.parametrize("datum", ["BD-09", "BD09", "bd09"])
def test_bd09_gps_is_converted_to_wgs84(datum):
    [photo] = photos_decode([upload(jpeg(gps=gps_tags(datum=datum)))])
    assert photo.gps == pytest.approx(to_wgs84(LON_DEG, LAT_DEG, "bd09"), abs=1e-9)
    assert from_wgs84(*photo.gps, "bd09") == pytest.approx((LON_DEG, LAT_DEG), abs=1e-8)
    _, _, metres = GEOD.inv(LON_DEG, LAT_DEG, *photo.gps)
    assert 100 < metres < 2000


@pytest.mark.parametrize(
    "tags",
    [
        pytest.param(None, id="no GPS"),
        pytest.param(gps_tags(lat=(IFDRational(0, 1),) * 3, lon=(IFDRational(0, 1),) * 3), id="zero"),
        pytest.param(gps_tags(lat=(IFDRational(95, 1), IFDRational(0, 1), IFDRational(0, 1))), id="latitude 95"),
        pytest.param(gps_tags(lon=(IFDRational(200, 1), IFDRational(0, 1), IFDRational(0, 1))), id="longitude 200"),
        pytest.param(gps_tags(lat_ref="X"), id="bad hemisphere"),
        pytest.param({ExifTags.GPS.GPSLatitude: LAT_DMS, ExifTags.GPS.GPSLongitude: LON_DMS}, id="no hemispheres"),
        pytest.param({ExifTags.GPS.GPSMapDatum: "WGS-84"}, id="datum only"),
    ],
)
def test_missing_or_unusable_gps_is_none_and_the_photo_is_kept(tags):
    [photo] = photos_decode([upload(jpeg(gps=tags))])
    assert photo.gps is None
    assert no_metadata(photo.image).size == (800, 600)


def test_exif_orientation_is_applied_before_it_is_stripped():
    # stored 800×600 with a red block top-left; Orientation 6 means "turn 90° clockwise to show"
    [photo] = photos_decode([upload(jpeg(orientation=6))])

    assert (photo.width, photo.height) == (600, 800)
    shown = no_metadata(photo.image).convert("RGB")
    assert shown.size == (600, 800)
    # turned clockwise, the stored top-left corner is now the top-right corner
    red, top_left = shown.getpixel((600 - 40, 40)), shown.getpixel((40, 40))
    assert red[0] > 200 and red[1] < 60 and red[2] < 60
    assert not (top_left[0] > 200 and top_left[1] < 60)
    assert Image.open(BytesIO(photo.thumbnail)).size == (240, 320)


def test_png_and_webp_stay_in_their_format_without_metadata():
    gps = gps_tags()
    png = encoded(picture(mode="RGBA"), "PNG", exif=exif_with(gps=gps))
    webp = encoded(picture(size=(1000, 400)), "WEBP", exif=exif_with(gps=gps), quality=90)
    assert Image.open(BytesIO(png)).getexif() and Image.open(BytesIO(webp)).getexif()

    png_photo, webp_photo = photos_decode([upload(png, "a.png", "image/png"), upload(webp, "b.webp", "image/webp")])

    assert (png_photo.format, png_photo.content_type) == ("PNG", "image/png")
    assert (webp_photo.format, webp_photo.content_type) == ("WEBP", "image/webp")
    assert png_photo.gps == webp_photo.gps == pytest.approx((LON_DEG, LAT_DEG), abs=1e-9)
    stored_png = no_metadata(png_photo.image)
    assert (stored_png.format, stored_png.mode, stored_png.size) == ("PNG", "RGBA", (800, 600))
    assert (no_metadata(webp_photo.image).format, webp_photo.width, webp_photo.height) == ("WEBP", 1000, 400)
    thumbs = Image.open(BytesIO(png_photo.thumbnail)), Image.open(BytesIO(webp_photo.thumbnail))
    assert [(t.format, t.size) for t in thumbs] == [("PNG", (320, 240)), ("WEBP", (320, 128))]


def test_a_small_photo_is_not_enlarged_for_its_thumbnail():
    [photo] = photos_decode([upload(jpeg(size=(200, 100)))])
    assert Image.open(BytesIO(photo.thumbnail)).size == (200, 100)


# --- refusals ----------------------------------------------------------------------------------------------------


def test_a_text_file_named_jpg_is_refused_by_its_content():
    [message] = refused([upload(jpeg(), "good.jpg"), upload("这不是照片 not a photo".encode(), "evil.jpg")])
    assert "2" in message and "evil.jpg" in message and "JPEG" in message


def test_an_empty_file_is_refused():
    [message] = refused([upload(b"", "empty.jpg")])
    assert "1" in message and "empty.jpg" in message


def test_a_50_mb_file_is_refused_by_its_size():
    big = upload(b"\0" * (50 * 1024 * 1024), "huge.jpg")
    assert big.size > PHOTO_MAX_BYTES
    [message] = refused([big])
    assert "huge.jpg" in message and "10" in message
    assert big.file.tell() == 0  # refused by its declared size: not one byte was read


def test_more_than_nine_photos_are_refused():
    raw = jpeg(size=(64, 64))
    [message] = refused([upload(raw, f"p{i}.jpg") for i in range(PHOTOS_MAX_PER_REPORT + 1)])
    assert "9" in message and "10" in message
    assert len(photos_decode([upload(raw, f"p{i}.jpg") for i in range(PHOTOS_MAX_PER_REPORT)])) == 9


def test_a_truncated_jpeg_is_refused():
    raw = jpeg()
    [message] = refused([upload(raw[: len(raw) // 2], "cut.jpg")])
    assert "cut.jpg" in message


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_image_formats_are_refused(fmt):
    [message] = refused([upload(encoded(picture(size=(64, 64)), fmt), f"picture.{fmt.lower()}")])
    assert "JPEG, PNG or WebP" in message


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [10_000, 20_000])  # past MAX_IMAGE_PIXELS (Pillow only warns) and past twice it
def test_a_decompression_bomb_is_refused_with_a_message(side):
    assert side * side > Image.MAX_IMAGE_PIXELS
    [message] = refused([upload(png_header_only(side, side), "bomb.png", "image/png")])
    assert "bomb.png" in message and "pixels" in message


def test_every_bad_file_is_named_and_nothing_is_returned_for_the_good_ones():
    messages = refused([upload(jpeg(), "ok.jpg"), upload(b"", "zero.jpg"), upload(b"GIF89a...", "x.png")])
    assert len(messages) == 2
    assert "2" in messages[0] and "zero.jpg" in messages[0]
    assert "3" in messages[1] and "x.png" in messages[1]


# --- storing -----------------------------------------------------------------------------------------------------


@pytest.fixture
def incident(people):
    """A report by the resident in community A (west half, grid A-S)."""
    created = IncidentFactory(location=Point(109.92, 35.17, srid=4326), reporter=people["resident"])
    incidents_place()
    created.refresh_from_db()
    assert created.community_id is not None
    return created


def test_a_resent_photo_is_attached_once(incident, people, media_root):
    raw, other = jpeg(gps=gps_tags()), jpeg(size=(400, 300))

    first = incident_photos_attach(incident=incident, photos=photos_decode([upload(raw)]), uploader=people["resident"])
    again = incident_photos_attach(
        incident=incident,
        photos=photos_decode([upload(raw), upload(other), upload(other)]),
        uploader=people["resident"],
    )

    assert again[0].pk == first[0].pk and again[1].pk == again[2].pk != first[0].pk
    assert IncidentPhoto.objects.filter(incident=incident).count() == 2
    stored = list(Path(media_root).rglob("*.*"))
    assert len(stored) == 4  # two images, two thumbnails: nothing written twice
    row = IncidentPhoto.objects.get(pk=first[0].pk)
    assert row.sha256 in row.image.name and row.sha256 in row.thumbnail.name
    assert (row.content_type, row.width, row.height, row.uploaded_by) == ("image/jpeg", 800, 600, people["resident"])
    assert no_metadata(Path(media_root, row.image.name).read_bytes()).size == (800, 600)


def test_the_same_photo_may_be_attached_to_two_incidents(incident, people):
    second = IncidentFactory(location=Point(109.93, 35.18, srid=4326), reporter=people["resident"])
    photos = photos_decode([upload(jpeg())])
    [a] = incident_photos_attach(incident=incident, photos=photos, uploader=people["resident"])
    [b] = incident_photos_attach(incident=second, photos=photos, uploader=people["resident"])
    assert a.pk != b.pk and a.sha256 == b.sha256


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_resend_returns_the_row_that_committed_first(people):
    """Two requests attach the same photo at once, each in its own transaction: one row, both get it."""
    incident = IncidentFactory(location=Point(109.92, 35.17, srid=4326), reporter=people["resident"])
    photos = photos_decode([upload(jpeg(size=(320, 240)))])
    first_inserted, results = threading.Event(), {}

    def first():
        try:
            with transaction.atomic():
                results["first"] = incident_photos_attach(incident=incident, photos=photos, uploader=None)[0].pk
                first_inserted.set()
                # hold the transaction open until the second request waits on the unique index
                with connections["default"].cursor() as cursor:
                    for _ in range(500):
                        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                        if cursor.fetchone()[0]:
                            break
                        time.sleep(0.01)
        finally:
            connections.close_all()

    def second():
        try:
            first_inserted.wait(10)
            with transaction.atomic():
                results["second"] = incident_photos_attach(incident=incident, photos=photos, uploader=None)[0].pk
                # the caller's transaction is still usable after the conflict
                results["after"] = IncidentPhoto.objects.filter(incident=incident).count()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results["first"] == results["second"]
    assert results["after"] == 1
    assert IncidentPhoto.objects.filter(incident=incident).count() == 1


# --- serving -----------------------------------------------------------------------------------------------------


@pytest.fixture
def attached(incident, people):
    raw = jpeg(gps=gps_tags(datum="GCJ-02"), orientation=6, xmp=XMP)
    [photo] = incident_photos_attach(
        incident=incident, photos=photos_decode([upload(raw)]), uploader=people["resident"]
    )
    return photo


def photo_url(photo) -> str:
    return f"/api/v1/incidents/{photo.incident_id}/photos/{photo.pk}/"


def body_of(response) -> bytes:
    data = b"".join(response.streaming_content)
    response.close()
    return data


@pytest.mark.parametrize("who", ["resident", "dispatcher_a", "admin"])
def test_the_photo_is_served_without_metadata_to_those_in_scope(api_as, people, attached, who):
    response = api_as(people[who]).get(photo_url(attached))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    served = no_metadata(body_of(response))
    assert (served.format, served.size) == ("JPEG", (600, 800))


def test_the_thumbnail_is_served_with_size_thumb(api_as, people, attached):
    response = api_as(people["dispatcher_a"]).get(photo_url(attached), {"size": "thumb"})
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    thumbnail = no_metadata(body_of(response))
    assert max(thumbnail.size) == 320 and thumbnail.size == (240, 320)


def test_a_client_that_accepts_only_images_gets_the_image(api_as, people, attached):
    response = api_as(people["resident"]).get(photo_url(attached), HTTP_ACCEPT="image/webp,image/*")
    assert response.status_code == 200
    no_metadata(body_of(response))


@pytest.mark.parametrize("size", ["", "large", "THUMB"])
def test_a_bad_size_is_a_400_with_a_field_message(api_as, people, attached, size):
    response = api_as(people["resident"]).get(photo_url(attached), {"size": size})
    assert response.status_code == 400
    assert "size" in response.json()


def test_a_dispatcher_of_the_other_community_gets_a_404(api_as, people, attached):
    client = api_as(people["dispatcher_street_b"])
    assert client.get(photo_url(attached)).status_code == 404
    assert client.get(photo_url(attached), {"size": "thumb"}).status_code == 404


def test_a_photo_under_another_incident_id_is_a_404(api_as, people, attached):
    # the caller may see both incidents, but the photo belongs to the first only
    other = IncidentFactory(location=Point(109.93, 35.18, srid=4326), reporter=people["resident"])
    response = api_as(people["resident"]).get(f"/api/v1/incidents/{other.pk}/photos/{attached.pk}/")
    assert response.status_code == 404


def test_anonymous_callers_get_nothing(api, attached):
    assert api.get(photo_url(attached)).status_code in (401, 403)


def test_the_serializer_points_at_the_endpoint(rf, api_as, people, attached):
    request = rf.get("/")
    data = IncidentPhotoSerializer(attached, context={"request": request}).data
    assert data["url"] == f"http://testserver{photo_url(attached)}"
    assert data["thumbnail_url"] == f"http://testserver{photo_url(attached)}?size=thumb"
    assert (data["id"], data["width"], data["height"], data["content_type"], data["event"]) == (
        attached.pk,
        600,
        800,
        "image/jpeg",
        None,
    )
    response = api_as(people["resident"]).get(data["thumbnail_url"])
    assert response.status_code == 200 and max(Image.open(BytesIO(body_of(response))).size) == 320


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [("PNG", "P"), ("PNG", "LA"), ("PNG", "I;16"), ("PNG", "1"), ("JPEG", "L"), ("JPEG", "CMYK"), ("WEBP", "RGBA")],
)
def test_every_colour_mode_of_the_accepted_formats_decodes(fmt, mode):
    source = picture(size=(640, 480)).convert(mode)
    [photo] = photos_decode([upload(encoded(source, fmt), f"p.{fmt.lower()}")])
    assert (photo.format, photo.width, photo.height) == (fmt, 640, 480)
    assert Image.open(BytesIO(photo.thumbnail)).size == (320, 240)


def test_the_colour_profile_is_kept():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    [photo] = photos_decode([upload(encoded(picture(), "JPEG", icc_profile=icc, exif=exif_with(gps=gps_tags())))])
    stored = no_metadata(photo.image)
    assert stored.info.get("icc_profile") == icc
