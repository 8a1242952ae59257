"""Writes of the incident workflow after intake: the transitions of grid.workflow.MOVES, and the reporter's
feedback. Each action's effect is one function of EFFECTS; the moves table decides when it may be taken."""

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grid.access import incidents_for
from grid.models import Incident, User
from grid.selectors.dispatch import incidents_in_reach, workers_assignable
from grid.services.incidents import event_record, phase_set, responsible_for
from grid.services.notifications import notify
from grid.services.photos import incident_photos_attach
from grid.workflow import MOVES, Capacity, actions_allowed, capacities_of

S = Incident.Status


class TransitionRefused(Exception):
    """The action cannot be taken on the incident as it is now (409): names what may be done instead."""

    def __init__(self, message: str, allowed: list[str]):
        super().__init__(message)
        self.message, self.allowed = message, allowed


class TransitionDenied(Exception):
    """The action applies, but not in any capacity the account holds (403)."""


@dataclass(frozen=True)
class TransitionInput:
    action: str
    note: str = ""
    assignee: User | None = None
    assignee_username: str = ""  # instead of `assignee`: looked up only among whom the actor may dispatch to
    duplicate_of: int | None = None
    version: int | None = None
    rating: int | None = None
    comment: str = ""


def _status_label(status: str) -> str:
    return str(S(status).label)


def _refuse(incident: Incident, action: str, capacities: frozenset[Capacity]) -> TransitionRefused:
    allowed = actions_allowed(incident, capacities)
    message = _("“%(action)s” is not possible while the incident is %(status)s. Allowed now: %(allowed)s.") % {
        "action": action,
        "status": _status_label(incident.status),
        "allowed": ", ".join(allowed) if allowed else _("none"),
    }
    return TransitionRefused(message, allowed)


def _assignee_for(*, incident: Incident, actor: User, move: TransitionInput) -> User:
    """The worker or volunteer to dispatch to, among those the actor may dispatch this incident to.

    A name nobody has, an inactive account and one outside the actor's reach all get the same message: the
    answer must not tell whether an account exists elsewhere."""
    if move.assignee is None and not move.assignee_username:
        raise ValidationError({"assignee": _("Name the worker to dispatch to.")})
    candidates = workers_assignable(incident=incident, user=actor)
    if move.assignee is not None:
        assignee = candidates.filter(pk=move.assignee.pk).first()
    else:
        assignee = candidates.filter(username=move.assignee_username).first()
    if assignee is None:
        raise ValidationError(
            {"assignee": _("No grid worker or volunteer of this name works in this incident's area or yours.")}
        )
    return assignee


@dataclass
class _Step:
    """One transition being taken: what its effect reads, and what the effect leaves for the timeline entry and the
    notices that follow it."""

    incident: Incident  # locked, its status already the move's target
    actor: User
    move: TransitionInput
    capacities: frozenset[Capacity]
    now: dt.datetime
    locked: dict[int, Incident]
    original_id: int | None
    data: dict = field(default_factory=dict)  # the timeline entry's data
    notices: list[tuple[list, str, str]] = field(default_factory=list)  # (recipients, kind, message with %(id)s)
    merged_into: Incident | None = None  # an original that gets a "merged" entry of its own


def _accept(step: _Step) -> None:
    incident = step.incident
    incident.accepted_at = incident.accepted_at or step.now
    if incident.handling_area_id is None:
        incident.handling_area = incident.community
    phase_set(incident, started=step.now)


def _assign(step: _Step, assignee: User) -> None:
    step.incident.assignee = assignee
    step.incident.open_to_volunteers = False
    step.data["assignee"] = assignee.username


def _dispatch(step: _Step) -> None:
    assignee = _assignee_for(incident=step.incident, actor=step.actor, move=step.move)
    _assign(step, assignee)
    step.notices.append(([assignee], "assigned", _("You have been assigned incident #%(id)s.")))


def _claim(step: _Step) -> None:
    _assign(step, step.actor)
    step.notices.append((responsible_for(step.incident), "claimed", _("Incident #%(id)s was claimed.")))


def _open(step: _Step) -> None:
    step.incident.open_to_volunteers = True


def _start(step: _Step) -> None:
    """Only the status changes: the assignee is at work."""


def _decline(step: _Step) -> None:
    incident = step.incident
    step.data["assignee"] = incident.assignee.username
    incident.assignee = None
    step.notices.append((responsible_for(incident), "declined", _("Incident #%(id)s was declined: reassign it.")))


def _resolve(step: _Step) -> None:
    incident = step.incident
    incident.resolved_at = step.now
    phase_set(incident, started=None)
    step.notices.append(([incident.reporter], "resolved", _("Your report #%(id)s has been resolved.")))


def _close(step: _Step) -> None:
    incident, move = step.incident, step.move
    incident.closed_at = step.now
    phase_set(incident, started=None)
    if Capacity.REPORTER in step.capacities and move.rating is not None:
        incident.rating, incident.feedback = move.rating, move.comment
        step.data["rating"] = move.rating


def _reject(step: _Step) -> None:
    phase_set(step.incident, started=None)
    step.notices.append(([step.incident.reporter], "reject", _("Your report #%(id)s was closed without action.")))


def _merge(step: _Step) -> None:
    incident = step.incident
    phase_set(incident, started=None)
    original = _merge_target(incident, step.locked, step.original_id)
    incident.duplicate_of = original
    step.data["duplicate_of"] = original.pk
    step.merged_into = original
    step.notices.append(([incident.reporter], "merge", _("Your report #%(id)s was closed without action.")))


