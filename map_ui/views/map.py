"""The dispatcher's one map. The page only draws: its data comes from the /api/v1/ endpoints."""

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.urls import reverse
from django.views.generic import TemplateView

from grid.models import AdminArea, Incident, Station


class MapView(TemplateView):
    template_name = "map_ui/map.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["login_url"] = login_url = f"{reverse('login')}?{REDIRECT_FIELD_NAME}={reverse('map')}"
        context["map_config"] = {
            "tileUrl": settings.TILE_URL,
            "tileAttribution": settings.TILE_ATTRIBUTION,
            "timeZone": settings.TIME_ZONE,
            "authenticated": user.is_authenticated,
            "loginUrl": login_url,
            "api": {
                "grids": reverse("grids"),
                "areas": reverse("areas"),
                "stationsNearest": reverse("stations-nearest"),
                "incidents": reverse("incidents"),
            },
            # Display names of the codes the APIs return, in the request's language.
            "choices": {
                "stationKind": dict(Station.Kind.choices),
                "amenity": dict(Station.Amenity.choices),
                "incidentStatus": dict(Incident.Status.choices),
                "areaLevel": {str(value): label for value, label in AdminArea.Level.choices},
            },
        }
        return context
