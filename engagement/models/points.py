"""The points ledger: append-only entries (a trigger refuses updates and deletes), and the rules that earn."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grid.models import User
from layers.models import Person

# The reasons of entries that no rule earns, with their display names (a rule's entry shows the rule's name).
CORRECTION, MALL_ORDER, MALL_REFUND = "correction", "mall_order", "mall_refund"
REASON_NAMES = {
    CORRECTION: _("correction"),
    MALL_ORDER: _("spent in the mall"),
    MALL_REFUND: _("mall order cancelled: points returned"),
}


class PointsRule(models.Model):
    """What an event earns, with caps per day and per month (0: none). Administrators edit these."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    amount = models.IntegerField(_("points"))
    daily_cap = models.PositiveIntegerField(_("cap per day"), default=0)
    monthly_cap = models.PositiveIntegerField(_("cap per month"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("points rule")
        verbose_name_plural = _("points rules")

    def __str__(self) -> str:
        return f"{self.name} ({self.amount:+d})"


class PointsEntry(models.Model):
    """One line of the ledger. Never edited: a correction is a new entry."""

    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="points_entries", verbose_name=_("person")
    )
    amount = models.IntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=40, db_index=True)
    rule = models.ForeignKey(
        PointsRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("rule")
    )
    # What earned or spent it, as "<app_label>.<model>:<pk>" (an activity, a report, an order, …).
    source = models.CharField(_("source"), max_length=80, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    created = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("entered by")
    )

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        indexes = [models.Index(fields=["person", "created"], name="engagement_points_person_time")]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="engagement_points_nonzero")]

    def __str__(self) -> str:
        return f"{self.person} {self.amount:+d} {self.reason}"
