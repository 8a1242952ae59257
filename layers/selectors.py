"""Reads of the layer registry: which layers an account may open, their rows under the common filters,
counts, figures for dashboards, and the audit log. Everything goes through `Layer.queryset(user)`."""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.geos import Polygon
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import connections
from django.db.models import Count, F, Field, IntegerField, Model, Q, QuerySet
from django.db.models.functions import Cast, ExtractYear
from django.utils import timezone

from grid.access import may_see_sensitive
from grid.models import AdminArea, Grid, Role, User
from layers.models import SENSITIVE_CATEGORIES, AuditEntry, Person, PersonCategory
from layers.registry import LAYERS, Layer, Sensitivity

# Roles whose scope covers records of the register (grid_scope_q gives them rows): only they open personal layers.
REGISTER_ROLES = frozenset({Role.GRID_WORKER, Role.DISPATCHER, Role.ADMINISTRATOR, Role.AUDITOR})


def layer_visible_to(*, layer: Layer, user: User | AnonymousUser) -> bool:
    """Whether `user` may open `layer` at all (its rows are still scoped by `layer.queryset`)."""
    if layer.sensitivity == Sensitivity.PUBLIC:
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    if layer.sensitivity == Sensitivity.PERSONAL:
        return bool(user.is_superuser or user.role in REGISTER_ROLES)
    return True


def may_read_audit_log(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.is_superuser or user.role == Role.AUDITOR))


@dataclass(frozen=True)
class LayerFilters:
    """The filters every layer endpoint and export accepts; `until` is exclusive."""

    bbox: Polygon | None = None
    area: str | None = None
    category: str | None = None
    kind: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True)
class FilterTarget:
    """Where a layer's `category_lookup` or `kind_lookup` leads: the model field, its path and the lookup."""

    lookup: str
    path: str  # the field path without the lookup (categories__contains → categories)
    field: Field
    relation: Field | None  # the last relation crossed (category__code → category), if any

    @property
    def is_array(self) -> bool:
        return isinstance(self.field, ArrayField)

    def q(self, value: str) -> Q:
        return Q(**{self.lookup: [value] if self.is_array else value})


def filter_target(model: type[Model], lookup: str | None) -> FilterTarget | None:
    if not lookup:
        return None
    parts, current, field, relation, used = lookup.split("__"), model, None, None, 0
    for part in parts:
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            break
        used += 1
        if field.is_relation and field.related_model is not None:
            relation, current = field, field.related_model
    if field is None:
        raise ValueError(f"{model.__name__}: {lookup} names no field")
    return FilterTarget(lookup=lookup, path="__".join(parts[:used]), field=field, relation=relation)


def _hidden_values(layer: Layer, target: FilterTarget, user: User | AnonymousUser) -> frozenset[str]:
    # Sensitive categories do not exist for accounts without clearance: not as rows, not as filter values.
    if layer.model is Person and target.path == "categories" and not may_see_sensitive(user):
        return frozenset(str(c) for c in SENSITIVE_CATEGORIES)
    return frozenset()


def filter_choices(*, layer: Layer, which: str, user: User | AnonymousUser) -> list[tuple[str, str]] | None:
    """The values `?category=` or `?kind=` accepts on `layer`, with titles; None where any value goes."""
    target = filter_target(layer.model, layer.category_lookup if which == "category" else layer.kind_lookup)
    if target is None:
        return None
    field = target.field.base_field if target.is_array else target.field
    if field.choices:
        hidden = _hidden_values(layer, target, user)
        return [(str(value), str(title)) for value, title in field.choices if str(value) not in hidden]
    if target.relation is not None and field.unique:
        # a slug of a small table (incident categories by code)
        related = field.model
        title = "name" if any(f.name == "name" for f in related._meta.get_fields()) else field.name
        return [(str(v), str(t)) for v, t in related.objects.values_list(field.name, title)[:1000]]
    return None


def filter_value_exists(*, layer: Layer, which: str, value: str, user: User | AnonymousUser) -> bool:
    """Whether `value` is a known `?category=`/`?kind=` of `layer` (any value is, where the model has no choices)."""
    target = filter_target(layer.model, layer.category_lookup if which == "category" else layer.kind_lookup)
    if target is None:
        return False
    field = target.field.base_field if target.is_array else target.field
    if field.choices:
        return value in {str(v) for v, _ in field.choices} - _hidden_values(layer, target, user)
    if target.relation is not None and field.unique:
        return field.model.objects.filter(**{field.name: value}).exists()
    return True


