"""The "my community" section of /m/me/ in a real headless Chromium on a phone: a member finds the communities near
their position, registers with one, claims a volunteer task near them and marks it done, and sees the hours."""

import shutil
import uuid
from urllib.parse import urlsplit

import pytest
from django.contrib.gis.geos import Point
from pyproj import Geod

from engagement.models import CommunityRegistration, PointsEntry, ServiceHours, VolunteerTask
from grid.models import Role
from layers.models import Organization, Person, PersonCategory
from tests.engagement import test_community as community_fixtures
from tests.factories import UserFactory
from tests.map_ui import browser as shared
from tests.map_ui.test_map_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, unreachable_tile_url

# the fixtures of the community tests, shared
rules = community_fixtures.rules

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),  # the live server's thread must see committed data
]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
# In grid A-S of community A (tests/conftest.py's territory)
POSITION = {"longitude": 109.925, "latitude": 35.175, "accuracy": 10}
TASK_AT = (109.927, 35.176)


def test_a_member_registers_with_the_community_near_them_and_claims_a_task(live_server, settings, territory, rules):
    settings.TILE_URL = unreachable_tile_url()
    grid = territory.grids["A-S"]
    branch = Organization.objects.create(
        code="BR-COMM", name="甲社区党支部", kind=Organization.Kind.BRANCH, geometry=grid.boundary.centroid, grid=grid
    )
    account = UserFactory(username="member-community", role=Role.GIG_WORKER)
    person = Person.objects.create(
        name="赵小哥",
        grid=grid,
        branch=branch,
        account=account,
        categories=[PersonCategory.PARTY_MEMBER, PersonCategory.GIG_WORKER],
    )
    task = VolunteerTask.objects.create(
        branch=branch,
        kind=VolunteerTask.Kind.WISH,
        title="帮刘奶奶修收音机",
        wished_by="刘奶奶",
        location=Point(*TASK_AT, srid=4326),
        community=territory.community_a,
        client_uuid=uuid.uuid4(),
    )
    ARTIFACTS.mkdir(exist_ok=True)
    host = urlsplit(live_server.url).netloc

    # No ORM until the browser is closed: Playwright's sync API runs an event loop in this thread.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(**PHONE, locale="zh-CN", geolocation=POSITION, permissions=["geolocation"])
            page = context.new_page()
            errors, foreign = shared.watch(page, hosts=(host,))
            page.on("dialog", lambda dialog: dialog.accept())

            # given the member on /m/me/, at a position in community A
            shared.log_in(page, live_server.url, account.username, next_path="/m/me/")
            page.wait_for_url("**/m/me/")
            page.wait_for_selector("body[data-ready=true]")
            page.wait_for_selector("#community-pick option", state="attached")
            picked = page.eval_on_selector("#community-pick", "s => [...s.options].map(o => o.value)")
            page.wait_for_selector(f".volunteer-tasks .volunteer-task[data-task='{task.pk}'][data-distance]")
            distance = float(page.get_attribute(f".volunteer-task[data-task='{task.pk}']", "data-distance"))

            # when they register where they work, with the nearest community
            page.select_option("#community-basis", "work")
            page.fill("#community-note", "在这里送外卖")
            page.click(".register-form button[type=submit]")
            page.wait_for_selector(".registrations .registration[data-status=pending]")
            status_text = page.text_content(".registration .registration-status")

            # and claim the wish near them, then mark it done
            page.click(f".volunteer-tasks .volunteer-task[data-task='{task.pk}'] button.claim")
            page.wait_for_selector(f".my-tasks .volunteer-task[data-task='{task.pk}'] button.done")
            page.click(f".my-tasks .volunteer-task[data-task='{task.pk}'] button.done")
            page.wait_for_selector(".hours-total[data-total='1.0']")
            page.screenshot(path=str(ARTIFACTS / "me-community.png"), full_page=True)
        finally:
            browser.close()

    assert errors == [] and foreign == []
    # the community the point lies in comes first, then the next nearest
    assert picked == [territory.community_a.code, territory.community_b.code]
    _, _, metres = Geod(ellps="WGS84").inv(POSITION["longitude"], POSITION["latitude"], *TASK_AT)
    assert abs(distance - metres) < 1
    registration = CommunityRegistration.objects.get(person=person)
    assert (registration.community, registration.basis, registration.status) == (
        territory.community_a,
        "work",
        "pending",
    )
    assert registration.note == "在这里送外卖"
    assert status_text.strip()  # the status as the API names it in the page's language
    task.refresh_from_db()
    assert (task.status, task.claimed_by) == ("done", person)
    assert ServiceHours.objects.get(task=task).person == person
    assert set(PointsEntry.objects.filter(person=person).values_list("reason", flat=True)) == {
        "volunteer_hour",
        "wish_fulfilled",
    }
