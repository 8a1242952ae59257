"""Who may see and run what in party building. Every engagement queryset that reaches a user starts here,
from grid's scope (`grid/access.py`): an area's staff reach the branches placed in their grids; a member reaches
the home branch; a cadre runs the branches it holds a post in."""

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from grid.access import grids_for
from grid.models import Role, User
from layers.models import Organization, Person

# Staff who run the branches of their area (the auditor reads, and never writes).
RUNNING_ROLES = {Role.GRID_WORKER, Role.DISPATCHER, Role.ADMINISTRATOR}


def person_of(user: User | AnonymousUser) -> Person | None:
    """The register's entry linked to an account (the member, the gig worker), if any."""
    if not user.is_authenticated or not user.is_active:
        return None
    return Person.objects.filter(account_id=user.pk).first()


def branches() -> QuerySet[Organization]:
    return Organization.objects.filter(kind=Organization.Kind.BRANCH)


def branches_run_by(user: User | AnonymousUser) -> QuerySet[Organization]:
    """The branches whose activities, notices, records and tasks `user` may write: those it is a cadre of, and
    those placed in the grids of staff who run an area."""
    qs = branches()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_superuser:
        return qs
    q = Q(cadres__person__account_id=user.pk)
    if user.role in RUNNING_ROLES:
        q |= Q(grid__in=grids_for(user).values("pk"))
    return qs.filter(q).distinct()


def branches_known_to(user: User | AnonymousUser) -> QuerySet[Organization]:
    """The branches whose members' names `user` may read: its own branch, those it runs, and (read-only) those in
    an auditor's area. Everybody else sees counts only."""
    qs = branches()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_superuser:
        return qs
    q = Q(cadres__person__account_id=user.pk) | Q(members__account_id=user.pk)
    if user.role in RUNNING_ROLES or user.role == Role.AUDITOR:
        q |= Q(grid__in=grids_for(user).values("pk"))
    return qs.filter(q).distinct()


def may_run_branch(user: User | AnonymousUser, branch: Organization) -> bool:
    return branches_run_by(user).filter(pk=branch.pk).exists()
