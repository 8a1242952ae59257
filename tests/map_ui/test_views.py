"""/map/ and the login page: rendered by Django, every asset served by the project itself."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from grid.models import Role
from tests.factories import UserFactory

EXTERNAL = re.compile(r"cdn\.|unpkg|openstreetmap|(?:src|href)=\"(?:https?:)?//", re.IGNORECASE)
STATIC = re.compile(r"(?:src|href)=\"/static/([^\"]+)\"")


def map_config(response) -> dict:
    match = re.search(
        r'<script id="map-config" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    return json.loads(match.group(1))


def assert_served_locally(html: str) -> None:
    assert not EXTERNAL.findall(html)
    assets = STATIC.findall(html)
    assert assets
    for path in assets:
        assert finders.find(path), f"{path} is referenced but not in any static folder"


def test_anonymous_users_get_the_map_without_incidents_and_a_login_link(client, db):
    response = client.get(reverse("map"))

    assert response.status_code == 200
    html = response.content.decode()
    assert_served_locally(html)
    assert '<script src="/static/map_ui/vendor/leaflet/leaflet.js">' in html
    assert '<link rel="stylesheet" href="/static/map_ui/vendor/leaflet/leaflet.css">' in html
    assert '<script type="module" src="/static/map_ui/map.js">' in html
    assert 'href="/accounts/login/?next=/map/"' in html
    config = map_config(response)
    assert config["authenticated"] is False
    assert config["api"] == {
        "grids": "/api/v1/grids/",
        "areas": "/api/v1/areas/",
        "stationsNearest": "/api/v1/stations/nearest/",
        "incidents": "/api/v1/incidents/",
    }


def test_logged_in_users_get_the_incidents_layer_and_a_logout_button(client, db):
    client.force_login(UserFactory(role=Role.DISPATCHER))

    response = client.get(reverse("map"))

    assert response.status_code == 200
    html = response.content.decode()
    assert_served_locally(html)
    assert map_config(response)["authenticated"] is True
    assert 'action="/accounts/logout/"' in html
    assert 'id="login-link"' not in html


def test_the_map_speaks_simplified_chinese_by_default_and_english_on_request(client, db):
    chinese = client.get(reverse("map")).content.decode()
    english = client.get(reverse("map"), headers={"accept-language": "en"}).content.decode()

    assert '<html lang="zh-hans">' in chinese
    assert '<span data-key="grids">网格</span>' in chinese
    assert "登录后查看事件" in chinese
    assert '<html lang="en">' in english
    assert '<span data-key="grids">Grids</span>' in english


@pytest.mark.parametrize("tile_url", ["", "https://tiles.example.test/{z}/{x}/{y}.png"])
def test_the_basemap_is_the_tile_url_setting(client, db, settings, tile_url):
    settings.TILE_URL = tile_url
    settings.TILE_ATTRIBUTION = "© Example" if tile_url else ""

    config = map_config(client.get(reverse("map")))

    assert (config["tileUrl"], config["tileAttribution"]) == (settings.TILE_URL, settings.TILE_ATTRIBUTION)


def test_login_page_logs_in_and_returns_to_the_map(client, db):
    user = UserFactory(role=Role.DISPATCHER)
    page = client.get(reverse("login"), {"next": "/map/"})
    assert page.status_code == 200
    assert_served_locally(page.content.decode())

    response = client.post(reverse("login"), {"username": user.username, "password": "pw-123456", "next": "/map/"})

    assert response.status_code == 302 and response["Location"] == "/map/"
    assert client.get(reverse("map")).context["user"] == user


def test_login_page_shows_a_wrong_password(client, db):
    user = UserFactory()

    response = client.post(reverse("login"), {"username": user.username, "password": "wrong"})

    assert response.status_code == 200
    assert 'class="errors"' in response.content.decode()
