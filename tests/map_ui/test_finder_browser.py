"""The station finder (/stations/) in a real headless Chromium: an anonymous gig worker's phone, located by
the browser, sees the nearest stations and the nearest party and community organizations."""

import shutil
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.gis.geos import Point, Polygon
from django.utils import translation
from pyproj import Geod

from grid.crs import wgs84_to_gcj02
from grid.models import Station
from layers.models import Organization
from tests.factories import StationFactory
from tests.map_ui.browser import watch
from tests.map_ui.test_map_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, unreachable_tile_url

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),  # the live server's thread must see committed data
]

GEOD = Geod(ellps="WGS84")
HERE = (109.93, 35.19)  # where the phone says it is (lon, lat)
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
CLOSED_ALL_WEEK = {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}

STATIONS_SETTLED = """([n, needle]) => {
    const list = document.getElementById('station-list');
    return !list.hasAttribute('aria-busy') && (list.dataset.query || '').includes(needle)
        && list.querySelectorAll('li.result').length === n;
}"""
ORGANIZATIONS_SETTLED = """n => {
    const list = document.getElementById('organization-list');
    return !list.hasAttribute('aria-busy') && list.querySelectorAll('li.result').length === n;
}"""
READ_LIST = """selector => [...document.querySelectorAll(selector + ' li.result')].map(li => ({
    id: Number(li.dataset.id),
    distance_m: Number(li.dataset.distanceM),
    name: li.querySelector('.name').textContent,
    distance: li.querySelector('.distance').textContent,
    open: (li.querySelector('.open-state') || {}).textContent || null,
    amenities: [...li.querySelectorAll('.amenity-tags li')].map(t => t.textContent),
    tel: (li.querySelector('a.tel') || {}).href || null,
    amap: (li.querySelector('a.nav-amap') || {}).href || null,
    geo: (li.querySelector('a.nav-geo') || {}).getAttribute?.('href') || null,
}))"""


def geodesic_m(lon: float, lat: float) -> float:
    return GEOD.inv(*HERE, lon, lat)[2]


def zh(text: str) -> str:
    """A template string in Simplified Chinese, from the catalogue the page uses ({% translate %} doubles its %)."""
    with translation.override("zh-hans"):
        return translation.gettext(text.replace("%", "%%")).replace("%%", "%")


def shown_distance(metres: float) -> str:
    """What the page writes for a distance, in Simplified Chinese."""
    if round(metres) < 1000:
        return zh("%s m").replace("%s", str(round(metres)))
    return zh("%s km").replace("%s", f"{metres / 1000:.1f}")


def neighbourhood():
    """Five stations (one closed all week) and five organizations around HERE, as the finder should see them."""
    stations = [
        StationFactory(name="东关驿站", location=Point(109.9333, 35.1906, srid=4326), amenities=["water", "charging"]),
        StationFactory(
            name="城关户外劳动者服务站",
            kind=Station.Kind.WORKER_HUB,
            location=Point(109.9262, 35.1951, srid=4326),
            amenities=["water", "restroom"],
            phone="0913-6123456",
            address="城关街道幸福路12号",
        ),
        StationFactory(
            name="西关党群服务中心",
            kind=Station.Kind.PARTY_MASS_CENTRE,
            location=Point(109.9452, 35.2004, srid=4326),
            amenities=["water", "charging", "restroom"],
        ),
        StationFactory(
            name="夜里关门的驿站", location=Point(109.9311, 35.1879, srid=4326), opening_hours=CLOSED_ALL_WEEK
        ),
        StationFactory(name="南关充电站", location=Point(109.9617, 35.1703, srid=4326), amenities=["charging"]),
    ]

    def org(code, name, kind, geometry):
        return Organization.objects.create(code=code, name=name, kind=kind, geometry=geometry, phone="0913-6000000")

    Kind = Organization.Kind
    enterprise = org(
        "E1", "东关快递有限公司", Kind.ENTERPRISE, Point(109.9301, 35.1901, srid=4326)
    )  # nearest, not shown
    branch = org("B1", "中共东关社区第一支部委员会", Kind.BRANCH, Point(109.9322, 35.1921, srid=4326))
    org("G1", "中共东关社区总支部委员会", Kind.GENERAL_BRANCH, Point(109.9403, 35.2002, srid=4326))
    org("A1", "澄城县快递物流行业协会", Kind.ASSOCIATION, Point(109.9508, 35.1807, srid=4326))
    ring = ((109.97, 35.21), (109.98, 35.21), (109.98, 35.22), (109.97, 35.22), (109.97, 35.21))
    org("P1", "中共城关街道工作委员会", Kind.PARTY_COMMITTEE, Polygon(ring, srid=4326))
    return stations, branch, enterprise


