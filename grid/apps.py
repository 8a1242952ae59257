from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GridConfig(AppConfig):
    name = "grid"
    verbose_name = _("territory, stations and incidents")

    def ready(self) -> None:
        # Registers the webhook settings check, and the webhook tasks with Celery (autodiscovery
        # imports only grid.tasks).
        from grid import webhooks  # noqa: F401
