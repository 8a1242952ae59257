"""The phone report page in a real headless Chromium on a phone-sized screen: reports filed offline wait in
the browser, arrive once when the network returns (even when an answer is lost), a draft survives a reload,
and an expired session keeps the queue until the worker logs in again."""

import io
import re
import shutil
import uuid

import pytest
from django.urls import include, path, reverse
from PIL import Image
from pyproj import Geod

from grid.models import AdminArea, Category, Incident, Role
from map_ui.views.phone import PhoneServiceWorkerView
from tests.factories import AreaFactory, GridFactory, UserFactory, box
from tests.map_ui import browser as shared
from tests.map_ui.test_map_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, unreachable_tile_url

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),  # the live server's thread must see committed data
]

# Inside grid G-P-1 (see worker_territory), with more digits than a metre needs.
POSITION = {"longitude": 109.9123457, "latitude": 35.1765432, "accuracy": 8}
GEOD = Geod(ellps="WGS84")
PAGE = "/m/report/"

# Test instrumentation, not part of the page: records every batch answer (across reloads, in
# sessionStorage) and, when asked to, loses the first answer after the server has acted on it, as a
# phone losing its connection mid-request would.
BATCH_SPY = """
(() => {
  const realFetch = window.fetch;
  window.fetch = async function (input, init) {
    const response = await realFetch.apply(this, arguments);
    if (String(input.url || input).includes('/api/v1/incidents/batch/')) {
      const answers = JSON.parse(sessionStorage.getItem('batchAnswers') || '[]');
      answers.push({status: response.status, body: await response.clone().json().catch(() => null)});
      sessionStorage.setItem('batchAnswers', JSON.stringify(answers));
      if (sessionStorage.getItem('loseNextAnswer')) {
        sessionStorage.removeItem('loseNextAnswer');
        throw new TypeError('Failed to fetch');
      }
    }
    return response;
  };
})();
"""

