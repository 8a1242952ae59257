"""Party building's pages: the station mall (/m/mall/), the keeper's pickup check (/m/station/), and the settings
of the "my points" section of /m/me/.

The pages only draw: items, orders, balances and pickups come from /api/v1/engagement/points/ and .../mall/.
"""

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from engagement.access import stations_kept_by
from engagement.models import MallOrder

# How many of the nearest stations the mall shows.
MALL_STATIONS_SHOWN = 5


def points_section_config() -> dict:
    """The settings of the "my points" section of /m/me/ (map_ui/static/map_ui/engagement/me/points.js), merged
    into that page's config: the API it reads and its strings in the request's language."""
    return {
        "points_url": reverse("engagement:points-me"),
        "mall_url": reverse("mall"),
        "points_strings": {
            "title": _("My points"),
            "balance": _("Balance: %s points"),
            "month": _("Earned this month: %s"),
            "empty": _("No points yet: check in at activities, volunteer, report what needs fixing."),
            "more": _("Show more"),
            "failed": _("Your points could not be loaded."),
            "noMember": _("No member record is linked to this account."),
            "toMall": _("Spend them in the station mall"),
        },
    }


class MallPageView(LoginRequiredMixin, TemplateView):
    template_name = "map_ui/mall.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["mall_config"] = {
            "timeZone": settings.TIME_ZONE,
            "csrfCookie": settings.CSRF_COOKIE_NAME,
            "stations": MALL_STATIONS_SHOWN,
            "api": {
                "items": reverse("engagement:mall-items"),
                "orders": reverse("engagement:mall-orders"),
                "mine": reverse("engagement:mall-orders-mine"),
                # the order's id replaces the 0
                "cancel": reverse("engagement:mall-order-cancel", kwargs={"order_id": 0}),
                "points": reverse("engagement:points-me"),
            },
            "choices": {"orderStatus": dict(MallOrder.Status.choices)},
        }
        return context


class StationKeeperPageView(LoginRequiredMixin, TemplateView):
    template_name = "map_ui/station_keeper.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["stations_kept"] = list(
            stations_kept_by(self.request.user).order_by("name").values_list("name", flat=True)
        )
        context["keeper_config"] = {
            "timeZone": settings.TIME_ZONE,
            "csrfCookie": settings.CSRF_COOKIE_NAME,
            "api": {"pickups": reverse("engagement:mall-pickups")},
        }
        return context


urlpatterns = [
    path("m/mall/", MallPageView.as_view(), name="mall"),
    path("m/station/", StationKeeperPageView.as_view(), name="station-keeper"),
]
