"""Input no client should send, sent to every grid endpoint that takes input: always a 4xx, never a 500, and a
refusal writes nothing. Also the caps on photos: pixels per image, photos per report, request and batch."""

import io
import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from grid.models import Category, Incident, IncidentEvent, IncidentPhoto, Notification, WorkerStatus
from tests.factories import IncidentFactory
from tests.grid.test_photos import jpeg, png_header_only

URL = "/api/v1/incidents/"
BATCH_URL = "/api/v1/incidents/batch/"
HUGE = 2**63  # one past PostgreSQL's bigint
VERY_HUGE = 10**400  # past any float


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def litter(db):
    # get_or_create: a transactional test's flush removes the categories that migration 0002 seeded.
    return Category.objects.get_or_create(code="litter", defaults={"name": "垃圾堆放"})[0]


def a_report(**fields) -> dict:
    return {"lon": 109.93, "lat": 35.17, "category": "litter", "client_uuid": str(uuid.uuid4()), **fields}


@pytest.fixture
def accepted(people, territory) -> int:
    """An accepted incident of the resident in community A, in dispatcher A's scope, at version 2."""
    from django.contrib.gis.geos import Point

    return IncidentFactory(
        reporter=people["resident"],
        location=Point(109.93, 35.17, srid=4326),
        status=Incident.Status.ACCEPTED,
        version=2,
        grid=territory.grids["A-S"],
        community=territory.community_a,
        street=territory.street_a,
        county=territory.county,
    ).pk


def written() -> tuple[int, ...]:
    return (
        Incident.objects.count(),
        IncidentEvent.objects.count(),
        IncidentPhoto.objects.count(),
        WorkerStatus.objects.count(),
        Notification.objects.filter(read_at__isnull=False).count(),
    )


# (who, path with {pk} for the accepted incident, body): every write of grid/api and the values it takes
WRITES = [
    ("resident", URL, a_report()),
    ("worker", "/api/v1/workers/me/position/", {"lon": 109.93, "lat": 35.17, "accuracy_m": 5, "on_duty": True}),
    ("dispatcher_a", URL + "{pk}/transitions/", {"action": "dispatch", "assignee": "worker-as", "version": 2}),
    ("dispatcher_a", URL + "{pk}/transitions/", {"action": "reject", "note": "重复", "version": 2}),
    ("resident", URL + "{pk}/feedback/", {"rating": 5, "comment": "好"}),
    ("resident", BATCH_URL, {"reports": [a_report()], "reporter": "resident"}),
    ("dispatcher_a", "/api/v1/notifications/", {"ids": [1], "all": False}),
]

BAD_VALUES = [
    pytest.param("\x00", id="nul"),
    pytest.param("ok\x00ok", id="nul-inside"),
    pytest.param(HUGE, id="bigint+1"),
    pytest.param(-HUGE, id="-bigint-1"),
    pytest.param(VERY_HUGE, id="10^400"),
    pytest.param({"nested": ["object"]}, id="object"),
    pytest.param([1, 2], id="list"),
    pytest.param("x" * 5000, id="long-text"),
    pytest.param(True, id="bool"),
]


def _cases():
    for who, path, body in WRITES:
        for field, good in body.items():
            for bad in BAD_VALUES:
                value = bad.values[0]
                if type(value) is type(good) and not isinstance(good, str):
                    continue  # a list for a list field, a boolean for a boolean one: well formed
                if isinstance(good, str) and isinstance(value, int):
                    continue  # DRF reads a number given for a text field as its digits (and a UUID's as its int)
                yield pytest.param(who, path, body, field, value, id=f"{path}:{field}:{bad.id}")


