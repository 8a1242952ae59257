from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LayersConfig(AppConfig):
    name = "layers"
    verbose_name = _("resource library")

    def ready(self) -> None:
        # Tile caches are invalidated when features of a cached layer change: the hooks must exist in every
        # process that writes (web, Celery workers, management commands), not only in those that serve tiles.
        from layers import tiles  # noqa: F401
