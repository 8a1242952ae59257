"""The activities pages in a real headless Chromium: a member near an activity finds it first on /m/activities/ and
checks in by position; its organizer writes the minutes, uploads a photo (a CSV is refused with the reason) and reads
the attendance list on /m/activities/<id>/."""

import datetime as dt
import io
import shutil
from urllib.parse import urlsplit

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from PIL import Image

from engagement.models import Activity, ActivityMedia, CheckIn
from grid.models import Role
from layers.models import Organization, Person, PersonCategory
from tests.factories import UserFactory
from tests.map_ui.browser import log_in, watch
from tests.map_ui.test_console_browser import off_the_loop
from tests.map_ui.test_map_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, unreachable_tile_url

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extras")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed"),
    pytest.mark.django_db(transaction=True),  # the live server's thread must see committed data
]
PHONE = {"viewport": {"width": 412, "height": 860}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def scene(territory, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.TILE_URL = unreachable_tile_url()
    grid = territory.grids["A-S"]
    branch = Organization.objects.create(code="BR-A", name="甲支部", kind="branch", grid=grid,
                                         geometry=Point(109.92, 35.17, srid=4326))  # fmt: skip
    member_user = UserFactory(username="member-a", role=Role.GIG_WORKER)
    member = Person.objects.create(name="党员甲", branch=branch, account=member_user, grid=grid,
                                   categories=[PersonCategory.PARTY_MEMBER])  # fmt: skip
    now = timezone.now()

    def activity(title, lon, lat):
        return Activity.objects.create(kind="theme_day", branch=branch, title=title, grid=grid,
                                       location=Point(lon, lat, srid=4326), starts_at=now - dt.timedelta(minutes=30),
                                       ends_at=now + dt.timedelta(hours=2))  # fmt: skip

    here = activity("这里的主题党日", 109.92, 35.17)
    farther = activity("远处的党课", 109.93, 35.18)
    organizer = UserFactory(username="disp-a", role=Role.DISPATCHER, areas=[territory.street_a])
    return {"here": here, "farther": farther, "member_user": member_user, "member": member, "organizer": organizer}


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def test_a_member_near_an_activity_sees_it_first_and_checks_in_by_position(live_server, scene):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            position = {"latitude": 35.1701, "longitude": 109.9201, "accuracy": 15}
            context = browser.new_context(**PHONE, locale="zh-CN", permissions=["geolocation"], geolocation=position)
            page = context.new_page()
            errors, foreign = watch(page, hosts=(urlsplit(live_server.url).netloc,))
            log_in(page, live_server.url, "member-a", next_path="/m/activities/")
            page.wait_for_selector("body[data-ready=true]", state="attached", timeout=15_000)
            listed = page.eval_on_selector_all("#activity-list li", "rows => rows.map(r => Number(r.dataset.id))")
            markers = page.locator("path.gl-activity").count()
            page.click(f"#activity-list li[data-id='{scene['here'].pk}'] button.check-in")
            page.wait_for_selector(f"#activity-list li[data-id='{scene['here'].pk}'] .act-result[data-status=sent]")
            page.screenshot(path=str(ARTIFACTS / "activities.png"))
            # the "of my branch" tab lists both, the one checked in to marked
            page.click("#tab-mine")
            page.wait_for_selector(f"#activity-list li[data-id='{scene['here'].pk}'][data-checked-in=true]")
        finally:
            browser.close()
    assert errors == []
    assert [f for f in foreign if "127.0.0.1" not in f] == []
    assert listed == [scene["here"].pk, scene["farther"].pk]  # nearest first
    assert markers == 2
    checkin = off_the_loop(lambda: CheckIn.objects.select_related("person").get())
    assert (checkin.activity_id, checkin.person_id, checkin.method) == (
        scene["here"].pk,
        scene["member"].pk,
        "geofence",
    )


def test_the_organizer_writes_the_record_and_reads_the_attendance(live_server, scene, tmp_path):
    here = scene["here"]
    CheckIn.objects.create(activity=here, person=scene["member"], home_branch=here.branch, method="code",
                           at=timezone.now(), client_uuid="00000000-0000-4000-8000-000000000001")  # fmt: skip
    photo, csv = tmp_path / "会场.jpg", tmp_path / "名单.csv"
    photo.write_bytes(jpeg())
    csv.write_text("name\n甲\n")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**PHONE, locale="zh-CN").new_page()
            errors, _ = watch(page, hosts=(urlsplit(live_server.url).netloc,))
            log_in(page, live_server.url, "disp-a", next_path=f"/m/activities/{here.pk}/")
            page.wait_for_selector("body[data-ready=true]", state="attached", timeout=15_000)
            attendance = page.eval_on_selector_all("#attendance-rows tr", "rows => rows.map(r => r.dataset.method)")
            code_link = page.get_attribute("#code-link", "href")
            page.fill("#minutes", "学习党章，讨论社区议题。")
            page.click("#minutes-form button[type=submit]")
            page.wait_for_selector("#minutes-message[data-kind=ok]")
            page.set_input_files("#media-file", str(photo))
            page.click("#media-form button[type=submit]")
            page.wait_for_selector("#media-list li[data-kind=photo]")
            page.set_input_files("#media-file", str(csv))
            page.click("#media-form button[type=submit]")
            page.wait_for_selector("#media-message[data-kind=error]")
            refusal = page.text_content("#media-message")
            thumbnail_loaded = page.eval_on_selector("#media-list li[data-kind=photo] img", "i => i.naturalWidth")
            page.screenshot(path=str(ARTIFACTS / "activity-record.png"))
        finally:
            browser.close()
    assert errors == []
    assert attendance == ["code"]
    assert code_link == f"/m/activities/{here.pk}/code/"
    assert "MP4" in refusal or "MP4" in refusal.upper()
    assert thumbnail_loaded == 64
    here.refresh_from_db()
    assert here.minutes == "学习党章，讨论社区议题。"
    assert off_the_loop(lambda: list(ActivityMedia.objects.values_list("kind", flat=True))) == ["photo"]
