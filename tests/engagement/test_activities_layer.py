"""The console's "activities" layer: declared through the layer registry from EngagementConfig.ready(), public,
holding this week's activities (today's marked) by kind; its GeoJSON and vector tiles answer anybody, and the
console's legend shows it."""

import datetime as dt
import math
import shutil
from urllib.parse import urlsplit

import mapbox_vector_tile
import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from engagement.layer import week_bounds
from engagement.models import Activity
from grid.models import Role
from layers.models import Organization
from layers.registry import LAYERS, Sensitivity
from tests.factories import UserFactory
from tests.map_ui.browser import log_in
from tests.map_ui.test_map_browser import CHROMIUM, CHROMIUM_ARGS, unreachable_tile_url


def tile_of(lon: float, lat: float, zoom: int) -> str:
    n = 2**zoom
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"{zoom}/{x}/{y}"


@pytest.fixture
def activities(territory):
    branch = Organization.objects.create(code="BR-A", name="甲支部", kind="branch", grid=territory.grids["A-S"])
    start, _ = week_bounds()
    now = timezone.now()

    def make(title, starts, kind="theme_day", status="planned"):
        return Activity.objects.create(kind=kind, branch=branch, title=title, location=Point(109.92, 35.17, srid=4326),
                                       grid=territory.grids["A-S"], starts_at=starts,
                                       ends_at=starts + dt.timedelta(hours=1), status=status)  # fmt: skip

    return {
        "today": make("今天", now - dt.timedelta(minutes=20), kind="party_lecture"),
        "week": make("本周", start + dt.timedelta(minutes=1) if start + dt.timedelta(days=1) < now else now),
        "next_month": make("下月", now + dt.timedelta(days=40)),
        "last_week": make("上周", start - dt.timedelta(days=2)),
        "cancelled": make("取消", now, status="cancelled"),
    }


def test_the_layer_is_registered_public_and_lists_this_weeks_activities(activities, api):
    layer = LAYERS["activities"]
    assert layer.sensitivity == Sensitivity.PUBLIC and layer.group == "events"
    assert any(entry["name"] == "activities" for entry in api.get("/api/v1/layers/").json())
    response = api.get("/api/v1/layers/activities/")
    assert response.status_code == 200
    features = {f["id"]: f["properties"] for f in response.json()["features"]}
    assert set(features) == {activities["today"].pk, activities["week"].pk}
    assert features[activities["today"].pk]["today"] is True
    assert "minutes" not in features[activities["today"].pk]
    by_kind = api.get("/api/v1/layers/activities/", {"kind": "party_lecture"}).json()["features"]
    assert [f["id"] for f in by_kind] == [activities["today"].pk]


def test_the_layers_tiles_carry_its_activities(activities, api):
    response = api.get(f"/tiles/activities/{tile_of(109.92, 35.17, 16)}.mvt")
    assert response.status_code == 200
    decoded = mapbox_vector_tile.decode(response.content)
    titles = sorted(f["properties"]["title"] for f in decoded["activities"]["features"])
    assert titles == sorted(["今天", "本周"])
    assert api.get(f"/tiles/activities/{tile_of(100.0, 20.0, 16)}.mvt").status_code == 204


sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")


@pytest.mark.browser
@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed")
@pytest.mark.django_db(transaction=True)
def test_the_console_legend_shows_the_activities_layer_and_draws_it(live_server, activities, territory, settings):
    settings.TILE_URL = unreachable_tile_url()
    dispatcher = UserFactory(username="disp-a", role=Role.DISPATCHER, areas=[territory.street_a])
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN").new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, live_server.url, dispatcher.username, next_path="/console/")
            page.wait_for_selector("body[data-ready=true]", state="attached", timeout=15_000)
            title = page.text_content(".layer-row[data-layer=activities] .title")
            page.check(".layer-row[data-layer=activities] input[name=layer]")
            page.wait_for_selector(".layer-row[data-layer=activities][data-drawn]", state="attached")
            count = page.get_attribute(".layer-row[data-layer=activities]", "data-count")
        finally:
            browser.close()
    assert urlsplit(live_server.url).netloc and errors == []
    assert title.strip() == "活动" or title.strip() == "activities"
    assert count == "2"