def area_code_exists(code: str) -> bool:
    return AdminArea.objects.filter(code=code).exists() or Grid.objects.filter(code=code).exists()


def layer_rows(*, layer: Layer, user: User | AnonymousUser, filters: LayerFilters | None = None) -> QuerySet:
    """The rows of `layer` that `user` may see, narrowed by `filters` (already validated)."""
    qs = layer.queryset(user)
    f = filters or LayerFilters()
    if f.bbox is not None:
        # intersects: points inside, and polygons (organizations) overlapping the box
        qs = qs.filter(**{f"{layer.geometry_field}__intersects": f.bbox})
    if f.area:
        qs = qs.filter(layer.area_q(f.area))
    if f.category:
        qs = qs.filter(filter_target(layer.model, layer.category_lookup).q(f.category))
    if f.kind:
        qs = qs.filter(filter_target(layer.model, layer.kind_lookup).q(f.kind))
    if layer.time_field and f.since is not None:
        qs = qs.filter(**{f"{layer.time_field}__gte": f.since})
    if layer.time_field and f.until is not None:
        qs = qs.filter(**{f"{layer.time_field}__lt": f.until})
    return qs


def layer_counts(*, layers: list[Layer], user: User | AnonymousUser, bbox: Polygon | None = None) -> dict[str, int]:
    """How many rows of each layer `user` may see (within `bbox`), in one statement for all layers."""
    selects: list[str] = []
    params: list[object] = []
    for layer in layers:
        qs = layer_rows(layer=layer, user=user, filters=LayerFilters(bbox=bbox)).order_by().values("pk")
        try:
            sql, qs_params = qs.query.sql_with_params()
        except EmptyResultSet:  # a scope that admits nothing compiles to no statement at all
            selects.append("0")
            continue
        selects.append(f"(SELECT count(*) FROM ({sql}) AS rows_{len(selects)})")
        params.extend(qs_params)
    if not selects:
        return {}
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects), params)
        row = cursor.fetchone()
    return {layer.name: int(n) for layer, n in zip(layers, row, strict=True)}


STATS_BY = ("category", "kind", "grid", "community")
UNPLACED = "unplaced"


def layer_stats(
    *, layer: Layer, user: User | AnonymousUser, by: str, filters: LayerFilters | None = None
) -> dict[str, object]:
    """Counts of `layer`'s visible rows grouped by category, kind, grid or community, computed in SQL.

    For an array of categories (people), a row counts once in each category it has, so the groups may
    add up to more than `total`.
    """
    qs = layer_rows(layer=layer, user=user, filters=filters).order_by()
    if by in ("category", "kind"):
        target = filter_target(layer.model, layer.category_lookup if by == "category" else layer.kind_lookup)
        choices = dict(filter_choices(layer=layer, which=by, user=user) or [])
        if target.is_array:
            values = list(choices)
            figures = qs.aggregate(
                total=Count("pk"), **{f"v{i}": Count("pk", filter=target.q(value)) for i, value in enumerate(values)}
            )
            total = figures.pop("total")
            groups = [(value, choices[value], figures[f"v{i}"]) for i, value in enumerate(values)]
        else:
            rows = qs.values(key=F(target.path)).annotate(n=Count("pk"))
            groups = [(row["key"] or "", choices.get(str(row["key"]), str(row["key"] or "")), row["n"]) for row in rows]
            total = sum(n for *_, n in groups)
    else:
        path = layer.grid_field if by == "grid" else f"{layer.grid_field}__community"
        rows = qs.values(key=F(f"{path}__code"), title=F(f"{path}__name")).annotate(n=Count("pk"))
        groups = [(row["key"] or UNPLACED, row["title"] or "", row["n"]) for row in rows]
        total = sum(n for *_, n in groups)
    groups = sorted((g for g in groups if g[2]), key=lambda g: (-g[2], str(g[0])))
    return {
        "layer": layer.name,
        "by": by,
        "total": total,
        "groups": [{"key": key, "title": title, "count": n} for key, title, n in groups],
    }


AGE_BANDS = ((None, 25, "<25"), (25, 35, "25-34"), (35, 45, "35-44"), (45, 55, "45-54"), (55, None, "55+"))
UNKNOWN = "unknown"


