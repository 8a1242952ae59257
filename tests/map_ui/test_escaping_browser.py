"""Hostile text in the pages, in a real headless Chromium: a worker's name, an incident's note and category,
a grid's, a station's, an organization's and a layer record's name carry an <img onerror> that would set
window.__xss if any page parsed it as markup. Each page is opened, its lists, popups and tooltips drawn, and
the text must show literally with no such element in the document."""

import shutil

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from grid.models import Category, Grid, Incident, IncidentEvent, Role, WorkerStatus
from grid.services import incidents_place
from layers.models import Organization, Place
from tests.factories import IncidentFactory, StationFactory, UserFactory
from tests.map_ui.browser import log_in, watch
from tests.map_ui.test_map_browser import CHROMIUM, CHROMIUM_ARGS, territory, unreachable_tile_url

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),  # the live server's thread must see committed data
]

PAYLOAD = '<img src=x onerror="window.__xss=(window.__xss||[]).concat(document.title)">'


def hostile(label: str) -> str:
    """A name that says where it came from, followed by the markup that must stay text."""
    return label + PAYLOAD


WORKER, NOTE, CATEGORY, GRID = hostile("工人"), hostile("备注"), hostile("类别"), hostile("网格")
STATION, ORGANIZATION, PLACE = hostile("驿站"), hostile("组织"), hostile("便民点")

# Every popup of the console's Leaflet layers, opened one after the other: the text of each.
OPEN_EVERY_POPUP = """() => {
    const texts = [];
    window.gridlineConsole.map.eachLayer((layer) => {
        if (layer.getPopup && layer.getPopup() && !layer.getLayers) {
            layer.openPopup(layer.getLatLng ? layer.getLatLng() : layer.getBounds().getCenter());
            const node = layer.getPopup().getElement();
            texts.push(node ? node.textContent : '');
            layer.closePopup();
        }
    });
    return texts;
}"""
INJECTED = "() => ({xss: window.__xss || null, images: document.querySelectorAll('img[src=x]').length})"


def hostile_territory():
    """The map tests' county, its names replaced by hostile ones; a grid worker on duty with a hostile name."""
    dispatcher = territory()
    category = Category.objects.create(code="hostile", name=CATEGORY)
    grid = Grid.objects.get(code="G-0001")
    Grid.objects.filter(pk=grid.pk).update(name=GRID)
    reporter = UserFactory(username="reporter", role=Role.GRID_WORKER)
    grid.workers.add(reporter)
    target = IncidentFactory(
        location=Point(109.912, 35.162, srid=4326), note=NOTE, category=category, reporter=reporter
    )
    incidents_place()
    IncidentEvent.objects.create(incident=target, action="report", to_status=target.status, note=NOTE)
    worker = UserFactory(username="worker-hostile", first_name=WORKER, role=Role.GRID_WORKER)
    grid.workers.add(worker)
    WorkerStatus.objects.create(
        user=worker, on_duty=True, location=Point(109.913, 35.163, srid=4326), position_at=timezone.now()
    )
    StationFactory(name=STATION, address=hostile("地址"), location=Point(109.915, 35.19, srid=4326))
    Place.objects.create(code="P-X", name=PLACE, kind=Place.Kind.OTHER, location=Point(109.915, 35.165, srid=4326))
    Organization.objects.create(
        code="B-X", name=ORGANIZATION, kind=Organization.Kind.BRANCH, geometry=Point(109.931, 35.19, srid=4326)
    )
    return dispatcher, reporter, target


