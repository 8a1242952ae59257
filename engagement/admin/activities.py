"""The admin of party building: activities with their record's photos and videos, and the check-ins (read-only:
they are written by the check-in services, each once)."""

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin
from django.utils.translation import gettext_lazy as _

from engagement.models import Activity, ActivityMedia, CheckIn
from grid.selectors import grid_containing
from layers.admin import ReadOnlyMixin


class ActivityMediaInline(admin.TabularInline):
    model = ActivityMedia
    extra = 0
    fields = ["kind", "file", "content_type", "size", "uploaded_by", "created"]
    readonly_fields = fields
    can_delete = True

    def has_add_permission(self, request, obj=None):
        return False  # files come through the API, which checks their type and size


@admin.register(Activity)
class ActivityAdmin(GISModelAdmin):
    list_display = ["title", "kind", "branch", "starts_at", "ends_at", "status", "grid"]
    list_filter = ["kind", "status", "audience"]
    search_fields = ["title", "branch__name", "venue_name"]
    date_hierarchy = "starts_at"
    list_select_related = ["branch", "grid"]
    autocomplete_fields = ["branch", "invited_branches"]
    raw_id_fields = ["venue_station", "venue_place", "venue_organization", "meeting"]
    readonly_fields = ["grid", "created_by", "created", "modified"]
    inlines = [ActivityMediaInline]

    def save_model(self, request, obj: Activity, form, change):
        # grid's placement rule, as the API's writes apply it
        obj.grid = grid_containing(point=obj.location)
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyMixin, GISModelAdmin):
    list_display = ["at", "activity", "person", "method", "home_branch", "cross_branch_shown", "recorded_by"]
    list_filter = ["method"]
    search_fields = ["person__name", "activity__title"]
    date_hierarchy = "at"
    list_select_related = ["activity", "person", "home_branch", "recorded_by"]

    @admin.display(description=_("other branch"), boolean=True)
    def cross_branch_shown(self, checkin: CheckIn) -> bool:
        return checkin.cross_branch