@pytest.mark.parametrize(("who", "path", "body", "field", "bad"), list(_cases()))
def test_a_bad_value_in_any_field_of_any_write_is_a_4xx_that_writes_nothing(
    api_as, people, accepted, who, path, body, field, bad
):
    url = path.format(pk=accepted)
    before = written()
    response = api_as(people[who]).post(url, json.dumps({**body, field: bad}), content_type="application/json")
    if path == BATCH_URL and response.status_code == 200:  # well formed, each report judged on its own
        assert {r["result"] for r in response.json()["results"]} == {"invalid"}, response.content[:300]
    else:
        assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
        assert response.json(), response.content  # a message, keyed by a field or the detail
    assert written() == before


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        pytest.param(field, bad.values[0], id=f"{field}:{bad.id}")
        for field, good in a_report().items()
        for bad in BAD_VALUES
        if not (isinstance(good, str) and isinstance(bad.values[0], int))  # digits, as above
    ],
)
def test_a_bad_value_in_a_batched_report_makes_that_report_invalid(api_as, people, field, bad):
    good = a_report()
    reports = [{**a_report(), field: bad}, good]
    response = api_as(people["resident"]).post(
        BATCH_URL, json.dumps({"reports": reports}), content_type="application/json"
    )
    if response.status_code == 400:  # refused as a whole (a NUL anywhere in the body), naming where
        assert any(key.startswith("reports") for key in response.json()), response.content[:300]
        assert Incident.objects.count() == 0
        return
    assert response.status_code == 200, response.content[:300]
    results = response.json()["results"]
    assert [r["result"] for r in results] == ["invalid", "created"] and field in results[0]["errors"]
    assert list(Incident.objects.values_list("client_uuid", flat=True)) == [uuid.UUID(good["client_uuid"])]


SENTINEL = 987654321


def _number_fields():
    for who, path, body in WRITES:
        where = body["reports"][0] if path == BATCH_URL else body
        for field, value in where.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                yield pytest.param(who, path, body, field, id=f"{path}:{field}")


@pytest.mark.parametrize(("who", "path", "body", "field"), list(_number_fields()))
@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_any_number_field_are_a_400(api_as, people, accepted, who, path, body, field, bad):
    if path == BATCH_URL:
        body = {**body, "reports": [{**body["reports"][0], field: SENTINEL}]}
    else:
        body = {**body, field: SENTINEL}
    # written by hand: JSON has no NaN, but Python's json module (and many clients) write it all the same
    text = json.dumps(body).replace(str(SENTINEL), bad)
    before = written()
    response = api_as(people[who]).post(path.format(pk=accepted), text, content_type="application/json")
    assert response.status_code == 400, (field, response.content[:300])
    assert written() == before


