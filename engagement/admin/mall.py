"""The admin of party building: the station mall. Stock changes by an amount added under the item's lock, never
by writing a number over what concurrent orders took; orders are read-only, and may be cancelled (refunded)."""

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from engagement.models import MallItem, MallOrder
from engagement.services.mall import OrderConflict, mall_item_stock_add, mall_order_cancel
from layers.admin import ReadOnlyMixin


class MallItemAdminForm(forms.ModelForm):
    stock_added = forms.IntegerField(
        label=_("add to stock"),
        required=False,
        initial=0,
        help_text=_("items delivered to the station (negative: taken away); the stock never goes below zero"),
    )

    class Meta:
        model = MallItem
        fields = ["name", "description", "picture", "price", "station", "active"]


@admin.register(MallItem)
class MallItemAdmin(admin.ModelAdmin):
    form = MallItemAdminForm
    list_display = ["name", "station", "price", "stock", "active"]
    list_filter = ["active", "station__kind"]
    search_fields = ["name", "station__name"]
    autocomplete_fields = ["station"]
    list_select_related = ["station"]
    readonly_fields = ["stock", "created", "modified"]

    def save_model(self, request, obj, form, change):
        if change:
            fields = [f for f in MallItemAdminForm.Meta.fields if f in form.changed_data] + ["modified"]
            obj.save(update_fields=fields)  # never the stock read when the form opened
        else:
            obj.stock = 0
            obj.save()
        added = form.cleaned_data.get("stock_added") or 0
        if added:
            obj.stock = mall_item_stock_add(item=obj, count=added).stock


@admin.register(MallOrder)
class MallOrderAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["ordered_at", "item", "person", "points", "status", "picked_up_at", "picked_up_by"]
    list_filter = ["status"]
    search_fields = ["pickup_code", "person__name", "item__name", "item__station__name"]
    date_hierarchy = "ordered_at"
    list_select_related = ["item__station", "person", "picked_up_by"]
    actions = ["cancel_orders"]

    @admin.action(description=_("Cancel the selected orders (points and stock return)"))
    def cancel_orders(self, request, queryset):
        done, refused = 0, []
        for order in queryset.filter(status=MallOrder.Status.ORDERED).select_related("person"):
            try:
                mall_order_cancel(order=order, by=request.user)
                done += 1
            except OrderConflict:
                refused.append(order.pickup_code)
        message = ngettext("%(count)d order cancelled.", "%(count)d orders cancelled.", done) % {"count": done}
        self.message_user(request, message, messages.SUCCESS if done else messages.WARNING)
        if refused:
            self.message_user(request, _("Picked up meanwhile: %(codes)s") % {"codes": ", ".join(refused)})
