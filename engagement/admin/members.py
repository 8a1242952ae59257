"""The admin of party building: members and branches. Personal codes are read-only: a code is re-issued by its
holder (a new version), never edited, so the admin cannot make an old printed code valid again."""

from django.contrib import admin

from engagement.models import BranchCadre, BranchNotice, MobileMemberRecord, PersonalCode, StationKeeper
from grid.admin import MapAdmin


@admin.register(PersonalCode)
class PersonalCodeAdmin(admin.ModelAdmin):
    list_display = ["person", "version", "issued_at"]
    search_fields = ["person__name", "person__member_code"]
    readonly_fields = ["person", "version", "issued_at"]
    list_select_related = ["person"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(BranchCadre)
class BranchCadreAdmin(admin.ModelAdmin):
    list_display = ["person", "title", "branch"]
    list_filter = ["title"]
    search_fields = ["person__name", "branch__name", "branch__code"]
    autocomplete_fields = ["person", "branch"]
    list_select_related = ["person", "branch"]


@admin.register(BranchNotice)
class BranchNoticeAdmin(admin.ModelAdmin):
    list_display = ["title", "branch", "published_at", "author"]
    search_fields = ["title", "branch__name"]
    date_hierarchy = "published_at"
    autocomplete_fields = ["branch"]
    readonly_fields = ["author", "client_uuid", "created", "modified"]
    list_select_related = ["branch", "author"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.author = request.user
        super().save_model(request, obj, form, change)


@admin.register(MobileMemberRecord)
class MobileMemberRecordAdmin(MapAdmin):
    list_display = ["person", "community", "since", "until", "note"]
    list_filter = ["until"]
    search_fields = ["person__name", "person__member_code", "community__name"]
    autocomplete_fields = ["person"]
    raw_id_fields = ["community"]
    readonly_fields = ["client_uuid", "created", "modified"]
    list_select_related = ["person", "community"]


@admin.register(StationKeeper)
class StationKeeperAdmin(admin.ModelAdmin):
    list_display = ["account", "station"]
    search_fields = ["account__username", "station__name"]
    autocomplete_fields = ["account", "station"]
    list_select_related = ["account", "station"]
