"""The one map in a real headless Chromium: log in as a dispatcher, see grids, stations and incidents."""

import datetime as dt
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from grid.models import AdminArea, Category, Role
from grid.services import incidents_place
from tests.factories import AreaFactory, GridFactory, IncidentFactory, StationFactory, UserFactory, box
from tests.map_ui.browser import log_in, watch

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),  # the live server's thread must see committed data
]

DRAWN = """([grids, stations, incidents]) =>
    document.querySelectorAll('path.gl-grid').length === grids
    && document.querySelectorAll('.leaflet-marker-icon.gl-station').length === stations
    && document.querySelectorAll('path.gl-incident').length === incidents"""


def unreachable_tile_url() -> str:
    """A tile server that refuses connections: the map must draw its vectors all the same."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png"


def territory():
    """A county with one street and two communities: grids 2 + 1, stations 3, incidents 4 + 1."""
    # An earlier transactional test may have flushed the categories of the data migration (and a
    # serialized_rollback restore collides with the content types that flush re-creates): make ours.
    Category.objects.get_or_create(code="litter", defaults={"name": "乱扔垃圾"})
    county = AreaFactory(
        code="610502", name="示范县", level=AdminArea.Level.COUNTY, boundary=box(109.90, 35.15, 110.00, 35.25)
    )
    street = AreaFactory(
        code="610502001",
        name="城关街道",
        level=AdminArea.Level.STREET,
        parent=county,
        boundary=box(109.90, 35.15, 110.00, 35.20),
    )
    mine = AreaFactory(
        code="610502001001",
        name="东关社区",
        level=AdminArea.Level.COMMUNITY,
        parent=street,
        boundary=box(109.90, 35.15, 109.95, 35.20),
    )
    other = AreaFactory(
        code="610502001002",
        name="西关社区",
        level=AdminArea.Level.COMMUNITY,
        parent=street,
        boundary=box(109.95, 35.15, 110.00, 35.20),
    )
    GridFactory(code="G-0001", name="东关一网格", community=mine, boundary=box(109.90, 35.15, 109.925, 35.20))
    GridFactory(code="G-0002", name="东关二网格", community=mine, boundary=box(109.925, 35.15, 109.95, 35.20))
    GridFactory(code="G-0003", name="西关一网格", community=other, boundary=box(109.95, 35.15, 110.00, 35.20))
    for i, lon in enumerate((109.905, 109.935, 109.975)):
        StationFactory(name=f"小哥驿站{i + 1}", location=Point(lon, 35.19, srid=4326))
    # deadlines: the first one overdue (red), the second nearing it (yellow), the others without one (green)
    now = timezone.now()
    deadlines = [
        {"phase_started": now - dt.timedelta(hours=3), "yellow_at": now - dt.timedelta(hours=2),
         "deadline": now - dt.timedelta(hours=1)},
        {"phase_started": now - dt.timedelta(hours=1), "yellow_at": now - dt.timedelta(minutes=5),
         "deadline": now + dt.timedelta(hours=1)},
    ]  # fmt: skip
    for i, (lon, lat) in enumerate(
        ((109.91, 35.16), (109.92, 35.17), (109.93, 35.16), (109.94, 35.17), (109.98, 35.17))
    ):
        IncidentFactory(location=Point(lon, lat, srid=4326), note="路边垃圾", **(deadlines[i] if i < 2 else {}))
    incidents_place()  # derive grid, community, street and county, as reporting does
    return UserFactory(username="dispatcher", role=Role.DISPATCHER, areas=[mine])


def test_dispatcher_sees_grids_stations_and_incidents_of_their_community(live_server, settings):
    settings.TILE_URL = unreachable_tile_url()
    tile_host = urlsplit(settings.TILE_URL).netloc
    dispatcher = territory()
    ARTIFACTS.mkdir(exist_ok=True)

    # No ORM from here on: Playwright's sync API runs an event loop in this thread, and Django refuses
    # database access while one runs. The live server answers from its own thread.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page = context.new_page()
            errors, foreign = watch(page, hosts=(urlsplit(live_server.url).netloc, tile_host))

            # given a dispatcher who logs in through the login page
            log_in(page, live_server.url, dispatcher.username, next_path="/map/")
            page.wait_for_url("**/map/**")

            # then every grid, the stations near the centre and the incidents of their community are drawn,
            # on a plain background since no tile loads
            page.wait_for_function(DRAWN, arg=[3, 3, 4], timeout=10_000)
            page.wait_for_function("!document.getElementById('map-status').classList.contains('busy')")
            page.screenshot(path=str(ARTIFACTS / "map.png"))
            status = page.inner_text("#map-status")
            # incidents coloured by deadline level, with a legend of the three colours
            fills = page.eval_on_selector_all("path.gl-incident", "paths => paths.map(p => getComputedStyle(p).fill)")
            legend = page.eval_on_selector_all(
                ".gl-legend .swatch", "swatches => swatches.map(s => getComputedStyle(s).backgroundColor)"
            )
            layer_names = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()

            # and a click on a station opens its popup; the reload after the popup pans the map keeps it open
            page.locator(".gl-station[title='小哥驿站2']").click()
            page.wait_for_selector(".leaflet-popup-content")
            page.wait_for_timeout(400)
            popup = page.inner_text(".leaflet-popup-content")

            # and an anonymous visitor sees grids and stations, no incidents layer, and a login link
            anonymous = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            anonymous.on("pageerror", lambda error: errors.append(str(error)))
            anonymous.goto(f"{live_server.url}/map/")
            anonymous.wait_for_function(DRAWN, arg=[3, 3, 0], timeout=10_000)
            anonymous_layers = anonymous.locator(".leaflet-control-layers-overlays label").all_inner_texts()
            login_link = anonymous.get_attribute("#login-link", "href")
            anonymous_legends = anonymous.locator(".gl-legend").count()
        finally:
            browser.close()

    assert errors == []
    assert foreign == []  # nothing but the server itself (and the configured tile server)
    assert status == ""  # no error notice
    assert [name.strip() for name in layer_names] == ["网格", "街道 / 乡镇", "社区 / 村", "站点（最近 50 个）", "事件"]
    assert "小哥驿站2" in popup and "距地图中心" in popup
    green, yellow, red = "rgb(46, 125, 50)", "rgb(249, 168, 37)", "rgb(198, 40, 40)"  # #2e7d32 #f9a825 #c62828
    assert sorted(fills) == sorted([red, yellow, green, green])
    assert legend == [green, yellow, red]
    assert anonymous_legends == 0
    assert "事件" not in [name.strip() for name in anonymous_layers]
    assert login_link == "/accounts/login/?next=/map/"
