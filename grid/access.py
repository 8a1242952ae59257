"""Who may see what. Every queryset of incidents that reaches a user starts here."""

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet, prefetch_related_objects

from grid.models import AdminArea, Grid, HandlingUnit, Incident, Role, User

# Roles whose scope is a set of administrative areas (and everything below them).
AREA_ROLES = {Role.DISPATCHER, Role.ADMINISTRATOR, Role.AUDITOR}


def _area_q(areas: list[AdminArea], *, prefix: str = "") -> Q:
    """Rows whose derived community/street/county (or grid's community) lies in one of `areas`."""
    q = Q(pk__in=[])
    for level, field in (
        (AdminArea.Level.COMMUNITY, "community"),
        (AdminArea.Level.STREET, "street"),
        (AdminArea.Level.COUNTY, "county"),
    ):
        ids = [a.pk for a in areas if a.level == level]
        if ids:
            q |= Q(**{f"{prefix}{field}_id__in": ids})
    # Provinces and cities: everything whose county lies under them.
    higher = [a.pk for a in areas if a.level < AdminArea.Level.COUNTY]
    if higher:
        q |= Q(**{f"{prefix}county__parent_id__in": higher}) | Q(**{f"{prefix}county__parent__parent_id__in": higher})
    return q


def scope_loaded(user: User | AnonymousUser) -> User | AnonymousUser:
    """The account with its areas loaded once: every scope question about it reads them, and would otherwise ask
    the database again each time."""
    if user.is_authenticated:
        prefetch_related_objects([user], "areas")
    return user


def incidents_for(user: User | AnonymousUser, queryset: QuerySet[Incident] | None = None) -> QuerySet[Incident]:
    """The incidents `user` may see: the one scoping function for incidents.

    Anonymous users see none; grid workers their grids' and their own reports; dispatchers,
    administrators and auditors their areas'; gig workers and residents only what they reported. Everybody
    also sees what is assigned to them (a claimed service request) and what their handling unit handles.
    """
    qs = Incident.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_superuser:
        return qs
    own = (
        Q(reporter_id=user.pk)
        | Q(assignee_id=user.pk)
        | Q(handling_unit_id__in=HandlingUnit.objects.filter(members=user).values("pk"))
    )
    if user.role == Role.GRID_WORKER:
        return qs.filter(own | Q(grid__in=user.grids.all()))
    if user.role in AREA_ROLES:
        return qs.filter(own | _area_q(list(user.areas.all())))
    return qs.filter(own)


def grid_scope_q(user: User | AnonymousUser, *, grid_field: str = "grid") -> Q:
    """Rows placed in a grid (through `grid_field`) that lie in the user's scope (see `grids_for`)."""
    if user.is_authenticated and user.is_active and user.is_superuser:
        return Q()
    return Q(**{f"{grid_field}__in": grids_for(user).values("pk")})


def may_see_sensitive(user: User | AnonymousUser) -> bool:
    """Sensitive categories and unmasked personal fields: accounts given clearance, and superusers."""
    return bool(user.is_authenticated and user.is_active and (user.is_superuser or user.sensitive_clearance))


def grids_for(user: User | AnonymousUser) -> QuerySet[Grid]:
    """The grids in the user's scope: the one rule for records of the register and other data kept per grid.

    Grid workers their grids; dispatchers, administrators and auditors the grids of their areas (at any
    level, community up to province); everybody else none.
    """
    if not user.is_authenticated or not user.is_active:
        return Grid.objects.none()
    if user.is_superuser:
        return Grid.objects.all()
    if user.role == Role.GRID_WORKER:
        return Grid.objects.filter(pk__in=user.grids.values("pk"))
    if user.role in AREA_ROLES:
        areas = list(user.areas.all())
        q = Q(pk__in=[])
        path = "community"
        for level in range(AdminArea.Level.COMMUNITY, AdminArea.Level.PROVINCE - 1, -1):
            ids = [a.pk for a in areas if a.level == level]
            if ids:
                q |= Q(**{f"{path}_id__in": ids})
            path += "__parent"
        return Grid.objects.filter(q)
    return Grid.objects.none()
