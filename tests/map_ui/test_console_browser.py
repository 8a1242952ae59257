"""The dispatcher console in a real headless Chromium: log in, switch a layer on, open an incident, dispatch it to the
nearest on-duty worker, and see an incident created meanwhile appear without reloading."""

import datetime as dt
import shutil
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from django.contrib.gis.geos import Point, Polygon
from django.db import connection, transaction
from django.utils import timezone
from pyproj import Geod

from grid.models import Grid, Incident, IncidentEvent, Role, WorkerStatus
from grid.services import incidents_place
from layers.models import Place
from tests.factories import IncidentFactory, UserFactory
from tests.map_ui.browser import log_in, watch
from tests.map_ui.test_map_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, territory, unreachable_tile_url

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),  # the live server's thread must see committed data
]

GEOD = Geod(ellps="WGS84")


def off_the_loop(work):
    """Run ORM work while Playwright's sync API holds an event loop in this thread (Django refuses the ORM there):
    in a thread of its own, closing that thread's connection afterwards."""

    def run():
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def places_in(bbox: str) -> int:
    """Places within the view's box (min_lon,min_lat,max_lon,max_lat), counted by PostGIS, not by the page."""
    box = Polygon.from_bbox(tuple(float(v) for v in bbox.split(",")))
    box.srid = 4326
    return Place.objects.filter(location__intersects=box).count()


def test_dispatcher_switches_a_layer_opens_and_dispatches_an_incident_and_sees_new_ones(live_server, settings):
    settings.TILE_URL = unreachable_tile_url()
    tile_host = urlsplit(settings.TILE_URL).netloc
    dispatcher = territory()  # dispatcher of 东关社区: 2 of its grids, 4 of the 5 incidents
    target = Incident.objects.get(location=Point(109.91, 35.16, srid=4326))  # overdue (red), in 东关一网格
    IncidentEvent.objects.create(incident=target, action="report", to_status=target.status, note="路边垃圾")
    # places: three in the county, one far outside any view of it
    for i, (lon, lat) in enumerate(((109.915, 35.165), (109.945, 35.185), (109.985, 35.175), (112.5, 37.5))):
        Place.objects.create(
            code=f"P-{i}", name=f"便民点{i}", kind=Place.Kind.OTHER, location=Point(lon, lat, srid=4326)
        )
    # two on-duty grid workers of 东关一网格 with fresh positions; one off duty, nearer than both
    grid = Grid.objects.get(code="G-0001")
    now = timezone.now()
    positions = {"near": (109.912, 35.162), "far": (109.94, 35.19), "resting": (109.9101, 35.1601)}
    workers = {}
    for name, (lon, lat) in positions.items():
        worker = UserFactory(username=f"worker-{name}", role=Role.GRID_WORKER)
        grid.workers.add(worker)
        WorkerStatus.objects.create(
            user=worker, on_duty=name != "resting", location=Point(lon, lat, srid=4326), position_at=now
        )
        workers[name] = worker
    # the nearest on-duty worker by geodesic distance (pyproj), independently of the API's ranking
    distance = {
        name: GEOD.inv(109.91, 35.16, *positions[name])[2] for name in positions if name != "resting"
    }  # fmt: skip
    nearest = min(distance, key=distance.get)
    assert nearest == "near"

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
            page = context.new_page()
            errors, foreign = watch(page, hosts=(urlsplit(live_server.url).netloc, tile_host))

            # given a dispatcher who logs in through the login page
            log_in(page, live_server.url, dispatcher.username, next_path="/console/")
            page.wait_for_url("**/console/**")

            # then the console is drawn: the layer panel from the registry, grids, incidents and their list
            page.wait_for_selector("body[data-ready=true]", state="attached", timeout=15_000)
            panel_layers = page.eval_on_selector_all(".layer-row", "rows => rows.map(r => r.dataset.layer)")
            grids_drawn = page.locator("path.gl-grid").count()
            listed = page.eval_on_selector_all("#incident-list li", "rows => rows.map(r => Number(r.dataset.id))")
            incidents_count = page.get_attribute(".layer-row[data-layer=incidents]", "data-count")
            page.screenshot(path=str(ARTIFACTS / "console.png"))

            # when the places layer is switched on, its features in view are drawn
            page.check(".layer-row[data-layer=places] input[name=layer]")
            page.wait_for_selector(".layer-row[data-layer=places][data-drawn]", state="attached")
            bbox = page.get_attribute("#map", "data-bbox")
            places_drawn = page.locator("path.gl-feature-places").count()
            places_counted = page.get_attribute(".layer-row[data-layer=places]", "data-count")
            places_expected = off_the_loop(lambda: places_in(bbox))

            # when the dispatcher opens the overdue incident from the list, its timeline shows
            page.click(f"#incident-list li[data-id='{target.pk}'] button")
            page.wait_for_selector(f"#incident-view[data-id='{target.pk}']")
            page.wait_for_selector("#incident-timeline li[data-action=report]")
            selected_marker = page.locator(f".gl-inc.selected[data-id='{target.pk}']").count()

            # and accepts it, then assigns it to the nearest candidate shown on the map
            page.click("#incident-actions button[data-action=accept]")
            page.wait_for_selector("#incident-view[data-status=accepted]")
            page.click("#incident-actions button[data-action=dispatch]")
            page.wait_for_selector("#incident-choices li[data-username]")
            candidates = page.eval_on_selector_all(
                "#incident-choices li[data-username]", "rows => rows.map(r => r.dataset.username)"
            )
            on_map = page.eval_on_selector_all(".gl-candidate", "marks => marks.map(m => m.dataset.username)")
            page.screenshot(path=str(ARTIFACTS / "console-candidates.png"))
            page.click(f"#incident-choices li[data-username='{candidates[0]}'] button.assign")
            page.wait_for_selector("#incident-view[data-status=dispatched]")
            page.wait_for_selector("#incident-timeline li[data-action=dispatch]")
            timeline = page.eval_on_selector_all("#incident-timeline li", "rows => rows.map(r => r.dataset.action)")
            page.screenshot(path=str(ARTIFACTS / "console-incident.png"))

            # and an incident reported meanwhile (straight into the database) appears without reloading
            page.click("#incident-back")

            def report_one() -> int:
                with transaction.atomic():
                    new = IncidentFactory(location=Point(109.92, 35.18, srid=4326), note="新上报")
                    incidents_place()
                return new.pk

            navigations: list[str] = []
            page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
            new_id = off_the_loop(report_one)
            page.wait_for_selector(f"#incident-list li[data-id='{new_id}']", timeout=10_000)
            page.wait_for_function(
                "id => window.gridlineConsole.map && document.querySelector('.layer-row[data-layer=incidents]')"
                ".dataset.count === '5'",
                arg=new_id,
                timeout=10_000,
            )
            page.screenshot(path=str(ARTIFACTS / "console-live.png"))
        finally:
            browser.close()

    assert errors == []
    assert foreign == []  # nothing but the server itself (and the configured tile server)
    assert {"grids", "streets", "communities", "places", "stations", "incidents"} <= set(panel_layers)
    assert grids_drawn == 3
    mine = set(Incident.objects.filter(community__code="610502001001").values_list("pk", flat=True))
    assert len(mine) == 5 and new_id in mine  # 4 from the start, one reported during the test
    assert set(listed) == mine - {new_id} and incidents_count == "4"
    assert 0 < places_expected < Place.objects.count()  # the view holds some places, not all
    assert places_drawn == places_expected and places_counted == str(places_expected)
    assert selected_marker <= 1  # drawn as a selected marker unless it sits in a cluster
    assert candidates == ["worker-near", "worker-far"]  # on duty only, nearest first
    assert sorted(on_map) == sorted(candidates)
    assert navigations == []  # no reload
    target.refresh_from_db()
    assert target.status == Incident.Status.DISPATCHED and target.assignee == workers[nearest]
    dispatch = IncidentEvent.objects.get(incident=target, action="dispatch")
    assert dispatch.actor == dispatcher and dispatch.to_status == Incident.Status.DISPATCHED
    assert timeline[-2:] == ["accept", "dispatch"]
    assert dt.timedelta(0) <= timezone.now() - dispatch.at < dt.timedelta(minutes=5)


