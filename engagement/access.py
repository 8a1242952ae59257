"""Who may see and run what in party building. Every engagement queryset that reaches a user starts here,
from grid's scope (`grid/access.py`): an area's staff reach the branches placed in their grids; a member reaches
the home branch; a cadre runs the branches it holds a post in."""

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from engagement.models import BranchCadre, StationKeeper
from grid.access import grids_for
from grid.models import AdminArea, Grid, Role, Station, User
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


def may_verify_codes(user: User | AnonymousUser) -> bool:
    """Who may read whom a personal code names: station keepers, branch cadres and staff who run an area. Not
    scoped to an area: members check in and gig workers pick up wherever they are."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.role in RUNNING_ROLES:
        return True
    return (
        StationKeeper.objects.filter(account_id=user.pk).exists()
        or BranchCadre.objects.filter(person__account_id=user.pk).exists()
    )


def may_see_community_names(user: User | AnonymousUser, community: AdminArea) -> bool:
    """The community's staff read its people's names: those who run or audit a grid of it."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if user.role not in RUNNING_ROLES and user.role != Role.AUDITOR:
        return False
    return grids_for(user).filter(community=community).exists()


def people_points_correctable_by(user: User | AnonymousUser) -> QuerySet[Person]:
    """Whose points `user` may correct: administrators, the people placed in their areas' grids."""
    if not user.is_authenticated or not user.is_active:
        return Person.objects.none()
    if user.is_superuser:
        return Person.objects.all()
    if user.role != Role.ADMINISTRATOR:
        return Person.objects.none()
    return Person.objects.filter(grid__in=grids_for(user).values("pk"))


def stations_kept_by(user: User | AnonymousUser) -> QuerySet[Station]:
    """The stations whose mall pickups `user` confirms: those it keeps (engagement.StationKeeper)."""
    if not user.is_authenticated or not user.is_active:
        return Station.objects.none()
    return Station.objects.filter(keepers__account_id=user.pk)


# Who decides a community's check-ins (进社区报到): the dispatchers and administrators whose areas hold it.
DECIDING_ROLES = {Role.DISPATCHER, Role.ADMINISTRATOR}


def communities_served_by(user: User | AnonymousUser) -> QuerySet[AdminArea]:
    """The communities whose check-ins `user` reads (staff of its grids: grid workers, dispatchers, administrators,
    auditors) and, with `may_decide_registrations`, decides."""
    qs = AdminArea.objects.filter(level=AdminArea.Level.COMMUNITY)
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_superuser:
        return qs
    return qs.filter(pk__in=grids_for(user).values("community_id"))


def may_decide_registrations(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.is_superuser or user.role in DECIDING_ROLES))


def volunteer_tasks_q(user: User | AnonymousUser, person: Person | None) -> Q:
    """The volunteer tasks and small wishes `user` may see: those of the branches it runs, those it claimed, and those
    of its own branch, of the communities it checked in with (accepted) and of the community it lives in."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.is_superuser:
        return Q()
    q = Q(branch__in=branches_run_by(user).values("pk"))
    if person is not None:
        reach = Q(community__in=person.community_registrations.filter(status="accepted").values("community_id"))
        if person.branch_id is not None:
            reach |= Q(branch_id=person.branch_id)
        if person.grid_id is not None:
            reach |= Q(community_id__in=Grid.objects.filter(pk=person.grid_id).values("community_id"))
        q |= Q(claimed_by=person) | reach
    return q