def _years_before(day: dt.date, years: int) -> dt.date:
    """The last birth date of someone who has turned `years` by `day` (a 29 February birthday falls on 1 March)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February, counted back into a common year
        return day.replace(year=day.year - years, day=28)


def _by_birth_decade(qs: QuerySet) -> dict[str, int]:
    """Counts by decade of birth ("1990-1999", as the people layer shows a birth date), oldest first."""
    decade = Cast(ExtractYear("birth_date"), IntegerField()) / 10 * 10  # integer division in SQL
    rows = qs.filter(birth_date__isnull=False).values(decade=decade).annotate(n=Count("pk")).order_by("decade")
    return {f"{row['decade']}-{row['decade'] + 9}": row["n"] for row in rows}


def gig_worker_profile(
    *, user: User | AnonymousUser, filters: LayerFilters | None = None, today: dt.date | None = None
) -> dict[str, object]:
    """Gig workers in `user`'s scope by platform, work kind and age band, and the party members among them.

    Accounts without clearance get birth decades instead of age bands: a count of one person (a small box, a
    narrow filter) by age on today's date would move on that person's birthday, and give away the birth date
    that the people layer hides; a decade is what the layer shows already.
    """
    layer = LAYERS["gig_workers"]
    qs = layer_rows(layer=layer, user=user, filters=filters).order_by()
    today = today or timezone.localdate()
    bands: dict[str, Q] = {}
    if may_see_sensitive(user):
        for low, high, label in AGE_BANDS:
            q = Q(birth_date__isnull=False)
            if low is not None:  # has turned `low`
                q &= Q(birth_date__lte=_years_before(today, low))
            if high is not None:  # has not yet turned `high`
                q &= Q(birth_date__gt=_years_before(today, high))
            bands[label] = q
    figures = qs.aggregate(
        total=Count("pk"),
        party_members=Count("pk", filter=Q(categories__contains=[PersonCategory.PARTY_MEMBER])),
        unknown_age=Count("pk", filter=Q(birth_date__isnull=True)),
        **{f"band{i}": Count("pk", filter=q) for i, q in enumerate(bands.values())},
    )
    by_platform = {
        row["platform"] or UNKNOWN: row["n"]
        for row in qs.values("platform").annotate(n=Count("pk")).order_by("-n", "platform")
    }
    by_work_kind = {
        row["work_kind"] or UNKNOWN: row["n"]
        for row in qs.values("work_kind").annotate(n=Count("pk")).order_by("-n", "work_kind")
    }
    if may_see_sensitive(user):
        by_age_band = {label: figures[f"band{i}"] for i, label in enumerate(bands)}
    else:
        by_age_band = _by_birth_decade(qs)
    by_age_band[UNKNOWN] = figures["unknown_age"]
    return {
        "by_platform": by_platform,
        "by_work_kind": by_work_kind,
        "by_age_band": by_age_band,
        "party_members": figures["party_members"],
        "total": figures["total"],
    }


def audit_entries(
    *,
    user: User | AnonymousUser,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> QuerySet[AuditEntry]:
    """The audit log as `user` may read it, newest first; `until` is exclusive.

    Superusers read every entry; an auditor the entries placed in their areas or below (an entry about a wider
    area, or about none, is not theirs); everybody else none."""
    qs = AuditEntry.objects.select_related("actor", "area")
    if not may_read_audit_log(user):
        return qs.none()
    if not user.is_superuser:
        ids = [a.pk for a in user.areas.all()]
        in_scope = Q(pk__in=[])
        path = "area"
        for _level in range(AdminArea.Level.PROVINCE, AdminArea.Level.COMMUNITY + 1):
            in_scope |= Q(**{f"{path}__in": ids})
            path += "__parent"
        qs = qs.filter(in_scope)
    if since is not None:
        qs = qs.filter(at__gte=since)
    if until is not None:
        qs = qs.filter(at__lt=until)
    if actor is not None:
        qs = qs.filter(actor__username=actor)
    if action:
        qs = qs.filter(action=action)
    return qs.order_by("-at", "-id")


def people_for(user: User | AnonymousUser) -> QuerySet[Person]:
    """The people of the register `user` may see: the people layer's scope and clearance rule (people of a
    sensitive category are invisible without clearance). For other apps that list people (attendance)."""
    return LAYERS["people"].queryset(user)
