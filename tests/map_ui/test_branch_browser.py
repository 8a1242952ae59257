"""A branch's page (/branches/<id>/) in a real headless Chromium: the public sees its counts, activities, notices
and its place on the map, but no names; its secretary sees the names, publishes a notice and sees the branch's
mobile members on the map."""

import datetime as dt
import shutil
from urllib.parse import urlsplit

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone

from engagement.models import Activity, BranchCadre, BranchNotice, MobileMemberRecord
from layers.models import Organization, Person, PersonCategory
from tests.factories import UserFactory
from tests.map_ui import browser as shared
from tests.map_ui.test_map_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, unreachable_tile_url

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),
]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
READ = """() => ({
    counts: Object.fromEntries([...document.querySelectorAll('#branch-counts [data-count]')]
        .map(d => [d.dataset.count, Number(d.querySelector('dd').textContent)])),
    upcoming: [...document.querySelectorAll('#branch-upcoming li.activity .title')].map(n => n.textContent),
    past: [...document.querySelectorAll('#branch-past li.activity .title')].map(n => n.textContent),
    notices: [...document.querySelectorAll('#branch-notices li.notice h3')].map(n => n.textContent),
    members: [...document.querySelectorAll('#branch-members li')].map(n => n.textContent),
    namesHidden: document.getElementById('branch-members').hidden,
    formHidden: document.getElementById('notice-form').hidden,
    markers: document.querySelectorAll('#branch-map .branch-marker').length,
    mobile: document.querySelectorAll('#branch-map .mobile-marker').length,
})"""


def branch_with_life():
    branch = Organization.objects.create(
        code="BR-P", name="东关社区党支部", kind=Organization.Kind.BRANCH, geometry=Point(109.92, 35.17, srid=4326)
    )
    secretary = Person.objects.create(
        name="张书记",
        branch=branch,
        account=UserFactory(username="secretary"),
        categories=[PersonCategory.PARTY_MEMBER],
    )
    BranchCadre.objects.create(branch=branch, person=secretary)
    away = Person.objects.create(name="刘流动", branch=branch, categories=[PersonCategory.PARTY_MEMBER])
    MobileMemberRecord.objects.create(
        person=away, location=Point(109.95, 35.2, srid=4326), since=timezone.localdate() - dt.timedelta(days=5)
    )
    now = timezone.now()
    for title, days in (("七一主题党日", 3), ("三月党课", -20)):
        Activity.objects.create(
            kind=Activity.Kind.THEME_DAY,
            branch=branch,
            title=title,
            location=branch.geometry,
            starts_at=now + dt.timedelta(days=days),
            ends_at=now + dt.timedelta(days=days, hours=2),
        )
    BranchNotice.objects.create(branch=branch, title="本月学习安排")
    return branch, secretary


def test_the_public_sees_counts_and_the_secretary_names_and_notices(live_server, settings):
    settings.TILE_URL = unreachable_tile_url()
    branch, secretary = branch_with_life()
    ARTIFACTS.mkdir(exist_ok=True)
    host = urlsplit(live_server.url).netloc
    url = f"{live_server.url}/branches/{branch.pk}/"

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**PHONE, locale="zh-CN").new_page()
            # the (unreachable) tile server is the only other host the page may ask
            errors, foreign = shared.watch(page, hosts=(host, urlsplit(settings.TILE_URL).netloc))
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]")
            public = page.evaluate(READ)
            public_text = page.text_content("main")

            shared.log_in(page, live_server.url, secretary.account.username, next_path=f"/branches/{branch.pk}/")
            page.wait_for_url(f"**/branches/{branch.pk}/")
            page.wait_for_selector("body[data-ready=true]")
            page.fill("#notice-title", "周五下午集中学习")
            page.fill("#notice-body", "地点：党群服务中心")
            page.click("#notice-submit")
            page.wait_for_function("document.querySelectorAll('#branch-notices li.notice').length === 2")
            inside = page.evaluate(READ)
            page.screenshot(path=str(ARTIFACTS / "branch-page.png"), full_page=True)
        finally:
            browser.close()

    assert errors == [] and foreign == []
    assert public["counts"] == {"members": 2, "cadres": 1, "mobile": 1, "activities": 2}
    assert public["upcoming"] == ["七一主题党日"] and public["past"] == ["三月党课"]
    assert public["notices"] == ["本月学习安排"] and public["markers"] == 1
    assert public["namesHidden"] and public["formHidden"] and public["mobile"] == 0
    assert "张书记" not in public_text and "刘流动" not in public_text
    assert not inside["namesHidden"] and sorted(m.split(" ")[0] for m in inside["members"]) == ["刘流动", "张书记"]
    assert inside["notices"] == ["周五下午集中学习", "本月学习安排"] and inside["mobile"] == 1
    assert BranchNotice.objects.filter(branch=branch, title="周五下午集中学习", author=secretary.account).exists()


def test_a_page_of_no_branch_is_404(client, db):
    assert client.get("/branches/2147483000/").status_code == 404
