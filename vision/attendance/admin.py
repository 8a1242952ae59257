"""The admin of duty schedules, duty days, meetings and face enrolments.

Enrolments are made through the API (photos, consent, face found): the admin lists them, lets an administrator
deactivate or delete one (withdrawn consent), and never shows or edits a template.
"""

from django.contrib import admin

from layers.selectors import people_for
from vision.attendance.models import DutyAttendance, DutySchedule, FaceEnrolment, Meeting, MeetingCheckin


class PeopleVisibleMixin:
    """Staff see the rows of the people the people layer shows them: in their scope, and people of sensitive
    categories only with clearance (the register's admin reads the same way)."""

    person_path = "person"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(**{f"{self.person_path}__in": people_for(request.user).values("pk")})


@admin.register(FaceEnrolment)
class FaceEnrolmentAdmin(PeopleVisibleMixin, admin.ModelAdmin):
    list_display = ["person", "method", "photos", "consent_at", "consent_recorded_by", "active", "created"]
    list_filter = ["method", "active"]
    search_fields = ["person__name"]
    fields = ["person", "method", "consent", "consent_at", "consent_recorded_by", "photos", "created", "active"]
    readonly_fields = ["person", "method", "consent", "consent_at", "consent_recorded_by", "photos", "created"]
    list_select_related = ["person", "consent_recorded_by"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(DutySchedule)
class DutyScheduleAdmin(PeopleVisibleMixin, admin.ModelAdmin):
    list_display = ["person", "camera", "village", "start", "end", "no_show_after_minutes", "responsible", "active"]
    list_filter = ["active", "camera"]
    search_fields = ["person__name", "camera__code", "camera__name"]
    autocomplete_fields = ["person", "village"]
    raw_id_fields = ["camera", "responsible"]
    list_select_related = ["person", "camera", "village", "responsible"]


@admin.register(DutyAttendance)
class DutyAttendanceAdmin(PeopleVisibleMixin, admin.ModelAdmin):
    person_path = "schedule__person"
    list_display = ["schedule", "date", "status", "arrived_at", "left_at", "no_show_notified_at"]
    list_filter = ["status", "date"]
    date_hierarchy = "date"
    search_fields = ["schedule__person__name"]
    readonly_fields = ["schedule", "date", "arrived_at", "left_at", "no_show_notified_at"]
    list_select_related = ["schedule__person", "schedule__camera"]


class MeetingCheckinInline(PeopleVisibleMixin, admin.TabularInline):
    model = MeetingCheckin
    extra = 0
    readonly_fields = ["person", "at"]
    can_delete = False


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    list_display = ["title", "camera", "organization", "starts_at", "ends_at"]
    search_fields = ["title"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["members", "organization"]
    raw_id_fields = ["camera", "frames"]
    inlines = [MeetingCheckinInline]
    list_select_related = ["camera", "organization"]
