"""/m/me/ in a real headless Chromium on a phone-sized screen: the QR code the page draws reads back, with OpenCV,
to a payload that verifies; re-issuing draws a new one and the old one stops verifying; the sections of other
parts load beside it without breaking the page."""

import shutil
from urllib.parse import urlsplit

import pytest
from django.contrib.gis.geos import Point

from engagement.services.members import CodeInvalid, personal_code_verify
from grid.models import Role
from layers.models import Organization, Person, PersonCategory
from tests.factories import UserFactory
from tests.map_ui import browser as shared
from tests.map_ui.test_map_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, unreachable_tile_url

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),  # the live server's thread must see committed data
]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def decode_qr(png: bytes) -> str:
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    text, points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert points is not None, "no QR code found on the page"
    return text


def shown_code(page) -> tuple[str, str]:
    """What the QR image on the page decodes to, and the payload the page says it shows."""
    page.wait_for_function(
        "() => { const i = document.querySelector('#me-code img.qr'); return i && i.complete && i.naturalWidth > 0; }"
    )
    png = page.locator("#me-code img.qr").screenshot()
    return decode_qr(png), page.get_attribute("#member-code", "data-payload")


def test_my_code_on_the_page_decodes_to_a_payload_that_verifies(live_server, settings):
    settings.TILE_URL = unreachable_tile_url()
    branch = Organization.objects.create(
        code="BR-ME", name="东关社区党支部", kind=Organization.Kind.BRANCH, geometry=Point(109.92, 35.17, srid=4326)
    )
    account = UserFactory(username="member-me", role=Role.GIG_WORKER)
    person = Person.objects.create(
        name="王小哥",
        branch=branch,
        account=account,
        categories=[PersonCategory.PARTY_MEMBER, PersonCategory.GIG_WORKER],
    )
    ARTIFACTS.mkdir(exist_ok=True)
    host = urlsplit(live_server.url).netloc

    # No ORM until the browser is closed: Playwright's sync API runs an event loop in this thread.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**PHONE, locale="zh-CN")
            page = context.new_page()
            errors, foreign = shared.watch(page, hosts=(host,))
            page.on("dialog", lambda dialog: dialog.accept())

            # given the member logged in on /m/me/
            shared.log_in(page, live_server.url, account.username, next_path="/m/me/")
            page.wait_for_url("**/m/me/")
            page.wait_for_selector("body[data-ready=true]")
            first_decoded, first_shown = shown_code(page)
            member_code = page.text_content("#member-code")
            states = page.eval_on_selector_all("section[data-section]", "s => s.map(x => x.dataset.state)")
            page.screenshot(path=str(ARTIFACTS / "me-code.png"), full_page=True)

            # when the code is re-issued
            page.click("#reissue-code")
            page.wait_for_function("document.getElementById('member-code').dataset.version === '2'")
            second_decoded, second_shown = shown_code(page)
        finally:
            browser.close()

    assert errors == [] and foreign == []
    # the code section drew; another part's section may fail on its own without taking the page down
    assert states[0] == "ready" and set(states) <= {"ready", "failed"} and len(states) == 4
    person.refresh_from_db()
    assert member_code == person.member_code == f"DY{person.pk:010d}"
    # the picture on the page is the code the page names, and the server recognises it
    assert first_decoded == first_shown and first_decoded.startswith(f"GL1.{person.member_code}.1.")
    assert second_decoded == second_shown and second_decoded.startswith(f"GL1.{person.member_code}.2.")
    assert personal_code_verify(payload=second_decoded) == person
    with pytest.raises(CodeInvalid, match="re-issued|已重新生成"):
        personal_code_verify(payload=first_decoded)


def test_the_page_asks_anonymous_visitors_to_log_in(client):
    answer = client.get("/m/me/")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")
