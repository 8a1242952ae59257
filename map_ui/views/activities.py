"""Party building's pages: activities near me and of my branch (/m/activities/, with check-in), the organizer's
activity page with its record (/m/activities/<id>/) and the rotating code screen (/m/activities/<id>/code/).

Each page reads and writes only through the /api/v1/engagement/ endpoints; the view hands its script their
addresses, the display names of kinds and the strings in the request's language."""

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView

from engagement.access import person_of
from engagement.models import Activity
from engagement.selectors.activities import activities_run_by, activities_with_record_for
from grid.photos import PHOTO_MAX_BYTES
from map_ui.views.checkin_code import ActivityCodeView


def _common_config(request, page: str) -> dict:
    person = person_of(request.user)
    return {
        "username": request.user.get_username(),
        "loginUrl": f"{reverse('login')}?{REDIRECT_FIELD_NAME}={page}",
        "csrfCookie": settings.CSRF_COOKIE_NAME,
        "tileUrl": settings.TILE_URL,
        "tileAttribution": settings.TILE_ATTRIBUTION,
        "timeZone": settings.TIME_ZONE,
        "branch": person.branch_id if person is not None else None,
        "member": person is not None,
        "kinds": dict(Activity.Kind.choices),
        "api": {
            "activities": reverse("engagement:activities"),
            # checkin.js fills in {activity_id}
            "activity-checkins": reverse("engagement:activity-checkins", args=[0]).replace("/0/", "/{activity_id}/"),
        },
    }


def activities_section_config() -> dict:
    """The settings of the "my activities" section of /m/me/ (engagement/me/activities.js), merged into that page's
    config: the API it reads, the activities page and its strings in the request's language."""
    return {
        "activities_url": reverse("engagement:activities"),
        "activities_page": reverse("activities"),
        "activities_strings": {
            "upcoming": _("Upcoming"),
            "past": _("Past"),
            "checkedIn": _("Checked in"),
            "missed": _("Not checked in"),
            "none": _("No activities yet."),
            "failed": _("Your activities could not be loaded."),
            "noMember": _("No member record is linked to this account."),
            "all": _("All activities near me"),
        },
    }


class ActivitiesPageView(LoginRequiredMixin, TemplateView):
    """Activities near me (geolocation) and of my branch, on a map and as a list, each with a check-in button."""

    template_name = "map_ui/activities.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        config = _common_config(self.request, reverse("activities"))
        config["activityPage"] = reverse("activity-page", args=[0]).replace("/0/", "/{id}/")
        context["activities_config"] = config
        return context


class ActivityPageView(LoginRequiredMixin, TemplateView):
    """One activity and its record, for those who may read the record; its runners write minutes and upload photos
    and videos, and open the rotating code screen. For anybody else the activity is as one that does not exist."""

    template_name = "map_ui/activity.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user, pk = self.request.user, self.kwargs["pk"]
        activity = activities_with_record_for(user).filter(pk=pk).first()
        if activity is None:
            raise Http404
        may_run = activities_run_by(user).filter(pk=pk).exists()
        base = reverse("engagement:activity", args=[activity.pk])
        config = _common_config(self.request, reverse("activity-page", args=[activity.pk]))
        config.update(
            {
                "activityId": activity.pk,
                "mayRun": may_run,
                "codePage": reverse("activity-code-page", args=[activity.pk]) if may_run else None,
                "photoMaxBytes": PHOTO_MAX_BYTES,
                "videoMaxBytes": settings.ENGAGEMENT_VIDEO_MAX_BYTES,
            }
        )
        config["api"].update(
            {
                "activity": base,
                "record": base + "record/",
                "media": base + "media/",
                "attendance": base + "attendance/",
            }
        )
        context.update({"activity": activity, "may_run": may_run, "activity_config": config})
        return context


urlpatterns: list = [
    path("m/activities/", ActivitiesPageView.as_view(), name="activities"),
    path("m/activities/<int:pk>/", ActivityPageView.as_view(), name="activity-page"),
    path("m/activities/<int:pk>/code/", ActivityCodeView.as_view(), name="activity-code-page"),
]
