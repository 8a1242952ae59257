from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AttendanceConfig(AppConfig):
    name = "vision.attendance"
    label = "attendance"
    verbose_name = _("duty attendance and meeting check-in")
