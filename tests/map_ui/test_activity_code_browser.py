"""The organizer's screen of an activity in a real headless Chromium: it shows a 6-digit code that the check-in
API accepts from a member, and a QR code that OpenCV reads as the check-in address carrying that code."""

import datetime as dt
import shutil
import uuid

import cv2
import numpy as np
import pytest
import requests
from django.contrib.gis.geos import Point
from django.utils import timezone
from rest_framework.authtoken.models import Token

from engagement.models import Activity, BranchCadre, CheckIn, PointsRule
from grid.models import AdminArea, Role
from layers.models import Organization, Person, PersonCategory
from tests.factories import AreaFactory, GridFactory, UserFactory, box
from tests.map_ui.browser import log_in, watch
from tests.map_ui.test_map_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),  # the live server's thread must see committed data
]


def _scene():
    PointsRule.objects.get_or_create(
        code="activity_checkin", defaults={"name": "check-in at an activity", "amount": 2, "daily_cap": 10}
    )
    community = AreaFactory(
        code="610502001001",
        name="东关社区",
        level=AdminArea.Level.COMMUNITY,
        boundary=box(109.90, 35.15, 109.95, 35.20),
    )
    grid = GridFactory(code="G-C-1", community=community, boundary=community.boundary)
    venue = Point(109.92, 35.17, srid=4326)
    branch = Organization.objects.create(
        code="BR-C", name="东关社区党支部", kind=Organization.Kind.BRANCH, geometry=venue, grid=grid
    )
    secretary = UserFactory(username="secretary")
    BranchCadre.objects.create(
        branch=branch, person=Person.objects.create(name="书记", branch=branch, account=secretary, grid=grid)
    )
    member = UserFactory(username="member", role=Role.RESIDENT)
    Person.objects.create(
        name="党员甲", branch=branch, account=member, grid=grid, categories=[PersonCategory.PARTY_MEMBER]
    )
    now = timezone.now()
    activity = Activity.objects.create(
        kind=Activity.Kind.GENERAL_MEETING,
        branch=branch,
        title="支部党员大会",
        location=venue,
        grid=grid,
        starts_at=now - dt.timedelta(minutes=5),
        ends_at=now + dt.timedelta(hours=1),
    )
    return activity, secretary, Token.objects.create(user=member).key


def _decode_qr(png: bytes) -> str:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    text, _points, _straight = cv2.QRCodeDetector().detectAndDecode(image)
    return text


def test_the_organizers_screen_shows_a_code_the_api_accepts_and_a_qr_of_the_check_in_address(live_server):
    activity, secretary, member_token = _scene()
    page_path = f"/m/activities/{activity.pk}/code/"
    ARTIFACTS.mkdir(exist_ok=True)

    # No ORM until the browser is closed: Playwright's sync API runs an event loop in this thread.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(locale="zh-CN", viewport={"width": 1024, "height": 900}).new_page()
            errors, foreign = watch(page, hosts=(live_server.url.split("//", 1)[1],))
            log_in(page, live_server.url, secretary.username, next_path=page_path)
            page.wait_for_url(f"**{page_path}")
            page.wait_for_function("/^\\d{6}$/.test(document.getElementById('code-digits').textContent)")
            page.wait_for_function(
                "document.getElementById('code-qr').complete && !document.getElementById('code-qr').hidden"
            )
            code = page.text_content("#code-digits")
            shown_code = page.evaluate("document.body.dataset.code")
            qr_png = page.locator("#code-qr").screenshot()
            page.screenshot(path=str(ARTIFACTS / "activity-code.png"), full_page=True)
            countdown = page.text_content("#code-countdown")

            # a member types the code on the phone: the API takes it (within the step or the one after)
            answer = requests.post(
                f"{live_server.url}/api/v1/engagement/activities/{activity.pk}/checkins/",
                json={"client_uuid": str(uuid.uuid4()), "method": "code", "code": code},
                headers={"Authorization": f"Token {member_token}"},
                timeout=30,
            )
        finally:
            browser.close()

    assert errors == [] and foreign == []
    assert code == shown_code and countdown.strip()
    assert answer.status_code == 201, answer.text
    assert CheckIn.objects.get(activity=activity).method == "code"
    decoded = _decode_qr(qr_png)
    assert decoded == f"{live_server.url}/m/activities/?activity={activity.pk}&code={code}"