@pytest.mark.parametrize(("who", "path", "body"), [pytest.param(*w, id=w[1]) for w in WRITES])
@pytest.mark.parametrize("shape", [[], ["a"], "text", 3, None], ids=["empty-list", "list", "string", "number", "null"])
def test_a_body_of_the_wrong_shape_is_a_400(api_as, people, accepted, who, path, body, shape):
    before = written()
    response = api_as(people[who]).post(path.format(pk=accepted), json.dumps(shape), content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert written() == before


def test_a_batch_sent_as_a_bare_list_is_a_400_naming_reports(api_as, people):
    response = api_as(people["resident"]).post(BATCH_URL, [a_report()], format="json")
    assert response.status_code == 400 and "reports" in response.json()
    assert Incident.objects.count() == 0


@pytest.mark.parametrize(
    "coordinates",
    [[VERY_HUGE, 35.17], [109.93, -VERY_HUGE], [HUGE, 35.17]],
    ids=["lon-10^400", "lat-10^400", "lon-bigint"],
)
def test_a_geojson_location_with_absurd_numbers_is_a_400(api_as, people, coordinates):
    body = {**a_report(), "location": {"type": "Point", "coordinates": coordinates}}
    del body["lon"], body["lat"]
    response = api_as(people["resident"]).post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and "location" in response.json()


# (who, path, the query's required part, the parameters to spoil)
AT = {"lon": "109.93", "lat": "35.17"}
READS = [
    ("dispatcher_a", URL + "{pk}/candidates/", {}, ["limit", "include_volunteers"]),
    ("worker", URL + "claimable/", AT, ["lon", "lat", "radius_m", "crs"]),
    ("dispatcher_a", URL + "stats/", {}, ["area", "from", "to"]),
    (
        "dispatcher_a",
        URL,
        {},
        ["status", "kind", "category", "area", "assignee", "reporter", "created_from", "in_bbox"],
    ),
    ("resident", "/api/v1/stations/nearest/", AT, ["lon", "lat", "limit", "kind", "amenity", "open_now"]),
    ("resident", "/api/v1/areas/locate/", AT, ["lon", "lat", "crs"]),
    ("dispatcher_a", "/api/v1/notifications/", {}, ["unread"]),
    ("dispatcher_a", URL + "{pk}/photos/1/", {}, ["size"]),
]
BAD_QUERY = ["\x00", str(HUGE), "1e999", "nan", "-inf", "x" * 3000]


@pytest.mark.parametrize(
    ("who", "path", "base", "param", "bad"),
    [
        pytest.param(who, path, base, param, bad, id=f"{path}:{param}:{i}")
        for who, path, base, params in READS
        for param in params
        for i, bad in enumerate(BAD_QUERY)
    ],
)
def test_a_bad_query_value_on_any_read_is_a_4xx(api_as, people, accepted, who, path, base, param, bad):
    response = api_as(people[who]).get(path.format(pk=accepted), {**base, param: bad})
    assert 400 <= response.status_code < 500 or (response.status_code == 200 and param in IGNORED.get(path, ())), (
        response.status_code,
        response.content[:300],
    )


# Filters that read an unknown value as "matches nothing" rather than as an error.
IGNORED = {URL: ("assignee", "reporter")}


@pytest.mark.parametrize(
    ("path", "param"),
    [(URL, "created_from"), (URL, "created_to"), (URL, "modified_since"), (URL + "stats/", "from")],
)
def test_a_moment_with_an_offset_past_postgresqls_is_read_as_its_instant(api_as, people, accepted, path, param):
    # Python takes offsets up to ±23:59, PostgreSQL only up to ±15:59: +21:33 must still mean its instant
    client = api_as(people["dispatcher_a"])
    far = client.get(path, {param: "2024-05-21T00:25:29+21:33"})
    utc = client.get(path, {param: "2024-05-20T02:52:29Z"})  # the same instant, by hand
    assert far.status_code == utc.status_code == 200, far.content[:300]
    volatile = ("now", "to")  # the stats' own clock
    assert {k: v for k, v in far.json().items() if k not in volatile} == {
        k: v for k, v in utc.json().items() if k not in volatile
    }
    # and a year far outside the register's is a field message, not a database error
    old = client.get(path, {param: "1596-05-21T00:25:29+01:00"})
    assert old.status_code == 400 and param in old.json()


@pytest.mark.parametrize("suffix", ["", "candidates/", "timeline/", "photos/1/", "transitions/", "feedback/"])
def test_an_incident_id_past_bigint_is_a_404(api_as, people, suffix):
    client = api_as(people["dispatcher_a"])
    url = f"{URL}{HUGE * 10**10}/{suffix}"
    response = (
        client.post(url, {"action": "accept", "rating": 5}, format="json")
        if suffix
        in (
            "transitions/",
            "feedback/",
        )
        else client.get(url)
    )
    assert response.status_code == 404


# --- photo caps ------------------------------------------------------------------------------------------------------


def photo(data: bytes, name: str = "p.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


def png_bomb(width: int, height: int) -> bytes:
    """A real, complete PNG of width×height black pixels: a few kilobytes that decode to width×height bytes."""
    image = Image.new("L", (width, height))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def test_a_30_megapixel_png_of_a_few_kilobytes_is_refused_before_decoding(api_as, people):
    data = png_bomb(6000, 5000)
    assert len(data) < 200_000 and 6000 * 5000 > 25_000_000  # Pillow's own limit (~89 MP) lets it through
    response = api_as(people["resident"]).post(URL, {**a_report(), "photos": [photo(data)]}, format="multipart")
    assert response.status_code == 400 and "photos" in response.json()
    assert "25000000" in response.json()["photos"][0]
    assert (Incident.objects.count(), IncidentPhoto.objects.count()) == (0, 0)


@pytest.mark.parametrize(("width", "height"), [(10000, 10000), (5001, 5000), (2**31 - 1, 2**31 - 1)])
def test_a_png_header_claiming_too_many_pixels_is_refused(api_as, people, width, height):
    response = api_as(people["resident"]).post(
        URL, {**a_report(), "photos": [photo(png_header_only(width, height))]}, format="multipart"
    )
    assert response.status_code == 400 and "photos" in response.json()
    # refused for its size, before a pixel is decoded (not as a damaged file, after trying)
    assert "25000000" in response.json()["photos"][0]
    assert (Incident.objects.count(), IncidentPhoto.objects.count()) == (0, 0)


def test_the_pixel_cap_is_a_setting(api_as, people, settings):
    settings.INCIDENT_PHOTO_MAX_PIXELS = 640 * 480 - 1
    small = jpeg(size=(640, 480))
    response = api_as(people["resident"]).post(
        URL, {**a_report(), "photos": [photo(small, "a.jpg")]}, format="multipart"
    )
    assert response.status_code == 400 and "photos" in response.json()
    settings.INCIDENT_PHOTO_MAX_PIXELS = 640 * 480
    response = api_as(people["resident"]).post(
        URL, {**a_report(), "photos": [photo(small, "a.jpg")]}, format="multipart"
    )
    assert response.status_code == 201


def small_photos(count: int) -> list[SimpleUploadedFile]:
    # new files for every request: the test client reads each one to its end
    return [photo(jpeg(size=(40 + i, 30)), f"{i}.jpg") for i in range(count)]


def test_files_under_other_names_count_towards_the_nine_photos_of_a_report(api_as, people):
    files = small_photos(10)
    body = {**a_report(), "photos": files[:5], "other": files[5:]}
    response = api_as(people["resident"]).post(URL, body, format="multipart")
    assert response.status_code == 400 and "photos" in response.json()
    assert Incident.objects.count() == 0
    body = {**a_report(), "photos": small_photos(9)}
    assert api_as(people["resident"]).post(URL, body, format="multipart").status_code == 201
    assert IncidentPhoto.objects.count() == 9


def test_a_batch_is_bounded_in_photos_and_reports(api_as, people, settings):
    settings.INCIDENT_BATCH_MAX_PHOTOS = 4
    reports = [a_report(), a_report()]
    files = {
        f"photos:{r['client_uuid']}": [photo(jpeg(size=(40 + i, 30)), f"{i}.jpg") for i in range(3)] for r in reports
    }
    client = api_as(people["resident"])
    response = client.post(BATCH_URL, {"reports": json.dumps(reports), **files}, format="multipart")
    assert response.status_code == 400 and "photos" in response.json()
    assert (Incident.objects.count(), IncidentPhoto.objects.count()) == (0, 0)
    # within the cap, both go through
    settings.INCIDENT_BATCH_MAX_PHOTOS = 6
    files = {f"photos:{r['client_uuid']}": small_photos(3) for r in reports}
    response = client.post(BATCH_URL, {"reports": json.dumps(reports), **files}, format="multipart")
    assert response.status_code == 200
    assert [r["result"] for r in response.json()["results"]] == ["created", "created"]
    assert IncidentPhoto.objects.count() == 6
    settings.INCIDENT_BATCH_MAX_REPORTS = 2
    response = client.post(BATCH_URL, {"reports": [a_report() for _ in range(3)]}, format="json")
    assert response.status_code == 400 and "reports" in response.json()
    assert Incident.objects.count() == 2
