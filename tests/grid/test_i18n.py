"""The grid app speaks Simplified Chinese by default and English on request (catalogue: tests/test_catalogues.py)."""

import re
import uuid
from pathlib import Path

import pytest
from django.urls import reverse

import grid
from tests.factories import GridFactory

GRID_DIR = Path(grid.__file__).resolve().parent
LC_MESSAGES = GRID_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"

OUTSIDE = {"lon": 100.0, "lat": 30.0}  # far west of the test territory: in no grid


# --- API and admin -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "language", "message"),
    [
        ({}, "zh-hans", "该位置不在辖区内任何网格范围内。"),
        ({"HTTP_ACCEPT_LANGUAGE": "en"}, "en", "This point lies outside every grid of the territory."),
    ],
)
def test_a_report_outside_every_grid_is_refused_in_the_requested_language(
    api_as, people, territory, headers, language, message
):
    body = {**OUTSIDE, "category": "litter", "client_uuid": str(uuid.uuid4())}
    response = api_as(people["worker"]).post("/api/v1/incidents/", body, format="json", **headers)
    assert response.status_code == 400
    assert response.json() == {"location": [message]}
    assert response["Content-Language"] == language


@pytest.mark.parametrize(
    ("headers", "language", "message"),
    [
        ({}, "zh-hans", "该位置不在任何网格内。"),
        ({"HTTP_ACCEPT_LANGUAGE": "en"}, "en", "No grid contains this point."),
    ],
)
def test_locating_a_point_outside_every_grid_is_a_404_in_the_requested_language(
    api, territory, headers, language, message
):
    response = api.get("/api/v1/areas/locate/", {"lon": 100, "lat": 30}, **headers)
    assert response.status_code == 404
    assert response.json() == {"detail": message}
    assert response["Content-Language"] == language


def _title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1)


@pytest.fixture
def a_grid(db):
    # Named without 网格, so that only the verbose names can put it on the page.
    return GridFactory(code="G-1", name="东片一区")


def test_the_grid_change_list_speaks_chinese_by_default(admin_client, a_grid):
    html = admin_client.get(reverse("admin:grid_grid_changelist")).content.decode()
    assert "网格" in _title(html)
    assert "辖区、站点与事件" in html  # the app's verbose name in the breadcrumbs
    for column in ("编码", "名称", "社区", "户数"):  # list_display's field verbose names
        assert column in html


def test_the_grid_change_list_speaks_english_on_request(admin_client, a_grid):
    html = admin_client.get(reverse("admin:grid_grid_changelist"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "grid" in _title(html)
    assert "Households" in html
    assert "网格" not in html
