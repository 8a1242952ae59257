"""The admin of cameras, their rules, observations (read-only) and kept frames.

A camera is saved through vision.services.camera_save: its line, zone, schedule and source are validated
(Camera.clean, with messages on the field at fault) and its grid is derived from its point, never typed in.
"""

from django import forms
from django.contrib import admin
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from grid.admin import MapAdmin
from vision.models import Camera, Frame, Observation, Rule
from vision.services import camera_place
from vision.sources import source_display


class CameraAdminForm(forms.ModelForm):
    analyses = forms.MultipleChoiceField(
        label=capfirst(Camera._meta.get_field("analyses").verbose_name),
        choices=Camera.Analysis.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Camera
        fields = [
            "code",
            "name",
            "location",
            "station",
            "place",
            "source_kind",
            "source",
            "analyses",
            "classes",
            "line",
            "zone",
            "interval_seconds",
            "schedule",
            "enabled",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A stored source is never shown back in full: its credentials and secret parameters appear as ***, and
        # that masked value, sent back unchanged, keeps the stored one.
        self._stored_source = self.instance.source if self.instance.pk else None
        if self._stored_source:
            self.initial["source"] = source_display(self._stored_source)
            self.fields["source"].help_text = _(
                "rtsp://… or http(s)://… URL, or a path in the replay folder. Credentials are shown as ***: leave "
                "the source as it is to keep them, or type it again in full to change it."
            )

    def clean_source(self) -> str:
        source = self.cleaned_data.get("source", "")
        if self._stored_source and source == source_display(self._stored_source):
            return self._stored_source
        return source


class RuleInline(admin.TabularInline):
    model = Rule
    extra = 0
    fields = ("name", "kind", "object_class", "threshold", "minutes", "in_zone", "category", "enabled")
    show_change_link = True


@admin.register(Camera)
class CameraAdmin(MapAdmin):
    form = CameraAdminForm
    list_display = ("code", "name", "grid", "source_kind", "enabled", "latest_summary", "latest_observed_at", "health")
    list_filter = ("enabled", "source_kind")
    search_fields = ("code", "name")
    list_select_related = ("grid",)
    raw_id_fields = ("station", "place")
    readonly_fields = (
        "grid",
        "latest_counts",
        "latest_observed_at",
        "last_frame_at",
        "last_error",
        "last_error_at",
        "failures",
        "next_attempt_at",
        "created",
        "modified",
    )
    inlines = [RuleInline]

    @admin.display(description=_("health"))
    def health(self, camera: Camera) -> str:
        return {"ok": _("ok"), "failing": _("failing"), "unknown": _("unknown")}[camera.health]

    def save_model(self, request, obj, form, change):
        # the form has run Camera.clean (full_clean) already; the grid follows the point
        camera_place(camera=obj)
        obj.save()


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ("name", "camera", "kind", "object_class", "threshold", "minutes", "enabled", "last_fired_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "camera__code", "camera__name")
    list_select_related = ("camera",)
    raw_id_fields = ("camera",)
    readonly_fields = ("condition_since", "incident", "last_fired_at", "created", "modified")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Observation)
class ObservationAdmin(ReadOnlyAdmin):
    list_display = ("camera", "at", "counts", "zone_counts", "line_in", "line_out", "backend")
    list_filter = ("backend",)
    search_fields = ("camera__code",)
    list_select_related = ("camera",)
    date_hierarchy = "at"


@admin.register(Frame)
class FrameAdmin(ReadOnlyAdmin):
    list_display = ("camera", "at", "purpose", "preview")
    list_filter = ("purpose",)
    search_fields = ("camera__code",)
    list_select_related = ("camera",)
    date_hierarchy = "at"
    readonly_fields = ("camera", "at", "purpose", "image", "preview")

    @admin.display(description=_("image"))
    def preview(self, frame: Frame) -> str:
        return format_html('<a href="{0}"><img src="{0}" style="max-height: 80px"></a>', frame.image.url)

    def delete_model(self, request, obj):
        obj.image.delete(save=False)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for frame in queryset:
            frame.image.delete(save=False)
        super().delete_queryset(request, queryset)