def settle(page) -> dict:
    """What the page injected, once an <img> it parsed has had the time to fail loading and fire onerror."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)
    return page.evaluate(INJECTED)


def chromium(playwright, **context):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    return browser, browser.new_context(locale="zh-CN", **context).new_page()


def test_the_console_shows_hostile_names_notes_and_layer_records_as_text(live_server, settings):
    settings.TILE_URL = unreachable_tile_url()
    dispatcher, _, target = hostile_territory()
    with sync_api.sync_playwright() as playwright:
        browser, page = chromium(playwright, viewport={"width": 1400, "height": 900})
        try:
            errors, _ = watch(page, hosts=())
            log_in(page, live_server.url, dispatcher.username, next_path="/console/")
            page.wait_for_selector("body[data-ready=true]", state="attached", timeout=15_000)
            listed = page.inner_text(f"#incident-list li[data-id='{target.pk}']")
            # the places layer on, then every popup of the map (grids and places)
            page.check(".layer-row[data-layer=places] input[name=layer]")
            page.wait_for_selector(".layer-row[data-layer=places][data-drawn]", state="attached")
            popups = page.evaluate(OPEN_EVERY_POPUP)
            # the incident: its timeline, then the candidates for dispatch with their tooltips on the map
            page.click(f"#incident-list li[data-id='{target.pk}'] button")
            page.wait_for_selector("#incident-timeline li[data-action=report]")
            timeline = page.inner_text("#incident-timeline")
            page.click("#incident-actions button[data-action=accept]")
            page.wait_for_selector("#incident-view[data-status=accepted]")
            page.click("#incident-actions button[data-action=dispatch]")
            page.wait_for_selector("#incident-choices li[data-username='worker-hostile']")
            page.wait_for_selector(".leaflet-tooltip")
            candidates = page.inner_text("#incident-choices")
            tooltips = page.locator(".leaflet-tooltip").all_inner_texts()
            injected = settle(page)
        finally:
            browser.close()

    assert injected == {"xss": None, "images": 0}
    assert errors == []
    assert CATEGORY in listed
    assert any(GRID in text for text in popups) and any(PLACE in text for text in popups), popups
    assert NOTE in timeline
    assert WORKER in candidates
    assert any(text.startswith(WORKER + " · ") for text in tooltips)


def test_the_map_shows_hostile_station_grid_and_incident_texts_as_text(live_server, settings):
    settings.TILE_URL = unreachable_tile_url()
    dispatcher, _, _ = hostile_territory()
    with sync_api.sync_playwright() as playwright:
        browser, page = chromium(playwright, viewport={"width": 1280, "height": 800})
        try:
            errors, _ = watch(page, hosts=())
            log_in(page, live_server.url, dispatcher.username, next_path="/map/")
            page.wait_for_url("**/map/**")
            page.wait_for_selector(f".gl-station[title='{STATION}']")
            page.wait_for_function("document.querySelectorAll('path.gl-incident').length === 5")
            texts = []
            for target in (f".gl-station[title='{STATION}']", "path.gl-incident", "path.gl-grid"):
                for node in page.locator(target).all():
                    node.click(force=True)  # a marker may lie over a path: the click goes where a finger would
                    page.wait_for_selector(".leaflet-popup-content")
                    texts.append(page.inner_text(".leaflet-popup-content"))
                    page.click(".leaflet-popup-close-button")
                    page.wait_for_selector(".leaflet-popup", state="detached")
            injected = settle(page)
        finally:
            browser.close()

    assert injected == {"xss": None, "images": 0}
    assert errors == []
    assert any(STATION in text and hostile("地址") in text for text in texts)
    assert any(NOTE in text and CATEGORY in text for text in texts)
    assert any(GRID in text for text in texts)


def test_the_finder_shows_hostile_station_and_organization_names_as_text(live_server, settings):
    settings.TILE_URL = unreachable_tile_url()
    hostile_territory()
    with sync_api.sync_playwright() as playwright:
        browser, page = chromium(
            playwright,
            viewport={"width": 390, "height": 844},
            permissions=["geolocation"],
            geolocation={"longitude": 109.93, "latitude": 35.19, "accuracy": 20},
        )
        try:
            errors, _ = watch(page, hosts=())
            page.goto(f"{live_server.url}/stations/")
            page.wait_for_selector("#station-list li.result")
            page.wait_for_selector("#organization-list li.result")
            stations = page.inner_text("#station-list")
            organizations = page.inner_text("#organization-list")
            page.locator(".gl-pin-organization[title^='组织']").hover(force=True)
            page.wait_for_selector(".leaflet-tooltip")
            tooltips = page.locator(".leaflet-tooltip").all_inner_texts()
            injected = settle(page)
        finally:
            browser.close()

    assert injected == {"xss": None, "images": 0}
    assert errors == []
    assert STATION in stations and hostile("地址") in stations
    assert ORGANIZATION in organizations
    assert any(text.startswith(ORGANIZATION + " · ") for text in tooltips)


def test_the_phone_page_lists_a_hostile_note_and_category_as_text(live_server, settings):
    settings.TILE_URL = unreachable_tile_url()
    _, reporter, target = hostile_territory()
    with sync_api.sync_playwright() as playwright:
        browser, page = chromium(
            playwright,
            viewport={"width": 390, "height": 844},
            permissions=["geolocation"],
            geolocation={"longitude": 109.912, "latitude": 35.17, "accuracy": 8},
        )
        try:
            errors, _ = watch(page, hosts=())
            log_in(page, live_server.url, reporter.username, next_path="/m/report/")
            page.wait_for_selector(f"#mine li[data-id='{target.pk}']")
            mine = page.inner_text(f"#mine li[data-id='{target.pk}']")
            categories = page.eval_on_selector_all("#category option", "options => options.map(o => o.textContent)")
            injected = settle(page)
        finally:
            browser.close()

    assert injected == {"xss": None, "images": 0}
    assert errors == []
    assert NOTE in mine and CATEGORY in mine
    assert CATEGORY in categories
    assert Incident.objects.filter(reporter=reporter).count() == 1  # the page sent nothing of its own
