"""The incident workflow as data: which action moves an incident from which statuses to which, and who may take it.

reported ─accept─► accepted ─dispatch/claim─► dispatched ─start─► in_progress ─resolve─► resolved ─close─► closed
  │  ▲                │  ▲                      │                                            │              │
  │  └──── reopened ◄─┼──┼──────────────────────┼──────────────reopen────────────────────────┴──────────────┘
  ├─reject─► rejected │  └─────────decline──────┘
  └─merge──► duplicate (linked to the original)
"""

from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser

from grid.models import Incident, Role, User

S = Incident.Status


class Capacity(StrEnum):
    """In what capacity an account acts on one incident."""

    HANDLER = "handler"  # a dispatcher or administrator whose scope holds it, or a member of its handling unit
    ASSIGNEE = "assignee"  # the worker or volunteer it is assigned to
    REPORTER = "reporter"  # who reported it
    VOLUNTEER = "volunteer"  # may claim service requests opened to volunteers


@dataclass(frozen=True)
class Move:
    sources: frozenset[str]
    target: str  # the status after the move (the same one for "open")
    capacities: frozenset[Capacity]
    requires: tuple[str, ...] = ()  # input fields the action cannot do without

    def applies_to(self, incident: Incident, action: str) -> bool:
        if incident.status not in self.sources:
            return False
        if action == "open":  # service requests only: 社区派单 → 党员接单
            return (
                incident.kind == Incident.Kind.REQUEST
                and not incident.open_to_volunteers
                and incident.assignee_id is None
            )
        if action == "claim":
            return incident.open_to_volunteers and incident.assignee_id is None
        return True


def _move(sources, target, capacities, requires=()) -> Move:
    return Move(frozenset(sources), target, frozenset(capacities), tuple(requires))


H, A, R, V = Capacity.HANDLER, Capacity.ASSIGNEE, Capacity.REPORTER, Capacity.VOLUNTEER
AWAITING = (S.REPORTED, S.REOPENED)

MOVES: dict[str, Move] = {
    "accept": _move(AWAITING, S.ACCEPTED, {H}),
    "reject": _move((*AWAITING, S.ACCEPTED), S.REJECTED, {H}, ["note"]),
    "merge": _move((*AWAITING, S.ACCEPTED), S.DUPLICATE, {H}, ["duplicate_of"]),
    "dispatch": _move((S.ACCEPTED,), S.DISPATCHED, {H}, ["assignee"]),
    "open": _move((S.ACCEPTED,), S.ACCEPTED, {H}),  # open to volunteers (社区派单 → 党员接单)
    "claim": _move((S.ACCEPTED,), S.DISPATCHED, {V}),
    "start": _move((S.DISPATCHED,), S.IN_PROGRESS, {A}),
    "decline": _move((S.DISPATCHED,), S.ACCEPTED, {A}, ["note"]),
    "resolve": _move((S.DISPATCHED, S.IN_PROGRESS), S.RESOLVED, {A, H}),
    "close": _move((S.RESOLVED,), S.CLOSED, {H, R}),
    "reopen": _move((S.RESOLVED, S.CLOSED), S.REOPENED, {H, R}, ["note"]),
}
ACTIONS = tuple(MOVES)

# Which deadline runs in which status: minutes to accept while awaiting acceptance, minutes to resolve while
# being handled, none once resolved or ended.
ACCEPT_PHASE = frozenset(AWAITING)
RESOLVE_PHASE = frozenset((S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS))


def capacities_of(user: User | AnonymousUser, incident: Incident, *, in_scope: bool) -> frozenset[Capacity]:
    """The capacities in which `user` may act on `incident`; `in_scope`: the incident is in incidents_for(user)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    found = set()
    if in_scope and (user.is_superuser or user.role in (Role.DISPATCHER, Role.ADMINISTRATOR)):
        found.add(H)
    elif incident.handling_unit_id is not None and user.handling_units.filter(pk=incident.handling_unit_id).exists():
        found.add(H)
    if incident.assignee_id == user.pk:
        found.add(A)
    if incident.reporter_id == user.pk:
        found.add(R)
    if user.volunteer or user.role == Role.GRID_WORKER:
        found.add(V)
    return frozenset(found)


def actions_allowed(incident: Incident, capacities: frozenset[Capacity]) -> list[str]:
    """The actions these capacities may take on the incident as it is now, in workflow order."""
    return [a for a, m in MOVES.items() if m.applies_to(incident, a) and m.capacities & capacities]
