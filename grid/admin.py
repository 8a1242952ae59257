"""The admin: every spatial model on a map widget that loads nothing from outside (grid/widgets.py).

Grids and stations are written through grid.services, as the API writes them, so the admin gets the
same validation (overlapping grids), the same lock and the same re-placement of incidents.
"""

import math
import uuid

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.gis.admin import GISModelAdmin
from django.contrib.gis.db.models import Extent
from django.db import connection
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from grid.models import AdminArea, Category, Grid, HandlingUnit, Incident, IncidentEvent, RoutingRule, Station, User
from grid.selectors import placement_of
from grid.services import grid_save, grids_delete, incident_report, station_save
from grid.widgets import GridlineMapWidget


def _territory_view() -> dict[str, float]:
    """Centre and zoom that show the whole territory: where an empty map widget opens."""
    top_level = AdminArea.objects.order_by("level").values_list("level", flat=True).first()
    if top_level is None:
        return {}
    # Only the top level: its few boundaries cover all the others, so ST_Extent reads little.
    extent = AdminArea.objects.filter(level=top_level).aggregate(extent=Extent("boundary"))["extent"]
    if extent is None:
        return {}
    min_lon, min_lat, max_lon, max_lat = extent
    span = max(max_lon - min_lon, (max_lat - min_lat) * 1.5, 1e-4)
    # Web-map zoom z shows 360° / 2**z of longitude per 256 px; the widget is about 600 px wide.
    zoom = max(3, min(16, math.floor(math.log2(360 / span)) + 1))
    return {"default_lon": (min_lon + max_lon) / 2, "default_lat": (min_lat + max_lat) / 2, "default_zoom": zoom}


class MapAdmin(GISModelAdmin):
    """GISModelAdmin with the vendored OpenLayers widget, opening on the territory."""

    gis_widget = GridlineMapWidget

    @property
    def gis_widget_kwargs(self) -> dict:
        return {"attrs": _territory_view()}


@admin.register(AdminArea)
class AdminAreaAdmin(MapAdmin):
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")
    autocomplete_fields = ("parent",)
    list_select_related = ("parent",)
    readonly_fields = ("created", "modified")

    def get_queryset(self, request):
        # The change list shows no boundary; a county's can be megabytes.
        return super().get_queryset(request).defer("boundary")


class GridAdminForm(forms.ModelForm):
    class Meta:
        model = Grid
        fields = ["code", "name", "community", "boundary", "households", "workers"]

    def clean(self):
        cleaned = super().clean()
        community = cleaned.get("community")
        # The admin validates a POST inside one transaction with save_model. Take grid_save's lock on the
        # community now, before Grid.clean() checks for overlaps in _post_clean(): a concurrent overlapping
        # grid then waits, and fails the check here, as a form error, instead of failing in save_model.
        if community is not None and connection.in_atomic_block:
            AdminArea.objects.select_for_update().filter(pk=community.pk).first()
        return cleaned


