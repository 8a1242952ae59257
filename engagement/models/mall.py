"""The station mall (积分商城): items offered at stations for points, orders with pickup codes."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grid.models import Station, TimeStampedModel, User
from layers.models import Person


class MallItem(TimeStampedModel):
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    picture = models.ImageField(_("picture"), upload_to="mall/", blank=True)
    price = models.PositiveIntegerField(_("price (points)"))
    stock = models.PositiveIntegerField(_("stock"), default=0)
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="mall_items", verbose_name=_("station"))
    active = models.BooleanField(_("on offer"), default=True)

    class Meta:
        ordering = ["station", "price", "name"]
        verbose_name = _("mall item")
        verbose_name_plural = _("mall items")
        constraints = [models.CheckConstraint(condition=Q(price__gt=0), name="engagement_item_price_positive")]

    def __str__(self) -> str:
        return f"{self.name} ({self.price})"


class MallOrder(TimeStampedModel):
    class Status(models.TextChoices):
        ORDERED = "ordered", _("waiting for pickup")
        PICKED_UP = "picked_up", _("picked up")
        CANCELLED = "cancelled", _("cancelled")

    item = models.ForeignKey(MallItem, on_delete=models.PROTECT, related_name="orders", verbose_name=_("item"))
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="mall_orders", verbose_name=_("person"))
    points = models.PositiveIntegerField(_("points paid"))
    pickup_code = models.CharField(_("pickup code"), max_length=16, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ORDERED)
    client_uuid = models.UUIDField(_("client id"), unique=True)
    picked_up_at = models.DateTimeField(_("picked up"), null=True, blank=True)
    picked_up_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("confirmed by")
    )
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    ordered_at = models.DateTimeField(_("ordered"), default=timezone.now)

    class Meta:
        ordering = ["-ordered_at", "-id"]
        verbose_name = _("mall order")
        verbose_name_plural = _("mall orders")

    def __str__(self) -> str:
        return f"{self.item} → {self.person} ({self.get_status_display()})"
