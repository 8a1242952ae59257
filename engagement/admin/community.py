"""The admin of party building: community check-ins (read-only: they are decided through the API, whose services
give and take back the account's claim reach and award the points), volunteer tasks, and service hours."""

from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

from engagement.models import CommunityRegistration, ServiceHours, VolunteerTask


@admin.register(CommunityRegistration)
class CommunityRegistrationAdmin(GISModelAdmin):
    list_display = ["person", "community", "basis", "status", "created", "decided_by", "decided_at"]
    list_filter = ["status", "basis"]
    search_fields = ["person__name", "community__name", "community__code"]
    date_hierarchy = "created"
    list_select_related = ["person", "community", "decided_by"]
    readonly_fields = [
        "person",
        "community",
        "basis",
        "location",
        "note",
        "status",
        "decided_by",
        "decided_at",
        "answer",
        "client_uuid",
        "granted_area",
        "granted_volunteer",
        "created",
        "modified",
    ]

    def has_add_permission(self, request):
        return False  # a member registers from the phone; the service checks for a live one

    def has_change_permission(self, request, obj=None):
        return False  # accepting and declining change the account's reach: only through the services

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(VolunteerTask)
class VolunteerTaskAdmin(GISModelAdmin):
    list_display = ["title", "kind", "branch", "community", "status", "due", "hours", "claimed_by"]
    list_filter = ["kind", "status"]
    search_fields = ["title", "wished_by", "branch__name"]
    date_hierarchy = "created"
    list_select_related = ["branch", "community", "claimed_by"]
    raw_id_fields = ["branch", "community", "claimed_by"]
    readonly_fields = [
        "status",
        "claimed_by",
        "claimed_at",
        "done_at",
        "done_by",
        "cancelled_at",
        "created_by",
        "client_uuid",
        "created",
        "modified",
    ]

    def save_model(self, request, obj: VolunteerTask, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ServiceHours)
class ServiceHoursAdmin(admin.ModelAdmin):
    list_display = ["person", "hours", "served_on", "incident", "task", "activity", "recorded_by"]
    date_hierarchy = "served_on"
    search_fields = ["person__name"]
    list_select_related = ["person", "task", "recorded_by"]
    raw_id_fields = ["person", "incident", "task", "activity", "recorded_by"]
    readonly_fields = ["recorded_by", "created", "modified"]

    def has_change_permission(self, request, obj=None):
        return False  # the points of an entry's hours are in the ledger already: a correction is a points entry