@admin.register(Grid)
class GridAdmin(MapAdmin):
    form = GridAdminForm
    list_display = ("code", "name", "community", "households")
    search_fields = ("code", "name", "community__name", "community__code")
    autocomplete_fields = ("community",)
    filter_horizontal = ("workers",)
    list_select_related = ("community",)
    readonly_fields = ("created", "modified")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("boundary")

    def save_model(self, request, obj, form, change):
        grid_save(grid=obj)

    def delete_model(self, request, obj):
        grids_delete(grids=Grid.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        grids_delete(grids=queryset)


class StationAdminForm(forms.ModelForm):
    amenities = forms.MultipleChoiceField(
        label=capfirst(Station._meta.get_field("amenities").verbose_name),
        choices=Station.Amenity.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Station
        fields = ["kind", "name", "address", "location", "amenities", "opening_hours", "phone", "organization_name"]


@admin.register(Station)
class StationAdmin(MapAdmin):
    form = StationAdminForm
    list_display = ("name", "kind", "grid", "address", "phone")
    list_filter = ("kind",)
    search_fields = ("name", "address", "organization_name")
    list_select_related = ("grid",)
    readonly_fields = ("grid", "created", "modified")

    def save_model(self, request, obj, form, change):
        station_save(station=obj)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "parent",
        "accept_minutes",
        "resolve_minutes",
        "escalate_after_minutes",
        "duplicate_radius_m",
        "active",
        "sort_order",
    )
    list_editable = (
        "accept_minutes",
        "resolve_minutes",
        "escalate_after_minutes",
        "duplicate_radius_m",
        "active",
        "sort_order",
    )
    list_filter = ("active",)
    search_fields = ("code", "name", "name_en")
    list_select_related = ("parent",)
    readonly_fields = ("created", "modified")


class IncidentAdminForm(forms.ModelForm):
    class Meta:
        model = Incident
        fields = ["client_uuid", "kind", "category", "location", "note", "reporter"]

    def clean_location(self):
        location = self.cleaned_data["location"]
        # The same rule as incident_report: every incident lies in a grid of the territory.
        if location is not None and placement_of(point=location).grid is None:
            raise forms.ValidationError(_("This point lies outside every grid of the territory."))
        return location


class IncidentEventInline(admin.TabularInline):
    model = IncidentEvent
    fields = ("at", "action", "from_status", "to_status", "actor", "note", "data")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("at", "id")

    def has_add_permission(self, request, obj=None):
        return False  # the timeline is written by the workflow, never by hand


@admin.register(Incident)
class IncidentAdmin(MapAdmin):
    form = IncidentAdminForm
    list_display = ("id", "category", "kind", "status", "assignee", "deadline", "grid", "created")
    list_filter = ("status", "kind", "warning", "category", "created")
    search_fields = ("note",)
    date_hierarchy = "created"
    autocomplete_fields = ("reporter",)
    list_select_related = ("category", "grid", "assignee")
    inlines = [IncidentEventInline]
    # Derived from the point, or moved by the workflow (transitions go through the API, which writes the timeline).
    readonly_fields = (
        "status",
        "grid",
        "community",
        "street",
        "county",
        "handling_area",
        "handling_unit",
        "assignee",
        "deadline",
        "warning",
        "escalations",
        "duplicate_of",
        "rating",
        "feedback",
        "created",
        "modified",
    )

    def get_changeform_initial_data(self, request):
        # A report from a phone brings its own client_uuid; one entered here gets a fresh one.
        initial = {"client_uuid": uuid.uuid4(), "reporter": request.user.pk}
        return {**initial, **super().get_changeform_initial_data(request)}

    def save_model(self, request, obj, form, change):
        if not change:  # a report entered here is a report like any other: deadline, timeline, routing
            incident, _created = incident_report(
                reporter=obj.reporter,
                location=obj.location,
                category=obj.category,
                client_uuid=obj.client_uuid,
                note=obj.note,
                kind=obj.kind,
            )
            obj.pk = incident.pk
            obj.refresh_from_db()
            return
        if "location" in form.changed_data:
            placement = placement_of(point=obj.location)
            obj.grid, obj.community, obj.street, obj.county = (
                placement.grid,
                placement.community,
                placement.street,
                placement.county,
            )
        super().save_model(request, obj, form, change)


@admin.register(HandlingUnit)
class HandlingUnitAdmin(admin.ModelAdmin):
    list_display = ("name", "area", "active")
    list_filter = ("active",)
    search_fields = ("name",)
    autocomplete_fields = ("area", "members")
    readonly_fields = ("created", "modified")


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("area", "category", "unit", "active")
    list_filter = ("active", "category")
    autocomplete_fields = ("area", "unit")
    list_select_related = ("area", "category", "unit")
    readonly_fields = ("created", "modified")


@admin.register(User)
class GridlineUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, (_("Access scope"), {"fields": ("role", "areas", "phone", "volunteer")}))
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        (_("Access scope"), {"fields": ("role", "areas", "phone", "volunteer")}),
    )
    list_display = (*UserAdmin.list_display, "role")
    list_filter = ("role", *UserAdmin.list_filter)
    search_fields = (*UserAdmin.search_fields, "phone")
    autocomplete_fields = ("areas",)