def _reopen(step: _Step) -> None:
    # back to the dispatchers: acceptance, then a new dispatch
    incident = step.incident
    incident.closed_at = None
    incident.assignee = None
    phase_set(incident, started=step.now)
    step.notices.append((responsible_for(incident), "reopened", _("Incident #%(id)s was reopened.")))


# What each action does beyond the status change; which statuses and capacities allow it is grid.workflow.MOVES.
EFFECTS: dict[str, Callable[[_Step], None]] = {
    "accept": _accept,
    "reject": _reject,
    "merge": _merge,
    "dispatch": _dispatch,
    "open": _open,
    "claim": _claim,
    "start": _start,
    "decline": _decline,
    "resolve": _resolve,
    "close": _close,
    "reopen": _reopen,
}


def incident_transition(*, incident_id: int, actor: User, move: TransitionInput, photos: Sequence = ()) -> Incident:
    """Take one workflow action on an incident, atomically, and write it to the timeline.

    Raises TransitionRefused (the action is not possible now, e.g. another dispatcher acted first),
    TransitionDenied (not in this account's capacity) or ValidationError (bad input)."""
    rule = MOVES[move.action]
    with transaction.atomic():
        # An original outside the actor's scope is never locked, read or written: it is treated as absent.
        original_id = (
            move.duplicate_of
            if move.duplicate_of and incidents_for(actor).filter(pk=move.duplicate_of).exists()
            else None
        )
        # Lock the incident (and, for a merge, the original) in pk order, so two merges cannot deadlock.
        pks = sorted({incident_id, *([original_id] if original_id else [])})
        locked = {
            i.pk: i
            for i in Incident.objects.select_for_update(of=("self",))
            .select_related("category", "community", "handling_area")
            .filter(pk__in=pks)
            .order_by("pk")
        }
        incident = locked[incident_id]
        in_scope = incidents_for(actor).filter(pk=incident_id).exists()
        capacities = capacities_of(actor, incident, in_scope=in_scope)
        if move.version is not None and move.version != incident.version:
            raise TransitionRefused(
                _("The incident changed since you loaded it (now version %(v)s, %(status)s); reload and retry.")
                % {"v": incident.version, "status": _status_label(incident.status)},
                actions_allowed(incident, capacities),
            )
        if not rule.applies_to(incident, move.action):
            raise _refuse(incident, move.action, capacities)
        if not rule.capacities & capacities:
            raise TransitionDenied(move.action)
        if move.action == "claim":
            if not incidents_in_reach(user=actor).filter(pk=incident.pk).exists():
                raise TransitionDenied(move.action)
        if "note" in rule.requires and not move.note.strip():
            raise ValidationError({"note": _("Say why: this action needs a note.")})

        step = _Step(
            incident=incident,
            actor=actor,
            move=move,
            capacities=capacities,
            now=timezone.now(),
            locked=locked,
            original_id=original_id,
        )
        before = incident.status
        incident.status = rule.target
        EFFECTS[move.action](step)
        incident.version += 1
        incident.save()
        event = event_record(
            incident=incident,
            action=move.action,
            actor=actor,
            at=step.now,
            note=move.note,
            from_status=before,
            to_status=incident.status,
            data=step.data,
        )
        if step.merged_into is not None:
            event_record(
                incident=step.merged_into,
                action="merged",
                actor=actor,
                at=step.now,
                note=move.note,
                data={"duplicate": incident.pk},
            )
        if photos:
            incident_photos_attach(incident=incident, photos=list(photos), uploader=actor, event=event)
        for recipients, kind, message in step.notices:
            # the actor is not told what he just did
            notify(
                recipients=[u for u in recipients if u is not None and u.pk != actor.pk],
                incident=incident,
                kind=kind,
                message=message % {"id": incident.pk},
            )
    return incident


def _merge_target(incident: Incident, locked: dict[int, Incident], original_id: int | None) -> Incident:
    original = locked.get(original_id) if original_id else None
    if original is None or original.pk == incident.pk:
        # the same words for an id nobody has and one outside the actor's scope
        raise ValidationError({"duplicate_of": _("Name another incident of your area as the original.")})
    if original.status == S.DUPLICATE:
        raise ValidationError(
            {"duplicate_of": _("#%(id)s is itself a duplicate; merge into its original.") % {"id": original.pk}}
        )
    if original.county_id != incident.county_id:
        raise ValidationError({"duplicate_of": _("The original must lie in the same county.")})
    return original


def incident_feedback(*, incident_id: int, reporter: User, rating: int, comment: str = "") -> Incident:
    """The reporter rates the handling (1–5): a resolved case is thereby closed; a closed one rated once."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update(of=("self",)).select_related("category").get(pk=incident_id)
        if incident.reporter_id != reporter.pk:
            raise TransitionDenied("feedback")
        if incident.status not in (S.RESOLVED, S.CLOSED) or incident.rating is not None:
            raise TransitionRefused(
                _("Feedback is given once, on a resolved or closed incident; this one is %(status)s%(rated)s.")
                % {
                    "status": _status_label(incident.status),
                    "rated": _(" and rated already") if incident.rating is not None else "",
                },
                [],
            )
        now = timezone.now()
        before = incident.status
        incident.rating, incident.feedback = rating, comment
        if before == S.RESOLVED:
            incident.status, incident.closed_at = S.CLOSED, now
            phase_set(incident, started=None)
        incident.version += 1
        incident.save()
        event_record(
            incident=incident,
            action="close" if before == S.RESOLVED else "feedback",
            actor=reporter,
            at=now,
            note=comment,
            from_status=before,
            to_status=incident.status,
            data={"rating": rating},
        )
    return incident
