"""Photos through the intake endpoints: a report, a transition and an offline batch, as a phone sends them."""

import io
import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from grid.crs import to_wgs84
from grid.models import Incident, IncidentPhoto
from tests.grid.test_photos import LAT_DEG, LON_DEG, gps_tags, jpeg

URL = "/api/v1/incidents/"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def photo(data: bytes, name: str = "p.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def multipart(client, url, fields, files):
    return client.post(url, {**fields, "photos": files}, format="multipart")


def test_a_report_without_a_location_takes_its_photos_gps_converted_from_gcj02(api_as, people):
    fields = {"category": "litter", "client_uuid": str(uuid.uuid4()), "note": "无定位"}
    response = multipart(
        api_as(people["worker"]), URL, fields, [photo(jpeg()), photo(jpeg(gps=gps_tags(datum="GCJ-02")))]
    )
    assert response.status_code == 201, response.content
    incident = Incident.objects.get(pk=response.json()["id"])
    lon, lat = to_wgs84(LON_DEG, LAT_DEG, "gcj02")
    assert incident.location.x == pytest.approx(lon, abs=1e-9) and incident.location.y == pytest.approx(lat, abs=1e-9)
    assert incident.grid.code == "G-A-S"
    photos = response.json()["properties"]["photos"]
    assert len(photos) == 2 and IncidentPhoto.objects.filter(incident=incident).count() == 2
    # what is served has no EXIF left
    served = api_as(people["dispatcher_a"]).get(photos[1]["url"])
    assert served.status_code == 200
    image = Image.open(io.BytesIO(b"".join(served.streaming_content)))
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo) and not image.getexif()


def test_a_given_location_wins_over_the_photos_gps(api_as, people):
    fields = {"category": "litter", "client_uuid": str(uuid.uuid4()), "lon": "109.97", "lat": "35.22"}
    response = multipart(api_as(people["resident"]), URL, fields, [photo(jpeg(gps=gps_tags()))])
    assert response.status_code == 201
    assert Incident.objects.get(pk=response.json()["id"]).grid.code == "G-B-N"


def test_a_report_without_location_or_gps_is_a_400(api_as, people):
    fields = {"category": "litter", "client_uuid": str(uuid.uuid4())}
    response = multipart(api_as(people["resident"]), URL, fields, [photo(jpeg())])
    assert response.status_code == 400 and {"lon", "lat"} <= response.json().keys()
    assert Incident.objects.count() == 0


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ([photo(b"just some text, honestly", "note.jpg")], "text named .jpg"),
        ([photo(b"", "empty.jpg")], "zero bytes"),
        ([photo(b"\xff\xd8\xff" + b"\0" * (50 * 1024 * 1024), "huge.jpg")], "50 MB"),
        ([photo(jpeg(size=(40, 30)), f"{i}.jpg") for i in range(10)], "ten photos"),
    ],
)
def test_bad_photos_are_a_400_and_nothing_is_stored(api_as, people, files, why):
    fields = {"category": "litter", "client_uuid": str(uuid.uuid4()), "lon": "109.93", "lat": "35.17"}
    response = multipart(api_as(people["resident"]), URL, fields, files)
    assert response.status_code == 400, why
    assert "photos" in response.json()
    assert Incident.objects.count() == 0 and IncidentPhoto.objects.count() == 0


def test_a_resend_with_the_same_photos_stores_nothing_twice(api_as, people):
    fields = {"category": "litter", "client_uuid": str(uuid.uuid4()), "lon": "109.93", "lat": "35.17"}
    data = jpeg()
    client = api_as(people["resident"])
    assert multipart(client, URL, fields, [photo(data)]).status_code == 201
    assert multipart(client, URL, fields, [photo(data)]).status_code == 200
    assert Incident.objects.count() == 1 and IncidentPhoto.objects.count() == 1


def test_a_transition_carries_photos_into_the_timeline(api_as, people):
    client = api_as(people["resident"])
    pk = client.post(
        URL, {"category": "litter", "client_uuid": str(uuid.uuid4()), "lon": 109.93, "lat": 35.17}, format="json"
    ).json()["id"]
    dispatcher, worker = api_as(people["dispatcher_a"]), api_as(people["worker"])
    dispatcher.post(f"{URL}{pk}/transitions/", {"action": "accept"}, format="json")
    dispatcher.post(f"{URL}{pk}/transitions/", {"action": "dispatch", "assignee": "worker-as"}, format="json")
    response = multipart(worker, f"{URL}{pk}/transitions/", {"action": "resolve", "note": "清理后"}, [photo(jpeg())])
    assert response.status_code == 200, response.content
    timeline = worker.get(f"{URL}{pk}/timeline/").json()
    resolve = next(e for e in timeline if e["action"] == "resolve")
    assert len(resolve["photos"]) == 1 and resolve["photos"][0]["event"] == resolve["id"]
    bad = multipart(worker, f"{URL}{pk}/transitions/", {"action": "resolve"}, [photo(b"", "x.jpg")])
    assert bad.status_code == 400 and "photos" in bad.json()


def test_an_offline_batch_carries_each_reports_photos(api_as, people):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    reports = [
        {"client_uuid": a, "category": "litter"},
        {"client_uuid": b, "category": "litter", "lon": 109.93, "lat": 35.17},
    ]
    payload = {
        "reports": json.dumps(reports),
        f"photos:{a}": [photo(jpeg(gps=gps_tags()))],
        f"photos:{b}": [photo(b"", "empty.jpg")],
    }
    client = api_as(people["worker"])
    results = client.post("/api/v1/incidents/batch/", payload, format="multipart").json()["results"]
    assert [r["result"] for r in results] == ["created", "invalid"]
    assert "photos" in results[1]["errors"]
    incident = Incident.objects.get(client_uuid=a)
    assert incident.location.y == pytest.approx(LAT_DEG) and incident.photos.count() == 1
