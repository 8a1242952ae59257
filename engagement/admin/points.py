"""The admin of party building: points. Rules are data that administrators edit; the ledger is read-only (the
database refuses updates and deletes), and a mistake is undone by a correction, a new entry."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from engagement.models import PointsEntry, PointsRule
from engagement.selectors.points import reason_name
from engagement.services.points import InsufficientPoints, points_correct
from layers.admin import ReadOnlyMixin


@admin.register(PointsRule)
class PointsRuleAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "amount", "daily_cap", "monthly_cap", "active"]
    list_editable = ["amount", "daily_cap", "monthly_cap", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name"]

    def get_readonly_fields(self, request, obj=None):
        # services award by code: renaming one would silently stop its awards
        return ["code"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False  # entries refer to their rule; switch a rule off instead


@admin.register(PointsEntry)
class PointsEntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created", "person", "amount", "reason_shown", "source", "note", "created_by"]
    list_filter = ["reason"]
    search_fields = ["person__name", "person__member_code", "idempotency_key", "source"]
    date_hierarchy = "created"
    list_select_related = ["person", "rule", "created_by"]
    actions = ["reverse_entries"]

    @admin.display(description=_("reason"))
    def reason_shown(self, entry: PointsEntry) -> str:
        return reason_name(entry)

    @admin.action(description=_("Correct: reverse the selected entries (new entries, audited)"))
    def reverse_entries(self, request, queryset):
        done, refused = 0, []
        for entry in queryset.select_related("person__grid"):
            try:
                points_correct(
                    person=entry.person,
                    amount=-entry.amount,
                    note=_("reverses entry %(id)d") % {"id": entry.pk},
                    key=f"correction:reverse:{entry.pk}",
                    source=f"engagement.pointsentry:{entry.pk}",
                    by=request.user,
                )
                done += 1
            except InsufficientPoints as exc:
                refused.append(f"#{entry.pk} ({exc.balance} < {exc.needed})")
        if done:
            message = ngettext("%(count)d entry reversed.", "%(count)d entries reversed.", done) % {"count": done}
            self.message_user(request, message, messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                _("Not reversed, the balance would go below zero: %(entries)s") % {"entries": ", ".join(refused)},
                messages.ERROR,
            )
