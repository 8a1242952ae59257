"""The layer registry: each of the five layers (people, places, events, things, organizations) and each
sub-kind is declared once here. The GeoJSON endpoints, exports, statistics, tiles and the console legend
iterate it; adding a layer is one declaration.

A layer's `queryset(user)` is the only way to its rows: it applies the access scope and, for people,
the clearance rule (sensitive categories are invisible without it). Attribute values are read through
`attributes`, which masks personal fields (ID-card number and phone to their last four digits, the birth date to its
decade) for every account; full values leave only through audited paths.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser
from django.db.models import Model, Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from grid.access import grid_scope_q, incidents_for, may_see_sensitive
from grid.models import Incident, Station, User
from layers import crypto
from layers.models import SENSITIVE_CATEGORIES, Household, Organization, Person, PersonCategory, Place, Thing

GROUPS = {
    "people": _("people"),
    "places": _("places"),
    "events": _("events"),
    "things": _("things"),
    "organizations": _("organizations"),
}


class Sensitivity:
    PUBLIC = "public"  # anyone, anonymous included
    INTERNAL = "internal"  # signed-in accounts, within their scope
    PERSONAL = "personal"  # personal data: scope, masking, clearance, audit


@dataclass(frozen=True)
class Attribute:
    """One attribute of a layer's features: its name, title and how to read it from a row."""

    name: str
    title: str | Promise
    read: Callable[[Model], object]
    # personal values: `read` masks them for everyone; `reveal` gives them in full, where an account with clearance
    # asks through an audited path (an export)
    personal: bool = False
    reveal: Callable[[Model], object] | None = None


def _field(name: str, title: str | Promise, path: str | None = None) -> Attribute:
    parts = (path or name).split("__")

    def read(row: Model) -> object:
        value: object = row
        for part in parts:
            value = getattr(value, part, None) if value is not None else None
        return value

    return Attribute(name, title, read)


@dataclass(frozen=True)
class Layer:
    name: str
    group: str
    title: str | Promise
    model: type[Model]
    geometry_field: str
    base_queryset: Callable[[User | AnonymousUser], QuerySet]
    attributes: tuple[Attribute, ...]
    sensitivity: str = Sensitivity.INTERNAL
    style: dict = field(default_factory=dict)
    # filters the endpoints and exports accept, by name → ORM lookup on the model
    category_lookup: str | None = None  # ?category=
    kind_lookup: str | None = None  # ?kind=
    time_field: str | None = "created"  # ?from=&to=
    grid_field: str | None = "grid"  # ?area= (an AdminArea code or a grid code) goes through the grid
    related: tuple[str, ...] = ()  # select_related for the attributes

    def queryset(self, user: User | AnonymousUser) -> QuerySet:
        """The rows `user` may see: scope (and clearance, for people) applied, attributes' relations joined."""
        qs = self.base_queryset(user)
        return qs.select_related(*self.related) if self.related else qs

    def area_q(self, area_code: str) -> Q:
        """Rows in the administrative area or grid with this code."""
        if not self.grid_field:
            return Q(pk__in=[])
        g = self.grid_field
        return (
            Q(**{f"{g}__code": area_code})
            | Q(**{f"{g}__community__code": area_code})
            | Q(**{f"{g}__community__parent__code": area_code})
            | Q(**{f"{g}__community__parent__parent__code": area_code})
        )


def _scoped(model: type[Model], *, public: bool = False, extra: Q | None = None):
    def queryset(user: User | AnonymousUser) -> QuerySet:
        qs = model.objects.all()
        if extra is not None:
            qs = qs.filter(extra)
        return qs if public else qs.filter(grid_scope_q(user))

    return queryset


# Public names for layers declared outside this module (vision's cameras, from its AppConfig.ready()).
attribute = _field
scoped_queryset = _scoped


def _people(extra: Q | None = None):
    def queryset(user: User | AnonymousUser) -> QuerySet:
        qs = Person.objects.filter(grid_scope_q(user))
        if extra is not None:
            qs = qs.filter(extra)
        if not may_see_sensitive(user):
            qs = qs.exclude(categories__overlap=sorted(SENSITIVE_CATEGORIES))
        return qs

    return queryset


