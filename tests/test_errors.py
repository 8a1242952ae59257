"""Errors: logged with a traceback and a request id, answered as JSON on API paths; no 5xx from bad text."""

import json
import logging
import uuid

import pytest
from django.conf import settings
from django.test import Client, override_settings
from rest_framework.test import APIClient

from grid.models import Incident

URL = "/api/v1/incidents/"


def _log_text() -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return (settings.LOG_DIR / "gridline.log").read_text(encoding="utf-8")


def _report(**fields):
    return {"lon": 109.93, "lat": 35.17, "category": "litter", "client_uuid": str(uuid.uuid4()), **fields}


# --- 5xx: JSON on API paths, the traceback in the log file under the answer's request id -------------------------


@override_settings(ROOT_URLCONF="tests.urls_errors")
@pytest.mark.parametrize(
    "path, status_code, error",
    [
        ("/api/v1/test/boom/", 500, "RuntimeError"),
        ("/api/v1/test/boom-drf/", 500, "RuntimeError"),
        ("/api/v1/test/down/", 503, "tests.urls_errors.ServiceUnavailable"),
    ],
)
def test_a_5xx_on_an_api_path_is_json_with_the_request_id_and_its_traceback_is_logged_under_it(
    db, path, status_code, error
):
    marker = f"crash-{uuid.uuid4().hex}"
    response = Client(raise_request_exception=False).get(path, {"message": marker})

    assert response.status_code == status_code
    assert response["Content-Type"] == "application/json"
    request_id = response["X-Request-ID"]
    assert response.json()["request_id"] == request_id
    lines = _log_text().splitlines()
    first = next(i for i, line in enumerate(lines) if f"[{request_id}]" in line and "ERROR" in line)
    after = "\n".join(lines[first : first + 60])
    assert "Traceback (most recent call last)" in after and f"{error}: {marker}" in after


@override_settings(ROOT_URLCONF="tests.urls_errors")
def test_a_crash_on_a_page_stays_an_html_page(db):
    response = Client(raise_request_exception=False).get("/test/boom/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert response["X-Request-ID"]


@override_settings(ROOT_URLCONF="tests.urls_errors")
def test_a_sane_incoming_request_id_is_kept_and_a_forged_one_replaced(db):
    client = Client()
    kept = client.get("/test/fine/", HTTP_X_REQUEST_ID="edge-7f3a9c21")
    assert kept["X-Request-ID"] == "edge-7f3a9c21"
    forged = client.get("/test/fine/", HTTP_X_REQUEST_ID="x] ERROR forged line")
    assert forged["X-Request-ID"] != "x] ERROR forged line"
    assert uuid.UUID(hex=forged["X-Request-ID"])


@override_settings(ROOT_URLCONF="tests.urls_errors")
@pytest.mark.parametrize("case", ["nul", "overflow"])
def test_a_database_refusal_of_a_value_is_a_400_not_a_500(db, case):
    response = APIClient().post(f"/api/v1/test/nul/?case={case}", {}, format="json")
    assert response.status_code == 400 and "detail" in response.json()


# --- Django's own 4xx on API paths ----------------------------------------------------------------------------------


def test_an_unknown_api_path_is_a_json_404_and_a_page_keeps_html(db):
    api = Client().get("/api/v1/no-such-thing/")
    assert api.status_code == 404 and api.json()["request_id"] == api["X-Request-ID"]
    page = Client().get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_a_disallowed_host_on_an_api_path_is_a_json_400(db):
    response = Client().get(URL, HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_a_body_over_the_limit_is_a_json_413_before_it_is_read(api_as, people):
    body = json.dumps(_report(note="x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
    response = api_as(people["resident"]).generic("POST", URL, body, "application/json")
    assert response.status_code == 413 and "detail" in response.json()
    assert Incident.objects.count() == 0


def test_too_many_form_fields_is_a_json_400(api_as, people):
    fields = {f"f{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    response = api_as(people["resident"]).post(URL, fields)  # multipart
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    encoded = api_as(people["resident"]).generic(
        "POST", URL, "&".join(f"{k}={v}" for k, v in fields.items()), "application/x-www-form-urlencoded"
    )
    assert encoded.status_code == 400 and encoded["Content-Type"] == "application/json"


# --- NUL and invalid UTF-8, in every kind of field -----------------------------------------------------------------


@pytest.mark.parametrize(
    "note, message",
    [("near the \x00 gate", "Null characters"), ("lone \ud800 surrogate", "UTF-8")],
)
def test_unstorable_text_in_a_json_field_is_a_400_naming_it_and_writes_nothing(api_as, people, note, message):
    body = json.dumps(_report(note=note))  # json escapes both as \\u sequences, as a client would send them
    response = api_as(people["resident"]).generic("POST", URL, body, "application/json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert message in response.json()["note"][0]
    assert Incident.objects.count() == 0


def test_a_nul_in_a_json_key_or_a_nested_value_is_a_400(api_as, people):
    client = api_as(people["resident"])
    key = client.post(URL, {**_report(), "no\x00te": "x"}, format="json")
    assert key.status_code == 400 and "non_field_errors" in key.json()
    nested = client.post(URL, {**_report(), "location": {"type": "Point\x00", "coordinates": [1, 2]}}, format="json")
    assert nested.status_code == 400 and "location.type" in nested.json()
    assert Incident.objects.count() == 0


def test_invalid_utf8_in_a_json_body_is_a_400(api_as, people):
    body = json.dumps(_report(note="NOTE")).encode().replace(b"NOTE", b"\xff\xfe")
    response = api_as(people["resident"]).generic("POST", URL, body, "application/json")
    assert response.status_code == 400
    assert Incident.objects.count() == 0


def test_a_nul_in_a_transition_field_is_a_400(api_as, people):
    reported = api_as(people["resident"]).post(URL, _report(), format="json")
    assert reported.status_code == 201
    response = api_as(people["dispatcher_a"]).post(
        f"{URL}{reported.json()['id']}/transitions/", {"action": "assign", "assignee": "worker\x00"}, format="json"
    )
    assert response.status_code == 400 and "assignee" in response.json()


@pytest.mark.parametrize("query, field", [("category=%00", "category"), ("category=%ff", "category"), ("%00=1", None)])
def test_a_nul_or_invalid_utf8_in_a_query_string_is_a_400_naming_the_field(api_as, people, query, field):
    response = api_as(people["dispatcher_a"]).get(f"{URL}?{query}")
    assert response.status_code == 400
    assert (field or "non_field_errors") in response.json()


def test_form_fields_are_checked_too(api_as, people):
    client = api_as(people["resident"])
    urlencoded = client.generic(
        "POST", URL, "lon=109.93&lat=35.17&category=litter&note=a%00b", "application/x-www-form-urlencoded"
    )
    assert urlencoded.status_code == 400 and "note" in urlencoded.json()
    multipart = client.post(URL, {**_report(), "note": "a\x00b"})
    assert multipart.status_code == 400 and "note" in multipart.json()
    assert Incident.objects.count() == 0


def test_a_nul_in_a_page_query_string_is_a_400_not_a_500(db):
    response = Client().get("/stations/?q=%00")
    assert response.status_code == 400
