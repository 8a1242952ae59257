from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VisionConfig(AppConfig):
    name = "vision"
    verbose_name = _("cameras and video analytics")

    def ready(self) -> None:
        # The camera layer joins the layer registry from here: layers may not import vision
        # (vision stands on layers, not the other way round).
        from vision import layer  # noqa: F401