def _masked(name: str, title: str | Promise, encrypted: str, mask: Callable[[str], str]) -> Attribute:
    def read(row: Model) -> str:
        return mask(crypto.decrypt(getattr(row, encrypted)))

    def reveal(row: Model) -> str:
        return crypto.decrypt(getattr(row, encrypted))

    return Attribute(name, title, read, personal=True, reveal=reveal)


def _birth_date(name: str, title: str | Promise) -> Attribute:
    # the birth date would undo the ID-card number's mask: shown as its decade, in full only where revealed
    def read(row: Model) -> str:
        return crypto.mask_birth_date(getattr(row, name))

    def reveal(row: Model) -> str:
        value = getattr(row, name)
        return value.isoformat() if isinstance(value, dt.date) else ""

    return Attribute(name, title, read, personal=True, reveal=reveal)


_PERSON_ATTRIBUTES = (
    _field("id", "ID"),
    _field("name", pgettext_lazy("person", "name")),
    _field("gender", _("gender")),
    _birth_date("birth_date", _("birth date")),
    _masked("id_card", _("ID-card number"), "id_card_encrypted", crypto.mask_id_card),
    _masked("phone", _("phone"), "phone_encrypted", crypto.mask_phone),
    _field("categories", _("categories")),
    _field("grid", _("grid"), "grid__code"),
    _field("household", _("household"), "household__code"),
    _field("platform", _("platform")),
    _field("work_kind", _("work kind")),
    _field("employer", _("employer"), "employer__name"),
    _field("branch", _("party branch"), "branch__name"),
    _field("mobile_member", _("mobile party member")),
    _field("member_code", _("member code")),
)
_PERSON_RELATED = ("grid", "household", "employer", "branch")

LAYERS: dict[str, Layer] = {}


def register(layer: Layer) -> Layer:
    if layer.name in LAYERS:
        raise ValueError(f"layer {layer.name} is declared twice")
    if layer.group not in GROUPS:
        raise ValueError(f"layer {layer.name}: unknown group {layer.group}")
    LAYERS[layer.name] = layer
    return layer