def test_an_anonymous_phone_finds_the_nearest_stations_and_party_organizations(live_server, settings):
    settings.TILE_URL = unreachable_tile_url()
    tile_host = urlsplit(settings.TILE_URL).netloc
    stations, branch, enterprise = neighbourhood()
    by_distance = sorted(stations, key=lambda s: geodesic_m(*s.location.coords))
    distance = {s.pk: geodesic_m(*s.location.coords) for s in stations}
    # the positions are chosen so that no shown distance sits near a rounding edge (x.5 m; x.x5 km), where the
    # API's distance (rounded to 0.1 m) and pyproj's could round apart
    for metres in distance.values():
        step, margin = (100, 1) if round(metres) >= 1000 else (1, 0.1)
        assert abs(metres % step - step / 2) > margin, metres
    with_charging = [s for s in by_distance if "charging" in s.amenities]
    open_ones = [s for s in by_distance if s.opening_hours != CLOSED_ALL_WEEK]
    names = {s.pk: s.name for s in stations}
    ARTIFACTS.mkdir(exist_ok=True)

    # No ORM from here on: Playwright's sync API runs an event loop in this thread.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # given a phone without an account whose browser knows where it is
            context = browser.new_context(locale="zh-CN", permissions=["geolocation"], **PHONE)
            context.set_geolocation({"longitude": HERE[0], "latitude": HERE[1], "accuracy": 20})
            page = context.new_page()
            errors, foreign = watch(page, hosts=(urlsplit(live_server.url).netloc, tile_host))

            # when it opens the finder
            page.goto(f"{live_server.url}/stations/")
            page.wait_for_function(STATIONS_SETTLED, arg=[len(stations), "lon=109.930000"], timeout=10_000)
            page.wait_for_function(ORGANIZATIONS_SETTLED, arg=4, timeout=10_000)
            page.screenshot(path=str(ARTIFACTS / "station_finder.png"), full_page=True)
            listed = page.evaluate(READ_LIST, "#station-list")
            organizations = page.evaluate(READ_LIST, "#organization-list")
            pins = page.locator(".gl-pin-station").count()
            org_shapes = (
                page.locator(".gl-pin-organization").count() + page.locator("path.gl-area-organization").count()
            )
            title = page.inner_text("h1")

            # and keeps only the stations with charging
            page.click("label.chip:has(input[value=charging])")
            page.wait_for_function(STATIONS_SETTLED, arg=[len(with_charging), "amenity=charging"], timeout=10_000)
            page.screenshot(path=str(ARTIFACTS / "station_finder_charging.png"), full_page=True)
            charging = page.evaluate(READ_LIST, "#station-list")

            # and then, with charging off again, only those open now
            page.click("label.chip:has(input[value=charging])")
            page.click("label.chip-open")
            page.wait_for_function(STATIONS_SETTLED, arg=[len(open_ones), "open_now=true"], timeout=10_000)
            open_now = page.evaluate(READ_LIST, "#station-list")

            # and switches the page to English
            page.select_option("#language-select", "en")
            page.click("form.language button[type=submit]")
            page.wait_for_function("() => document.documentElement.lang === 'en'")
            page.wait_for_function(STATIONS_SETTLED, arg=[len(stations), "lon=109.930000"], timeout=10_000)
            page.screenshot(path=str(ARTIFACTS / "station_finder_en.png"), full_page=True)
            english_title = page.inner_text("h1")
            english = page.evaluate(READ_LIST, "#station-list")
        finally:
            browser.close()

    assert errors == []
    assert foreign == []  # no CDN, no navigation service asked: links are only followed when tapped
    assert title == zh("Nearby stations")

    # then the stations are listed nearest first, with the distances pyproj computes
    assert [item["id"] for item in listed] == [s.pk for s in by_distance]
    for item in listed:
        assert abs(item["distance_m"] - distance[item["id"]]) < 0.5
        assert item["distance"] == shown_distance(distance[item["id"]])
        assert item["name"] == names[item["id"]]
    assert any(round(m) < 1000 for m in distance.values()) and any(round(m) >= 1000 for m in distance.values())
    assert pins == len(stations)

    # with amenities by their Chinese names, open or closed now, a phone link and two navigation links
    hub = next(item for item in listed if item["name"] == "城关户外劳动者服务站")
    assert hub["amenities"] == ["饮用水", "卫生间"]
    assert hub["tel"] == "tel:09136123456"
    closed = next(item for item in listed if item["name"] == "夜里关门的驿站")
    assert closed["open"] == zh("Closed now")
    assert {item["open"] for item in listed if item is not closed} == {zh("Open now")}
    for item, station in zip(listed, by_distance, strict=True):
        lon, lat = station.location.coords
        amap = urlsplit(item["amap"])
        query = {key: values[0] for key, values in parse_qs(amap.query).items()}
        assert (amap.scheme, amap.netloc, amap.path) == ("https", "uri.amap.com", "/navigation")
        assert query["mode"] == "ride" and query["coordinate"] == "gaode"
        to_lon, to_lat, to_name = query["to"].split(",")
        gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)  # Amap takes GCJ-02: the page converts as grid/crs.py does
        assert abs(float(to_lon) - gcj_lon) < 1e-6 and abs(float(to_lat) - gcj_lat) < 1e-6
        assert to_name == station.name
        assert item["geo"].startswith(f"geo:{lat:.6f},{lon:.6f}?q=")

    # and the amenity filter leaves exactly the stations that have it, still nearest first
    assert [item["id"] for item in charging] == [s.pk for s in with_charging]
    assert all("充电" in item["amenities"] for item in charging)
    assert [item["id"] for item in open_now] == [s.pk for s in open_ones]

    # and the organizations list starts with the nearest party branch; the nearer company is not among them
    assert organizations[0]["id"] == branch.pk and organizations[0]["name"] == "中共东关社区第一支部委员会"
    assert organizations[0]["distance"] == shown_distance(geodesic_m(*branch.geometry.coords))
    assert enterprise.pk not in [item["id"] for item in organizations]
    assert [item["distance_m"] for item in organizations] == sorted(item["distance_m"] for item in organizations)
    assert org_shapes == 4

    # and in English the same list speaks English
    assert english_title == "Nearby stations"
    assert [item["id"] for item in english] == [s.pk for s in by_distance]
    assert next(item for item in english if item["name"] == "城关户外劳动者服务站")["amenities"] == [
        "drinking water",
        "restroom",
    ]


