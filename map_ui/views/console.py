"""The dispatcher's one-map console (/console/). The page only draws: its data comes from the /api/v1/ endpoints and
the vector tiles, whose addresses (and the display names of the codes they return) it hands to console.js."""

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.mixins import LoginRequiredMixin
from django.middleware.csrf import get_token
from django.urls import reverse
from django.views.generic import TemplateView

from grid.models import AdminArea, Incident


def _template(url_name: str, **placeholders: str) -> str:
    """A URL with `{name}` placeholders for console.js to fill: reversed with markers, then the markers replaced
    (reverse() would percent-encode the braces)."""
    url = reverse(url_name, kwargs={key: f"__{key}__" if key != "pk" else "987654321" for key in placeholders})
    for key, placeholder in placeholders.items():
        url = url.replace("987654321" if key == "pk" else f"__{key}__", placeholder)
    return url


class ConsoleView(LoginRequiredMixin, TemplateView):
    template_name = "map_ui/console.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        console = reverse("console")
        incident = _template("incident", pk="{id}")
        context["console_config"] = {
            "tileUrl": settings.TILE_URL,
            "tileAttribution": settings.TILE_ATTRIBUTION,
            "timeZone": settings.TIME_ZONE,
            "user": {"username": user.get_username(), "role": user.role},
            # Opened in a new tab when the session has expired: the console keeps what was typed meanwhile.
            "loginUrl": f"{reverse('login')}?{REDIRECT_FIELD_NAME}={console}",
            "csrfCookieName": settings.CSRF_COOKIE_NAME,
            "csrfToken": get_token(self.request),
            "api": {
                "layers": reverse("layers"),
                "layerFeatures": _template("layer-features", name="{name}"),
                "tiles": _template("tile", layer="{layer}", z="{z}", x="{x}", y="{y}"),
                "grids": reverse("grids"),
                "areas": reverse("areas"),
                "incidents": reverse("incidents"),
                "categories": reverse("incident-categories"),
                "incident": incident,
                "timeline": _template("incident-timeline", pk="{id}"),
                "transitions": _template("incident-transitions", pk="{id}"),
                "candidates": _template("incident-candidates", pk="{id}"),
            },
            # Display names of the codes the APIs return, in the request's language.
            "choices": {
                "incidentStatus": dict(Incident.Status.choices),
                "incidentKind": dict(Incident.Kind.choices),
                "openStatuses": [str(s) for s in Incident.OPEN_STATUSES],
                "areaLevel": {str(value): label for value, label in AdminArea.Level.choices},
            },
        }
        return context
