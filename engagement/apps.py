from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EngagementConfig(AppConfig):
    name = "engagement"
    verbose_name = _("party building and participation")

    def ready(self) -> None:
        # The activities layer joins the layer registry from here: layers may not import engagement.
        from engagement import layer  # noqa: F401

        # vision may not import engagement: a face check-in at a meeting linked to an activity reaches it by a hook
        from engagement.tasks import face_checkins_enqueue
        from vision.attendance.hooks import on_meeting_checkins

        on_meeting_checkins(face_checkins_enqueue)