def test_without_the_browsers_position_a_tap_on_the_map_chooses_the_point(live_server, settings):
    settings.TILE_URL = ""  # no basemap at all: the page draws on a plain background
    stations, _, _ = neighbourhood()
    errors: list[str] = []

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # given a phone that refuses to share its position
            page = browser.new_context(locale="zh-CN", **PHONE).new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{live_server.url}/stations/")
            page.wait_for_function(
                "t => document.getElementById('finder-status').textContent === t",
                arg=zh("Your location is not available. Tap the map where you are."),
                timeout=20_000,
            )
            # when the worker taps the map
            page.click("#finder-map", position={"x": 200, "y": 150})
            page.wait_for_function(STATIONS_SETTLED, arg=[len(stations), "lon="], timeout=10_000)
            page.screenshot(path=str(ARTIFACTS / "station_finder_tapped.png"), full_page=True)
            tapped = (float(page.get_attribute("body", "data-lon")), float(page.get_attribute("body", "data-lat")))
            listed = page.evaluate(READ_LIST, "#station-list")
        finally:
            browser.close()

    # then the stations are ranked from the tapped point
    assert errors == []
    expected = sorted(stations, key=lambda s: GEOD.inv(*tapped, *s.location.coords)[2])
    assert [item["id"] for item in listed] == [s.pk for s in expected]
    for item, station in zip(listed, expected, strict=True):
        assert abs(item["distance_m"] - GEOD.inv(*tapped, *station.location.coords)[2]) < 0.5
