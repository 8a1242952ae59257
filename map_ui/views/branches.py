"""Party building's pages: a branch's page (/branches/<id>/), public. The page draws from the branch APIs, which
decide what the caller may read (names of members and cadres only for those who know the branch)."""

from django.conf import settings
from django.http import Http404
from django.urls import path
from django.views.generic import TemplateView

from engagement.models import Activity, BranchCadre
from engagement.selectors.members import branch_get
from map_ui.views.me import engagement_api_urls


class BranchPageView(TemplateView):
    template_name = "map_ui/branch.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        branch = branch_get(pk=self.kwargs["pk"])
        if branch is None:
            raise Http404
        api = engagement_api_urls()
        context["branch"] = branch
        context["branch_config"] = {
            "branch": branch.pk,
            "name": branch.name,
            "csrfCookie": settings.CSRF_COOKIE_NAME,
            "tileUrl": settings.TILE_URL,
            "tileAttribution": settings.TILE_ATTRIBUTION,
            "timeZone": settings.TIME_ZONE,
            "signedIn": self.request.user.is_authenticated,
            "api": {
                key: api[key].replace("{pk}", str(branch.pk))
                for key in ("branch-detail", "branch-notices", "branch-mobile-members")
            },
            "noticeUrl": api["branch-notice"].replace("{pk}", str(branch.pk)),
            "choices": {"activityKind": dict(Activity.Kind.choices), "cadreTitle": dict(BranchCadre.Title.choices)},
        }
        return context


urlpatterns = [path("branches/<int:pk>/", BranchPageView.as_view(), name="branch-page")]
