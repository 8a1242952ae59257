"""The append-only audit log: every unmasked read of a sensitive field and every export."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        UNMASKED_READ = "unmasked_read", _("unmasked read")
        EXPORT = "export", _("export")
        IMPORT = "import", _("import")
        # written by party building (engagement), which stands on layers and shares its one audit log
        ORGANIZER_CHECKIN = "organizer_checkin", _("check-in by an organizer")
        POINTS_CORRECTION = "points_correction", _("points correction")

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("who")
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    target = models.CharField(_("what"), max_length=200, help_text=_("e.g. layers.person:42 id_card, or a layer"))
    reason = models.CharField(_("why"), max_length=300, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    # The narrowest area the entry is about (a person's community; an export's or import's area): auditors read
    # the entries of their own areas. None: about no one area (a superuser's whole-country export), for superusers.
    area = models.ForeignKey(
        "grid.AdminArea",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("area"),
    )

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"
