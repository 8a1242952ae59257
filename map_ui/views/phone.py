"""The grid worker's phone report page (/m/report/) and its service worker.

The page keeps every report in the browser (IndexedDB) until the batch API acknowledges it; it reads
and writes data only through the /api/v1/ endpoints.
"""

import hashlib
import json

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from grid.models import Incident
from grid.photos import PHOTO_MAX_BYTES, PHOTOS_MAX_PER_REPORT

# What the page needs to open offline: its stylesheet, Leaflet, and every ES module that phone_report.js imports
# (tests/map_ui/test_phone_assets.py follows the imports and checks this list).
SW_ASSETS = (
    "map_ui/common.js",
    "map_ui/phone_report.js",
    "map_ui/phone/context.js",
    "map_ui/phone/draft.js",
    "map_ui/phone/fields.js",
    "map_ui/phone/location.js",
    "map_ui/phone/mine.js",
    "map_ui/phone/queue.js",
    "map_ui/phone/sending.js",
    "map_ui/phone/store.js",
    "map_ui/phone_report.css",
    "map_ui/vendor/leaflet/leaflet.js",
    "map_ui/vendor/leaflet/leaflet.css",
)


def _service_worker_url() -> str | None:
    # Registered only once map_ui/urls.py routes it: until then the page works online-first without one.
    try:
        return reverse("phone-sw")
    except NoReverseMatch:
        return None


class PhoneReportView(LoginRequiredMixin, TemplateView):
    template_name = "map_ui/phone_report.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        page = reverse("phone-report")
        context["phone_config"] = {
            "username": user.get_username(),
            "loginUrl": f"{reverse('login')}?{REDIRECT_FIELD_NAME}={page}",
            "tileUrl": settings.TILE_URL,
            "tileAttribution": settings.TILE_ATTRIBUTION,
            "timeZone": settings.TIME_ZONE,
            "csrfCookie": settings.CSRF_COOKIE_NAME,  # read at each send: a new login rotates the token
            "serviceWorker": _service_worker_url(),
            "photosMax": PHOTOS_MAX_PER_REPORT,
            "photoMaxBytes": PHOTO_MAX_BYTES,  # larger photos are shrunk before they are queued
            "api": {
                "batch": reverse("incidents-batch"),
                "incidents": reverse("incidents"),
                "categories": reverse("incident-categories"),
            },
            "choices": {"incidentStatus": dict(Incident.Status.choices)},
        }
        return context


def _service_worker_source() -> str:
    path = finders.find("map_ui/phone_sw.js")
    if path is None:
        raise Http404
    with open(path, encoding="utf-8") as source:
        body = source.read()
    assets = [static(name) for name in SW_ASSETS]
    # The version changes with the worker and with the asset list: a new one replaces the old cache.
    version = hashlib.sha256((body + "|".join(assets)).encode()).hexdigest()[:12]
    prelude = f"const GL_VERSION = {json.dumps(version)};\nconst GL_ASSETS = {json.dumps(assets)};\n"
    return prelude + body


@method_decorator(never_cache, name="dispatch")  # browsers check a worker for updates; never serve a stale one
class PhoneServiceWorkerView(View):
    """The page's service worker, served under /m/report/ so that its scope covers the page."""

    def get(self, request):
        return HttpResponse(_service_worker_source(), content_type="text/javascript; charset=utf-8")
