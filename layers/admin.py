"""The register in the admin, on grid's map widget. Personal fields are shown masked and never as stored;
the audit log is read-only and scoped like the API's."""

from django import forms
from django.contrib import admin
from django.contrib.gis.geos import Point
from django.utils.translation import gettext_lazy as _

from grid.access import may_see_sensitive, scope_loaded
from grid.admin import MapAdmin
from grid.selectors import grid_containing
from layers import crypto
from layers.models import AuditEntry, ExportJob, Household, ImportJob, Organization, Person, Place, Thing
from layers.registry import LAYERS
from layers.selectors import audit_entries
from layers.services import person_save


class PlacedAdmin(MapAdmin):
    """Records whose grid follows from their point (as person_save derives a person's)."""

    readonly_fields = ("grid", "created", "modified")
    list_select_related = ("grid",)

    def save_model(self, request, obj, form, change):
        shape = getattr(obj, "location", None) if hasattr(obj, "location") else getattr(obj, "geometry", None)
        if shape is not None:
            # a compound or territory (an organization's polygon) is placed by a point inside it
            obj.grid = grid_containing(point=shape if isinstance(shape, Point) else shape.point_on_surface)
        super().save_model(request, obj, form, change)


@admin.register(Household)
class HouseholdAdmin(PlacedAdmin):
    list_display = ("code", "address", "building", "unit", "room", "grid")
    search_fields = ("code", "address")


@admin.register(Place)
class PlaceAdmin(PlacedAdmin):
    list_display = ("code", "name", "kind", "grid", "address")
    list_filter = ("kind",)
    search_fields = ("code", "name", "address")


@admin.register(Thing)
class ThingAdmin(PlacedAdmin):
    list_display = ("code", "name", "kind", "condition", "grid")
    list_filter = ("kind", "condition")
    search_fields = ("code", "name")


@admin.register(Organization)
class OrganizationAdmin(PlacedAdmin):
    list_display = ("code", "name", "kind", "parent", "grid")
    list_filter = ("kind",)
    search_fields = ("code", "name")
    autocomplete_fields = ("parent",)
    list_select_related = ("grid", "parent")


class PersonAdminForm(forms.ModelForm):
    """New values for the encrypted fields: written through person_save, never shown back."""

    new_id_card = forms.CharField(
        label=_("new ID-card number"),
        required=False,
        max_length=18,
        help_text=_("Leave empty to keep the stored number."),
    )
    new_phone = forms.CharField(
        label=_("new phone"), required=False, max_length=20, help_text=_("Leave empty to keep the stored phone.")
    )

    class Meta:
        model = Person
        fields = [
            "name",
            "gender",
            "birth_date",
            "household",
            "location",
            "categories",
            "account",
            "platform",
            "work_kind",
            "employer",
            "branch",
            "mobile_member",
        ]


# Lookups that would let an account without clearance test guesses of what the masks hide (?birth_date=…,
# ?id_card_hash=…): the change list accepts them only from accounts with clearance.
_REVEALING_LOOKUPS = ("birth_date", "id_card_encrypted", "id_card_hash", "phone_encrypted", "phone_hash")


@admin.register(Person)
class PersonAdmin(MapAdmin):
    """Without clearance the register reads as the API shows it: scoped, no sensitive categories, the ID-card
    number and phone as their last four digits, the birth date as its decade (neither shown nor editable), and
    no search by an exact ID-card number or phone (it would confirm a guess)."""

    form = PersonAdminForm
    list_display = ("name", "gender", "birth_decade", "masked_id_card", "masked_phone", "grid")
    list_filter = ("gender", "work_kind", "mobile_member")
    search_fields = ("name", "platform", "member_code")
    autocomplete_fields = ("household", "employer", "branch", "account")
    list_select_related = ("grid",)
    readonly_fields = ("masked_id_card", "masked_phone", "grid", "member_code", "created", "modified")
    # the encrypted columns and their hashes never reach a page
    exclude = ("id_card_encrypted", "id_card_hash", "phone_encrypted", "phone_hash")

    def get_queryset(self, request):
        # Staff without clearance see the register as the API shows it to them: scoped, no sensitive categories.
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(pk__in=LAYERS["people"].queryset(request.user).values("pk"))

    def get_list_display(self, request):
        if may_see_sensitive(request.user):
            return tuple("birth_date" if name == "birth_decade" else name for name in self.list_display)
        return self.list_display

    def get_exclude(self, request, obj=None):
        if may_see_sensitive(request.user):
            return self.exclude
        return (*self.exclude, "birth_date")

    def get_readonly_fields(self, request, obj=None):
        if may_see_sensitive(request.user):
            return self.readonly_fields
        return ("birth_decade", *self.readonly_fields)

    def lookup_allowed(self, lookup, value, request=None):
        if lookup.split("__")[0] in _REVEALING_LOOKUPS and not (request and may_see_sensitive(request.user)):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term and may_see_sensitive(request.user):
            # an exact ID-card number or phone is found through its keyed hash
            digest = crypto.search_hash(term)
            found = found | queryset.filter(id_card_hash=digest) | queryset.filter(phone_hash=digest)
        return found, may_have_duplicates

    @admin.display(description=_("birth date"))
    def birth_decade(self, obj: Person) -> str:
        return crypto.mask_birth_date(obj.birth_date)

    @admin.display(description=_("ID-card number"))
    def masked_id_card(self, obj: Person) -> str:
        return crypto.mask_id_card(crypto.decrypt(obj.id_card_encrypted))

    @admin.display(description=_("phone"))
    def masked_phone(self, obj: Person) -> str:
        return crypto.mask_phone(crypto.decrypt(obj.phone_encrypted))

    def save_model(self, request, obj, form, change):
        person_save(
            person=obj,
            id_card=form.cleaned_data.get("new_id_card") or None,
            phone=form.cleaned_data.get("new_phone") or None,
        )


class ReadOnlyMixin:
    """An admin that shows rows and never adds, changes or deletes one: logs, ledgers and what only services write."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "action", "target", "area", "reason")
    list_filter = ("action", "at")
    search_fields = ("target", "reason", "actor__username")
    date_hierarchy = "at"
    list_select_related = ("actor", "area")

    def get_queryset(self, request):
        # as the API reads it: auditors their areas' entries, superusers all, other staff none
        return audit_entries(user=scope_loaded(request.user))


class JobAdmin(ReadOnlyAdmin):
    """Jobs hold or point at files of plain personal data (an import's source, an unmasked export): the admin
    shows staff their own jobs only (superusers all) and never the files, which leave through the API's download,
    where scope and clearance are checked again."""

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(created_by=request.user)


@admin.register(ImportJob)
class ImportJobAdmin(JobAdmin):
    list_display = ("created", "layer", "original_name", "status", "progress", "created_count", "updated_count")
    list_filter = ("status", "layer")
    exclude = ("source",)


@admin.register(ExportJob)
class ExportJobAdmin(JobAdmin):
    list_display = ("created", "layer", "format", "status", "progress", "feature_count")
    list_filter = ("status", "layer", "format")
    exclude = ("file",)
