"""Where grid workers are and whether they are on duty, as their phones last said."""

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from grid.models.territory import User


class WorkerStatus(models.Model):
    """A worker's latest position and duty status (one row per account; the phone overwrites it)."""

    user = models.OneToOneField(
        User, primary_key=True, on_delete=models.CASCADE, related_name="worker_status", verbose_name=_("account")
    )
    on_duty = models.BooleanField(_("on duty"), default=False, db_index=True)
    # geography: candidates are ranked by true distance in metres.
    location = models.PointField(_("position"), srid=4326, geography=True, null=True, blank=True)
    accuracy_m = models.FloatField(_("accuracy (m)"), null=True, blank=True)
    position_at = models.DateTimeField(_("position time"), null=True, blank=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("worker status")
        verbose_name_plural = _("worker statuses")

    def __str__(self) -> str:
        return f"{self.user} ({'on duty' if self.on_duty else 'off duty'})"
