"""Party building's pages: /m/me/, a member's or gig worker's own page: my code, my points, my activities, my
community. Each section is its own ES module (map_ui/static/map_ui/engagement/me/*.js) that draws from the APIs."""

import re

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.mixins import LoginRequiredMixin
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.views.generic import TemplateView

from engagement.access import person_of
from engagement.api import urls as engagement_urls
from map_ui.views.activities import activities_section_config
from map_ui.views.mall import points_section_config

ENGAGEMENT_API_ROOT = "/api/v1/engagement/"


def engagement_api_urls() -> dict[str, str]:
    """Every engagement endpoint by its URL name, a path with `{name}` where the route takes a parameter: each
    section of the page finds its own there, whichever part of the API declares it."""
    root = ENGAGEMENT_API_ROOT
    urls = {}
    for pattern in engagement_urls.urlpatterns:
        if isinstance(pattern, URLPattern) and pattern.name:
            urls[pattern.name] = root + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
    return urls


def community_section_config() -> dict:
    """The settings of the "my community" section (map_ui/static/map_ui/engagement/me/community.js): its endpoints
    and its strings in the request's language."""
    api = engagement_api_urls()
    names = {
        "registrations": "community-registrations",
        "mine": "community-registrations-mine",
        "withdraw": "community-registration-withdraw",
        "nearest": "community-nearest",
        "tasks": "volunteer-tasks",
        "claim": "volunteer-task-claim",
        "done": "volunteer-task-done",
        "hours": "service-hours-mine",
    }
    strings = {
        "registrations": gettext("My community check-ins"),
        "noRegistrations": gettext("You have not registered with a community yet."),
        "withdraw": gettext("Withdraw"),
        "withdrawConfirm": gettext("Withdraw this registration?"),
        "answer": gettext("Answer: %s"),
        "registerHeading": gettext("Check in with a community"),
        "community": gettext("Community"),
        "live": gettext("where I live"),
        "work": gettext("where I work"),
        "basis": gettext("It is"),
        "note": gettext("Note (optional)"),
        "register": gettext("Register"),
        "locate": gettext("Find communities near me"),
        "locating": gettext("Finding your position…"),
        "noPosition": gettext("Your position is not available: enter the community code."),
        "code": gettext("Community code"),
        "registered": gettext("Registered: the community's dispatcher will answer."),
        "tasks": gettext("Volunteer tasks and small wishes near me"),
        "noTasks": gettext("No open tasks near you."),
        "claim": gettext("Claim"),
        "claimed": gettext("Claimed: it is yours to do."),
        "myTasks": gettext("Tasks I claimed"),
        "markDone": gettext("Mark done"),
        "done": gettext("Done: your hours are recorded."),
        "hours": gettext("My service hours"),
        "totalHours": gettext("%s hours in all"),
        "noHours": gettext("No service hours yet."),
        "task": gettext("Task: %s"),
        "request": gettext("Service request #%s"),
        "distance": gettext("%s m away"),
        "due": gettext("due %s"),
        "taskHours": gettext("%s h"),
        "wishedBy": gettext("wished by %s"),
        "failed": gettext("That did not work. Try again."),
        "noPerson": gettext("Link your account to the register to check in with a community."),
    }
    return {
        "community_urls": {key: api[name] for key, name in names.items()},
        "community_strings": strings,
    }


class MyPageView(LoginRequiredMixin, TemplateView):
    template_name = "map_ui/me.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        person = person_of(user)
        branch = person.branch if person is not None else None
        page = reverse("me")
        context["person"] = person
        context["me_config"] = {
            "username": user.get_username(),
            "loginUrl": f"{reverse('login')}?{REDIRECT_FIELD_NAME}={page}",
            "csrfCookie": settings.CSRF_COOKIE_NAME,
            "tileUrl": settings.TILE_URL,
            "tileAttribution": settings.TILE_ATTRIBUTION,
            "timeZone": settings.TIME_ZONE,
            "person": None
            if person is None
            else {
                "id": person.pk,
                "name": person.name,
                "memberCode": person.member_code,
                "categories": list(person.categories),
            },
            "branch": None
            if branch is None
            else {"id": branch.pk, "name": branch.name, "page": reverse("branch-page", args=[branch.pk])},
            "api": engagement_api_urls(),
            **points_section_config(),  # points_url, points_strings, mall_url for me/points.js
            **activities_section_config(),  # activities_url, activities_page, activities_strings for me/activities.js
            **community_section_config(),  # community_urls, community_strings for me/community.js
        }
        return context


urlpatterns = [path("m/me/", MyPageView.as_view(), name="me")]