def test_a_stale_action_reloads_the_incident_and_an_expired_session_keeps_the_note(live_server):
    dispatcher = territory()
    target = Incident.objects.get(location=Point(109.91, 35.16, srid=4326))
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, live_server.url, dispatcher.username, next_path="/console/")
            page.wait_for_selector("body[data-ready=true]", state="attached", timeout=15_000)
            page.click(f"#incident-list li[data-id='{target.pk}'] button")
            page.wait_for_selector(f"#incident-view[data-id='{target.pk}'][data-status=reported]")

            # given another dispatcher accepts it meanwhile (the page still shows it as reported)
            def accept_elsewhere():
                Incident.objects.filter(pk=target.pk).update(status=Incident.Status.ACCEPTED, version=2)

            off_the_loop(accept_elsewhere)
            # when this dispatcher accepts it too: 409, its message shown, the incident reloaded
            page.click("#incident-actions button[data-action=accept]")
            page.wait_for_selector("#incident-view[data-status=accepted][data-version='2']")
            conflict = page.get_attribute("#incident-message", "data-kind")
            page.screenshot(path=str(ARTIFACTS / "console-conflict.png"))

            # when the session expires while a note is typed, rejecting offers the login link and keeps the note
            page.fill("#incident-note", "现场核实：非本网格问题")
            context.clear_cookies()
            page.click("#incident-actions button[data-action=reject]")
            page.wait_for_selector("#session-banner:not([hidden])")
            kept = page.input_value("#incident-note")
            page.screenshot(path=str(ARTIFACTS / "console-session-expired.png"))
            with context.expect_page() as opened:
                page.click("#session-login")
            login = opened.value
            login.wait_for_selector("#id_username")
            login.fill("#id_username", dispatcher.username)
            login.fill("#id_password", "pw-123456")
            login.click("button[type=submit]")
            login.wait_for_url("**/console/**")
            login.close()
            # then Retry sends the same action with the note
            page.click("#session-retry")
            page.wait_for_selector("#incident-view[data-status=rejected]")
            page.wait_for_selector("#incident-timeline li[data-action=reject]")
        finally:
            browser.close()

    assert errors == []
    assert conflict == "error"
    assert kept == "现场核实：非本网格问题"
    target.refresh_from_db()
    assert target.status == Incident.Status.REJECTED
    reject = IncidentEvent.objects.get(incident=target, action="reject")
    assert reject.note == "现场核实：非本网格问题" and reject.actor == dispatcher