# Puts every report of the queue back to "waiting", as a page that never heard the answers would have them.
REQUEUE = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open('gridline-phone');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    const t = db.transaction('reports', 'readwrite');
    const store = t.objectStore('reports');
    const all = store.getAll();
    all.onsuccess = () => all.result.forEach((r) => store.put({...r, state: 'waiting'}));
    t.oncomplete = () => { db.close(); resolve(all.result.length); };
    t.onerror = () => reject(t.error);
  };
})"""

DRAFT = """() => new Promise((resolve) => {
  const open = indexedDB.open('gridline-phone');
  open.onsuccess = () => {
    const get = open.result.transaction('drafts').objectStore('drafts').getAll();
    get.onsuccess = () => { open.result.close(); resolve(get.result[0] || null); };
  };
}).then((d) => d && {note: d.note, category: d.category, photos: d.photos.length, manual: d.manual})"""


def jpeg(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG", quality=90)
    return out.getvalue()


def worker_territory():
    """One community with two grids; a grid worker responsible for the first."""
    # A transactional test before this one may have flushed the categories of the data migration.
    Category.objects.get_or_create(code="litter", defaults={"name": "垃圾堆放", "name_en": "Litter and waste"})
    Category.objects.get_or_create(code="road_damage", defaults={"name": "道路破损", "name_en": "Damaged road"})
    community = AreaFactory(
        code="610502001001",
        name="东关社区",
        level=AdminArea.Level.COMMUNITY,
        boundary=box(109.90, 35.15, 109.95, 35.20),
    )
    worker = UserFactory(username="worker", role=Role.GRID_WORKER)
    GridFactory(code="G-P-1", community=community, boundary=box(109.90, 35.15, 109.925, 35.20), workers=[worker])
    GridFactory(code="G-P-2", community=community, boundary=box(109.925, 35.15, 109.95, 35.20))
    return worker


def phone_context(playwright, browser):
    device = {k: v for k, v in playwright.devices["Pixel 7"].items() if k != "default_browser_type"}
    context = browser.new_context(
        **device, locale="zh-CN", geolocation=POSITION, permissions=["geolocation"], service_workers="allow"
    )
    context.add_init_script(BATCH_SPY)
    return context


def log_in(page, base_url: str, username: str) -> None:
    shared.log_in(page, base_url, username, next_path=PAGE)
    page.wait_for_url(f"**{PAGE}")
    page_ready(page)


def page_ready(page) -> None:
    page.wait_for_selector("#category option[value=litter]", state="attached")
    page.wait_for_function("document.getElementById('location-text').textContent.includes('35.176543')")


def fill_report(page, category: str, note: str, photos=()) -> None:
    page.select_option("#category", category)
    page.fill("#note", note)
    if photos:
        page.set_input_files(
            "#photo-input",
            files=[{"name": f"p{i}.jpg", "mimeType": "image/jpeg", "buffer": p} for i, p in enumerate(photos)],
        )
        page.wait_for_function("n => document.querySelectorAll('#thumbs img').length === n", arg=len(photos))


def count(page, state: str) -> int:
    return page.locator(f"#queue li[data-state={state}]").count()


def wait_states(page, waiting: int, sent: int, failed: int = 0, timeout: int = 30_000) -> None:
    page.wait_for_function(
        """([w, s, f]) => document.querySelectorAll('#queue li[data-state=waiting]').length === w
            && document.querySelectorAll('#queue li[data-state=sent]').length === s
            && document.querySelectorAll('#queue li[data-state=failed]').length === f""",
        arg=[waiting, sent, failed],
        timeout=timeout,
    )


def batch_answers(page) -> list:
    return page.evaluate("JSON.parse(sessionStorage.getItem('batchAnswers') || '[]')")


def results_of(answer: dict) -> list[tuple[str, str]]:
    assert answer["status"] == 200
    return sorted((r["client_uuid"], r["result"]) for r in answer["body"]["results"])


def test_reports_filed_offline_wait_then_arrive_once(live_server, settings, tmp_path):
    settings.TILE_URL = unreachable_tile_url()
    settings.MEDIA_ROOT = tmp_path
    worker = worker_territory()
    photo = jpeg(64, 48, (200, 30, 30))
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)

    # No ORM until the browser is closed: Playwright's sync API runs an event loop in this thread.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = phone_context(playwright, browser)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))

            # given a grid worker on the report page, located by the phone
            log_in(page, live_server.url, worker.username)
            page.screenshot(path=str(ARTIFACTS / "phone-report.png"), full_page=True)

            # when the network goes and two reports are filed, one with a photo
            context.set_offline(True)
            page.wait_for_selector("#network.offline")
            fill_report(page, "litter", "路边垃圾一堆", photos=[photo])
            page.click("#submit")
            wait_states(page, waiting=1, sent=0)
            fill_report(page, "road_damage", "路面塌陷")
            page.click("#submit")

            # then both wait on the phone, and the form is empty again
            wait_states(page, waiting=2, sent=0)
            page.screenshot(path=str(ARTIFACTS / "phone-offline-waiting.png"), full_page=True)
            queued = page.eval_on_selector_all(
                "#queue li", "items => items.map(li => [li.querySelector('.note').textContent, li.dataset.uuid])"
            )
            uuids = {note: client_uuid for note, client_uuid in queued}
            offline_answers = batch_answers(page)
            form_after = (page.input_value("#note"), page.input_value("#category"), page.locator("#thumbs img").count())

            # when the network returns, and the answer to the first send is lost on the way back
            page.evaluate("sessionStorage.setItem('loseNextAnswer', '1')")
            context.set_offline(False)

            # then the page sends again by itself (retry timer), and both are marked sent
            wait_states(page, waiting=0, sent=2)
            page.wait_for_function("document.querySelectorAll('#mine li').length === 2")
            page.screenshot(path=str(ARTIFACTS / "phone-sent.png"), full_page=True)
            online_answers = batch_answers(page)
            mine = page.eval_on_selector_all("#mine li", "items => items.map(li => li.dataset.status)")

            # when the page is reloaded and the whole queue is forced out once more
            page.reload()
            page_ready(page)
            wait_states(page, waiting=0, sent=2)
            assert page.evaluate(REQUEUE) == 2
            page.click("#send-now")
            wait_states(page, waiting=0, sent=2)
            page.wait_for_function("JSON.parse(sessionStorage.getItem('batchAnswers')).length === 3")
            all_answers = batch_answers(page)
        finally:
            browser.close()

    assert errors == []
    assert offline_answers == []  # nothing was tried while offline
    assert form_after == ("", "", 0)
    assert set(uuids) == {"路边垃圾一堆", "路面塌陷"}
    first, second = uuids["路边垃圾一堆"], uuids["路面塌陷"]
    assert all(uuid.UUID(u).version == 4 for u in (first, second))
    # the server made both on the first send (whose answer was lost), then only recognised them
    assert [results_of(a) for a in all_answers] == [
        sorted([(first, "created"), (second, "created")]),
        sorted([(first, "existing"), (second, "existing")]),
        sorted([(first, "existing"), (second, "existing")]),
    ]
    assert online_answers == all_answers[:2]
    assert mine == ["reported", "reported"]

    # and the database holds exactly these two incidents, where the phone was, with the one photo
    incidents = {str(i.client_uuid): i for i in Incident.objects.select_related("category", "reporter")}
    assert set(incidents) == {first, second}
    assert incidents[first].category.code == "litter"
    assert incidents[second].category.code == "road_damage"
    assert incidents[first].note == "路边垃圾一堆"
    for incident in incidents.values():
        assert incident.reporter == worker
        assert incident.grid.code == "G-P-1"
        _, _, metres = GEOD.inv(POSITION["longitude"], POSITION["latitude"], incident.location.x, incident.location.y)
        assert metres < 1
    photos = list(incidents[first].photos.all())
    assert [(p.width, p.height) for p in photos] == [(64, 48)]
    assert incidents[second].photos.count() == 0


def test_a_half_filled_form_survives_a_reload(live_server, settings, tmp_path):
    settings.TILE_URL = unreachable_tile_url()
    settings.MEDIA_ROOT = tmp_path
    worker = worker_territory()
    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = phone_context(playwright, browser)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, live_server.url, worker.username)

            # given a half-filled form whose pin was moved by hand (a tap on the map, away from the GPS fix)
            fill_report(page, "road_damage", "井盖缺失，在路口东侧", photos=[jpeg(40, 30, (20, 90, 200))])
            box_ = page.locator("#pin-map").bounding_box()
            page.mouse.click(box_["x"] + box_["width"] * 0.25, box_["y"] + box_["height"] * 0.4)
            page.wait_for_function("document.getElementById('location-text').textContent.includes('(')")
            moved = page.inner_text("#location-text")
            page.wait_for_function(
                f"({DRAFT})().then(d => !!d && d.photos === 1 && d.manual === true && d.note.startsWith('井盖'))"
            )

            # when the page is reloaded
            page.reload()
            page.wait_for_selector("#category option[value=litter]", state="attached")
            page.wait_for_function("document.querySelectorAll('#thumbs img').length === 1")

            # then everything typed, the photo and the moved pin are back
            restored = (
                page.input_value("#category"),
                page.input_value("#note"),
                page.inner_text("#location-text"),
            )
            page.screenshot(path=str(ARTIFACTS / "phone-draft-restored.png"), full_page=True)

            # and it is filed from there: the draft is gone and the report goes out with the moved pin
            page.click("#submit")
            wait_states(page, waiting=0, sent=1)
            draft_after = page.evaluate(f"({DRAFT})()")
            client_uuid = page.get_attribute("#queue li", "data-uuid")
        finally:
            browser.close()

    assert errors == []
    assert restored == ("road_damage", "井盖缺失，在路口东侧", moved)
    assert draft_after is None
    lat, lon = (float(x) for x in re.match(r"([\d.]+), ([\d.]+)", moved).groups())
    assert abs(lat - POSITION["latitude"]) + abs(lon - POSITION["longitude"]) > 1e-4  # the pin did move
    incident = Incident.objects.get()
    assert str(incident.client_uuid) == client_uuid
    _, _, metres = GEOD.inv(lon, lat, incident.location.x, incident.location.y)
    assert metres < 1  # 6 shown decimals ≈ 0.1 m
    assert incident.photos.count() == 1


def test_an_expired_session_keeps_the_queue_until_the_worker_logs_in_again(live_server, settings, tmp_path):
    settings.TILE_URL = unreachable_tile_url()
    settings.MEDIA_ROOT = tmp_path
    worker = worker_territory()
    errors: list[str] = []

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = phone_context(playwright, browser)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, live_server.url, worker.username)

            # given a session that ended while the page was open
            context.clear_cookies()
            fill_report(page, "litter", "会话过期后上报")
            page.click("#submit")

            # then the report waits and the page offers to log in again in a new tab
            page.wait_for_selector("#auth-banner:not([hidden])")
            wait_states(page, waiting=1, sent=0)
            refused = batch_answers(page)
            page.screenshot(path=str(ARTIFACTS / "phone-session-ended.png"), full_page=True)

            # when the worker logs in again there (a new CSRF token comes with the new session)
            with context.expect_page() as new_tab:
                page.click("#login-link")
            login = new_tab.value
            login.wait_for_load_state()
            login.fill("#id_username", worker.username)
            login.fill("#id_password", "pw-123456")
            login.click("button[type=submit]")
            login.wait_for_url(f"**{PAGE}")
            login.close()

            # then the queued report goes out, once, and the notice goes away
            page.click("#send-now")
            wait_states(page, waiting=0, sent=1)
            page.wait_for_selector("#auth-banner", state="hidden")
            client_uuid = page.get_attribute("#queue li", "data-uuid")
        finally:
            browser.close()

    assert errors == []
    assert refused and all(answer["status"] in (401, 403) for answer in refused)
    incident = Incident.objects.get()
    assert str(incident.client_uuid) == client_uuid
    assert incident.reporter == worker


def test_a_refused_report_is_failed_with_the_servers_words_and_resent_as_the_same_report(live_server, settings):
    settings.TILE_URL = unreachable_tile_url()
    worker = worker_territory()
    errors: list[str] = []
    outside = {"longitude": 110.05, "latitude": 35.17, "accuracy": 5}  # east of every grid

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = phone_context(playwright, browser)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, live_server.url, worker.username)

            # given a report from a place outside every grid
            context.set_geolocation(outside)
            page.wait_for_function("document.getElementById('location-text').textContent.includes('110.050000')")
            fill_report(page, "litter", "网格外的垃圾")
            page.click("#submit")

            # then the server refuses it, and the page says why
            wait_states(page, waiting=0, sent=0, failed=1)
            client_uuid = page.get_attribute("#queue li", "data-uuid")
            why = page.inner_text("#queue li .errors")
            page.screenshot(path=str(ARTIFACTS / "phone-failed.png"), full_page=True)

            # when the worker fixes the place and sends it again
            page.click("#queue li .edit")
            fixing = page.is_visible("#editing")
            context.set_geolocation(POSITION)
            page.click("#locate")
            page.wait_for_function("document.getElementById('location-text').textContent.includes('35.176543')")
            page.click("#submit")

            # then it arrives, as the same report
            wait_states(page, waiting=0, sent=1)
            sent_uuid = page.get_attribute("#queue li", "data-uuid")
        finally:
            browser.close()

    assert errors == []
    assert fixing
    assert "网格" in why  # the server's own message (grid.services: outside every grid), in Chinese
    assert sent_uuid == client_uuid
    incident = Incident.objects.get()
    assert str(incident.client_uuid) == client_uuid
    assert incident.grid.code == "G-P-1"


def test_the_page_opens_offline_from_its_service_worker(live_server, settings, tmp_path):
    # Routed here as map_ui/urls.py is to route it: path("m/report/sw.js", …, name="phone-sw").
    settings.ROOT_URLCONF = __name__
    settings.TILE_URL = unreachable_tile_url()
    settings.MEDIA_ROOT = tmp_path
    worker = worker_territory()
    errors: list[str] = []
    sw_url = reverse("phone-sw")

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = phone_context(playwright, browser)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            log_in(page, live_server.url, worker.username)
            page.wait_for_function("navigator.serviceWorker.controller !== null")
            worker_script = page.evaluate("navigator.serviceWorker.controller.scriptURL")
            scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")

            # given a report filed offline
            context.set_offline(True)
            fill_report(page, "litter", "离线时重新打开页面")
            page.click("#submit")
            wait_states(page, waiting=1, sent=0)

            # when the page is opened again without a network
            response = page.reload()
            page.wait_for_selector("#category option[value=litter]", state="attached")
            wait_states(page, waiting=1, sent=0)
            from_worker = response.from_service_worker
            page.screenshot(path=str(ARTIFACTS / "phone-offline-reopened.png"), full_page=True)

            # then it still works, and sends the report when the network returns
            context.set_offline(False)
            wait_states(page, waiting=0, sent=1)
        finally:
            browser.close()

    assert errors == []
    assert worker_script == live_server.url + sw_url
    assert scope == live_server.url + PAGE
    assert from_worker
    assert Incident.objects.get().note == "离线时重新打开页面"


urlpatterns = [
    path("m/report/sw.js", PhoneServiceWorkerView.as_view(), name="phone-sw"),
    path("", include("project.urls")),
]
