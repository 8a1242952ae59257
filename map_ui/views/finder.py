"""The station finder for gig workers (/stations/): no login.

The page only draws: the stations come from /api/v1/stations/nearest/ and the party and community organizations
from /api/v1/layers/organizations/nearest/. This view hands the page its settings and the display names of the
codes those endpoints return, in the request's language.
"""

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from grid.models import Station
from layers.models import Organization

# The organizations a gig worker may walk into for help: the party organizations, and associations (社会组织).
FINDER_ORGANIZATION_KINDS = (
    Organization.Kind.PARTY_COMMITTEE,
    Organization.Kind.GENERAL_BRANCH,
    Organization.Kind.BRANCH,
    Organization.Kind.ASSOCIATION,
)
STATIONS_SHOWN = 10
ORGANIZATIONS_SHOWN = 5


class StationFinderView(TemplateView):
    template_name = "map_ui/station_finder.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["amenities"] = Station.Amenity.choices
        context["finder_config"] = {
            "tileUrl": settings.TILE_URL,
            "tileAttribution": settings.TILE_ATTRIBUTION,
            # "Open now" is judged in the display time zone, by the server's clock (a phone's may be off).
            "timeZone": settings.TIME_ZONE,
            "serverTime": timezone.now().isoformat(),
            "stationLimit": STATIONS_SHOWN,
            "organizationLimit": ORGANIZATIONS_SHOWN,
            "organizationKinds": [str(kind) for kind in FINDER_ORGANIZATION_KINDS],
            "api": {
                "stationsNearest": reverse("stations-nearest"),
                "organizationsNearest": reverse("organizations-nearest"),
            },
            "choices": {
                "stationKind": dict(Station.Kind.choices),
                "amenity": dict(Station.Amenity.choices),
                "organizationKind": dict(Organization.Kind.choices),
            },
        }
        return context