register(
    Layer(
        name="people",
        group="people",
        title=_("people"),
        model=Person,
        geometry_field="location",
        base_queryset=_people(),
        attributes=_PERSON_ATTRIBUTES,
        sensitivity=Sensitivity.PERSONAL,
        style={"color": "#7b1fa2", "radius": 4},
        category_lookup="categories__contains",
        related=_PERSON_RELATED,
    )
)
register(
    Layer(
        name="gig_workers",
        group="people",
        title=_("gig workers"),
        model=Person,
        geometry_field="location",
        base_queryset=_people(Q(categories__contains=[PersonCategory.GIG_WORKER])),
        attributes=_PERSON_ATTRIBUTES,
        sensitivity=Sensitivity.PERSONAL,
        style={"color": "#ef6c00", "radius": 4},
        category_lookup="categories__contains",
        kind_lookup="work_kind",
        related=_PERSON_RELATED,
    )
)
register(
    Layer(
        name="party_members",
        group="people",
        title=_("party members"),
        model=Person,
        geometry_field="location",
        base_queryset=_people(Q(categories__contains=[PersonCategory.PARTY_MEMBER])),
        attributes=_PERSON_ATTRIBUTES,
        sensitivity=Sensitivity.PERSONAL,
        style={"color": "#c62828", "radius": 4},
        category_lookup="categories__contains",
        related=_PERSON_RELATED,
    )
)
register(
    Layer(
        name="households",
        group="people",
        title=pgettext_lazy("register", "households"),
        model=Household,
        geometry_field="location",
        base_queryset=_scoped(Household),
        sensitivity=Sensitivity.INTERNAL,
        style={"color": "#5e35b1", "radius": 3},
        attributes=(
            _field("id", "ID"),
            _field("code", _("household number")),
            _field("address", _("address")),
            _field("building", _("building")),
            _field("unit", _("unit")),
            _field("room", _("room")),
            _field("grid", _("grid"), "grid__code"),
        ),
        related=("grid",),
    )
)
register(
    Layer(
        name="places",
        group="places",
        title=_("places"),
        model=Place,
        geometry_field="location",
        base_queryset=_scoped(Place, public=True),
        sensitivity=Sensitivity.PUBLIC,
        style={"color": "#00897b", "radius": 4},
        attributes=(
            _field("id", "ID"),
            _field("code", _("code")),
            _field("name", _("name")),
            _field("kind", _("kind")),
            _field("address", _("address")),
            _field("phone", _("phone")),
            _field("grid", _("grid"), "grid__code"),
        ),
        kind_lookup="kind",
        related=("grid",),
    )
)
register(
    Layer(
        name="stations",
        group="places",
        title=_("stations"),
        model=Station,
        geometry_field="location",
        base_queryset=_scoped(Station, public=True),
        sensitivity=Sensitivity.PUBLIC,
        style={"color": "#1565c0", "radius": 6},
        attributes=(
            _field("id", "ID"),
            _field("name", _("name")),
            _field("kind", _("kind")),
            _field("address", _("address")),
            _field("phone", _("phone")),
            _field("amenities", _("amenities")),
            _field("organization_name", _("owning organization")),
            _field("grid", _("grid"), "grid__code"),
        ),
        kind_lookup="kind",
        category_lookup="amenities__contains",
        related=("grid",),
    )
)
register(
    Layer(
        name="incidents",
        group="events",
        title=_("incidents"),
        model=Incident,
        geometry_field="location",
        base_queryset=incidents_for,
        sensitivity=Sensitivity.INTERNAL,
        style={"color": "#d84315", "radius": 5},
        attributes=(
            _field("id", "ID"),
            _field("category", _("category"), "category__code"),
            _field("category_name", _("category name"), "category__name"),
            _field("status", _("status")),
            _field("note", _("note")),
            _field("created", _("created")),
            _field("grid", _("grid"), "grid__code"),
            _field("community", _("community"), "community__name"),
        ),
        category_lookup="category__code",
        related=("category", "grid", "community"),
    )
)
register(
    Layer(
        name="things",
        group="things",
        title=_("things"),
        model=Thing,
        geometry_field="location",
        base_queryset=_scoped(Thing, public=True),
        sensitivity=Sensitivity.PUBLIC,
        style={"color": "#6d4c41", "radius": 3},
        attributes=(
            _field("id", "ID"),
            _field("code", _("code")),
            _field("name", _("name")),
            _field("kind", _("kind")),
            _field("condition", _("condition")),
            _field("grid", _("grid"), "grid__code"),
        ),
        kind_lookup="kind",
        related=("grid",),
    )
)
register(
    Layer(
        name="organizations",
        group="organizations",
        title=_("organizations"),
        model=Organization,
        geometry_field="geometry",
        base_queryset=_scoped(Organization, public=True),
        sensitivity=Sensitivity.PUBLIC,
        style={"color": "#283593", "radius": 5},
        attributes=(
            _field("id", "ID"),
            _field("code", _("code")),
            _field("name", _("name")),
            _field("kind", _("kind")),
            _field("parent", _("parent"), "parent__code"),
            _field("address", _("address")),
            _field("phone", _("phone")),
            _field("grid", _("grid"), "grid__code"),
        ),
        kind_lookup="kind",
        related=("grid", "parent"),
    )
)
register(
    Layer(
        name="party_organizations",
        group="organizations",
        title=_("party organizations"),
        model=Organization,
        geometry_field="geometry",
        base_queryset=_scoped(Organization, public=True, extra=Q(kind__in=sorted(Organization.PARTY_KINDS))),
        sensitivity=Sensitivity.PUBLIC,
        style={"color": "#b71c1c", "radius": 5},
        attributes=(
            _field("id", "ID"),
            _field("code", _("code")),
            _field("name", _("name")),
            _field("kind", _("kind")),
            _field("parent", _("parent"), "parent__code"),
            _field("address", _("address")),
            _field("grid", _("grid"), "grid__code"),
        ),
        kind_lookup="kind",
        related=("grid", "parent"),
    )
)
