"""The organizer's screen of an activity (/m/activities/<id>/code/): the rotating 6-digit code and a QR code of the
check-in address carrying it, both renewed every 30 s from the code API. For those who run the activity's branch;
for anybody else the activity is as one that does not exist."""

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from engagement.selectors.activities import activities_run_by
from engagement.selectors.checkins import CODE_STEP_S


@method_decorator(never_cache, name="dispatch")
class ActivityCodeView(LoginRequiredMixin, TemplateView):
    template_name = "map_ui/activity_code.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        activity = activities_run_by(self.request.user).filter(pk=self.kwargs["pk"]).first()
        if activity is None:
            raise Http404
        context["activity"] = activity
        context["code_config"] = {
            "activityId": activity.pk,
            "codeUrl": reverse("engagement:activity-code", args=[activity.pk]),
            "stepSeconds": CODE_STEP_S,
            "timeZone": settings.TIME_ZONE,
        }
        return context
