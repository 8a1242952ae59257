"""The station mall and the keeper's pickup check in a real headless Chromium on a phone-sized screen: a member
orders an item at the nearest station, the pickup QR code on the page decodes (OpenCV) to the pickup code shown
under it, and the keeper confirms the typed code on /m/station/; the same code again is refused, naming it."""

import shutil

import cv2
import numpy as np
import pytest
from django.contrib.gis.geos import Point

from engagement.models import MallItem, MallOrder, StationKeeper
from engagement.services.points import points_balance, points_credit
from grid.models import AdminArea, Role
from layers.models import Person, PersonCategory
from tests.factories import AreaFactory, GridFactory, StationFactory, UserFactory, box
from tests.map_ui import browser as shared
from tests.map_ui.test_map_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),  # the live server's thread must see committed data
]

POSITION = {"longitude": 109.9300, "latitude": 35.1900, "accuracy": 10}


def mall_world():
    community = AreaFactory(
        code="610502001001",
        name="东关社区",
        level=AdminArea.Level.COMMUNITY,
        boundary=box(109.90, 35.15, 109.95, 35.20),
    )
    grid = GridFactory(code="G-M-1", community=community, boundary=box(109.90, 35.15, 109.95, 35.20))
    near = StationFactory(name="东关小哥驿站", location=Point(109.931, 35.19, srid=4326), grid=grid)
    far = StationFactory(name="远处驿站", location=Point(109.99, 35.19, srid=4326), grid=grid)
    item = MallItem.objects.create(name="保温杯", description="500 ml", price=20, stock=3, station=near)
    MallItem.objects.create(name="雨衣", price=40, stock=1, station=far)
    member = UserFactory(username="gig-member", role=Role.GIG_WORKER)
    person = Person.objects.create(
        name="张小哥",
        grid=grid,
        location=Point(109.93, 35.19, srid=4326),
        account=member,
        categories=[PersonCategory.GIG_WORKER, PersonCategory.PARTY_MEMBER],
    )
    points_credit(person=person, amount=50, reason="correction", source="test", key="browser:seed")
    keeper = UserFactory(username="station-keeper", role=Role.RESIDENT)
    StationKeeper.objects.create(station=near, account=keeper)
    return member, keeper, person, item


def phone_context(playwright, browser):
    device = {k: v for k, v in playwright.devices["Pixel 7"].items() if k != "default_browser_type"}
    return browser.new_context(**device, locale="zh-CN", geolocation=POSITION, permissions=["geolocation"])


def decode_qr(png: bytes) -> str:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return text


def test_order_in_the_mall_show_the_pickup_qr_and_confirm_it_at_the_station(live_server):
    member, keeper, person, item = mall_world()
    ARTIFACTS.mkdir(exist_ok=True)
    host = live_server.url.split("//", 1)[1]

    # No ORM until the browser is closed: Playwright's sync API runs an event loop in this thread.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = phone_context(playwright, browser)
            page = context.new_page()
            errors, foreign = shared.watch(page, hosts=(host,))
            page.on("dialog", lambda dialog: dialog.accept())

            # given a member on the mall page, located next to the near station
            shared.log_in(page, live_server.url, member.username, next_path="/m/mall/")
            page.wait_for_url("**/m/mall/")
            page.wait_for_selector(f"#items li[data-item='{item.pk}'] button.order:not([disabled])")
            page.wait_for_selector("#balance[data-balance='50']")
            stations = page.locator("#items section.station h3").all_text_contents()
            assert stations[0].startswith("东关小哥驿站")

            # when it orders the item
            page.click(f"#items li[data-item='{item.pk}'] button.order")

            # then its balance drops, and the order waits with a QR code that reads as the code beside it
            page.wait_for_selector("#balance[data-balance='30']")
            qr = page.wait_for_selector("#orders li[data-status='ordered'] img.pickup-qr")
            page.wait_for_function("document.querySelector('#orders img.pickup-qr').naturalWidth > 0")
            code = page.text_content("#orders li[data-status='ordered'] .pickup-code").strip()
            assert decode_qr(qr.screenshot()) == code
            assert page.text_content(f"#items li[data-item='{item.pk}']").find("2") >= 0  # two left
            page.screenshot(path=str(ARTIFACTS / "mall.png"), full_page=True)

            # and "my points" on /m/me/ tells the same balance, the order's spend newest first
            page.goto(f"{live_server.url}/m/me/")
            page.wait_for_selector("#me-points .points-balance[data-balance='30']")
            assert page.locator("#me-points .points-entry .points-minus").first.text_content().strip() == "-20"

            # the keeper types the code on /m/station/ and confirms
            keeper_context = phone_context(playwright, browser)
            station = keeper_context.new_page()
            keeper_errors, _ = shared.watch(station, hosts=(host,))
            shared.log_in(station, live_server.url, keeper.username, next_path="/m/station/")
            station.wait_for_url("**/m/station/")
            assert "东关小哥驿站" in station.text_content("#stations-kept")
            station.fill("#pickup-code", code.lower())
            station.click("#confirm")
            station.wait_for_selector("#result:not(.error) .name")
            assert "保温杯" in station.text_content("#result") and "张**" in station.text_content("#result")
            station.screenshot(path=str(ARTIFACTS / "station-keeper.png"), full_page=True)

            # the same code a second time is refused, naming it
            station.fill("#pickup-code", code)
            station.click("#confirm")
            station.wait_for_selector("#result.error")
            assert code in station.text_content("#result")

            # the member's page shows the order picked up, without a QR code
            page.goto(f"{live_server.url}/m/mall/")
            page.wait_for_selector("#orders li[data-status='picked_up']")
            assert page.locator("#orders img.pickup-qr").count() == 0
        finally:
            browser.close()

    assert errors == [] and keeper_errors == []
    assert foreign == []
    order = MallOrder.objects.get()
    assert (order.status, order.pickup_code, order.picked_up_by) == (MallOrder.Status.PICKED_UP, code, keeper)
    assert points_balance(person=person) == 30
