"""Writes of the incident workflow: report, route, transitions, feedback and the deadline sweep."""

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grid.access import incidents_for
from grid.models import AdminArea, Category, Incident, IncidentEvent, Notification, Role, RoutingRule, User
from grid.selectors import placement_of
from grid.workflow import ACCEPT_PHASE, MOVES, RESOLVE_PHASE, Capacity, actions_allowed, capacities_of

logger = logging.getLogger(__name__)

S, W = Incident.Status, Incident.Warning


class ClientUUIDConflict(Exception):
    """A client_uuid that another account already used: never hand that record out."""


class TransitionRefused(Exception):
    """The action cannot be taken on the incident as it is now (409): names what may be done instead."""

    def __init__(self, message: str, allowed: list[str]):
        super().__init__(message)
        self.message, self.allowed = message, allowed


class TransitionDenied(Exception):
    """The action applies, but not in any capacity the account holds (403)."""


# --- deadlines ------------------------------------------------------------------------------------------------------


def _phase_set(incident: Incident, *, started: dt.datetime | None) -> None:
    """Start the deadline of the incident's current status at `started` (none for resolved and ended ones)."""
    category = incident.category
    minutes = (
        category.accept_minutes
        if incident.status in ACCEPT_PHASE
        else category.resolve_minutes
        if incident.status in RESOLVE_PHASE
        else None
    )
    if minutes is None or started is None:
        incident.phase_started = incident.yellow_at = incident.deadline = None
    else:
        incident.phase_started = started
        incident.yellow_at = started + dt.timedelta(minutes=minutes * 0.75)
        incident.deadline = started + dt.timedelta(minutes=minutes)
    # A new phase starts green; the sweep raises it (and notifies) when its time comes.
    incident.warning, incident.warning_since = W.GREEN, None


# --- timeline and notifications -------------------------------------------------------------------------------------


def event_record(
    *,
    incident: Incident,
    action: str,
    actor: User | None,
    at: dt.datetime,
    note: str = "",
    from_status: str = "",
    to_status: str = "",
    data: dict | None = None,
) -> IncidentEvent:
    """Write one timeline entry, and its webhook deliveries in the same transaction."""
    from grid.webhooks import webhook_deliveries_create

    event = IncidentEvent.objects.create(
        incident=incident,
        action=action,
        actor=actor,
        at=at,
        note=note,
        from_status=from_status,
        to_status=to_status,
        data=data or {},
    )
    webhook_deliveries_create(event=event)
    return event


def responsible_for(incident: Incident) -> list[User]:
    """Who answers for the incident now: its handling unit's members, else the dispatchers (or administrators)
    of its handling area, else of the nearest area above that has some."""
    if incident.handling_unit_id is not None:
        members = list(incident.handling_unit.members.filter(is_active=True))
        if members:
            return members
    area: AdminArea | None = incident.handling_area or incident.community
    while area is not None:
        for roles in ((Role.DISPATCHER,), (Role.ADMINISTRATOR,)):
            users = list(User.objects.filter(is_active=True, role__in=roles, areas=area).order_by("pk"))
            if users:
                return users
        area = area.parent
    return []


def notify(*, recipients: Iterable[User | None], incident: Incident, kind: str, message: str) -> int:
    """Leave a message for each distinct recipient (the actor himself is not told what he just did)."""
    seen = {u.pk: u for u in recipients if u is not None}
    Notification.objects.bulk_create(
        Notification(recipient=u, incident=incident, kind=kind, message=message[:300]) for u in seen.values()
    )
    return len(seen)


# --- report and routing ---------------------------------------------------------------------------------------------


def _route_enqueue(incident_id: int) -> None:
    from grid.tasks import incident_route_task

    try:
        incident_route_task.delay(incident_id=incident_id)
    except Exception:  # the broker is down: the incident is saved, and incidents_route_unrouted() routes it later
        logger.warning("could not enqueue routing of incident %s; the sweep will route it", incident_id, exc_info=True)


def incident_report(
    *,
    reporter: User | None,
    location: Point,
    category: Category,
    client_uuid: uuid.UUID,
    note: str = "",
    kind: str = Incident.Kind.REPORT,
    photos: Sequence = (),
) -> tuple[Incident, bool]:
    """Record a report once, in the grid that covers its point; route it after commit. Returns (incident, created)."""
    existing = Incident.objects.filter(client_uuid=client_uuid).first()
    if existing is None:
        placement = placement_of(point=location)
        if placement.grid is None:
            raise ValidationError({"location": _("This point lies outside every grid of the territory.")})
        now = timezone.now()
        try:
            with transaction.atomic():
                incident = Incident(
                    client_uuid=client_uuid,
                    kind=kind,
                    reporter=reporter,
                    location=location,
                    category=category,
                    note=note,
                    grid=placement.grid,
                    community=placement.community,
                    street=placement.street,
                    county=placement.county,
                    created=now,
                )
                _phase_set(incident, started=now)
                incident.save()
                event = event_record(
                    incident=incident, action="report", actor=reporter, at=now, note=note, to_status=S.REPORTED
                )
                if photos:
                    from grid.services.photos import incident_photos_attach

                    incident_photos_attach(incident=incident, photos=list(photos), uploader=reporter, event=event)
                transaction.on_commit(lambda: _route_enqueue(incident.pk), robust=True)
            return incident, True
        except IntegrityError:
            # A concurrent resend of the same report won the race: fall through and return its record.
            existing = Incident.objects.get(client_uuid=client_uuid)
    if existing.reporter_id != (reporter.pk if reporter else None):
        raise ClientUUIDConflict(client_uuid)
    return existing, False


def routing_rule_for(incident: Incident) -> RoutingRule | None:
    """The most specific active rule for the incident's area and category: deepest area, then deepest category."""
    areas: list[AdminArea] = []
    area = incident.community
    while area is not None:
        areas.append(area)
        area = area.parent
    categories: list[Category] = []
    category: Category | None = incident.category
    while category is not None and len(categories) < 10:
        categories.append(category)
        category = category.parent
    rules = {
        (r.area_id, r.category_id): r
        for r in RoutingRule.objects.filter(
            active=True, unit__active=True, area__in=areas, category__in=categories
        ).select_related("unit")
    }
    for a in areas:  # community first, then street, county…
        for c in categories:  # the category itself first, then its parents
            if (a.pk, c.pk) in rules:
                return rules[(a.pk, c.pk)]
    return None


def incident_route(*, incident_id: int) -> bool:
    """Give an unrouted incident its handling area and unit and tell them. False if it was routed already."""
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update(of=("self",))
            .select_related("category__parent", "community__parent")
            .filter(pk=incident_id, routed_at__isnull=True)
            .first()
        )
        if incident is None:
            return False
        rule = routing_rule_for(incident)
        now = timezone.now()
        incident.handling_area = incident.community
        incident.handling_unit = rule.unit if rule else None
        incident.routed_at = now
        incident.save(update_fields=["handling_area", "handling_unit", "routed_at", "modified"])
        data = {"area": incident.community.code if incident.community else None}
        if rule:
            data["unit"] = rule.unit.name
        event_record(incident=incident, action="route", actor=None, at=now, data=data)
        notify(
            recipients=responsible_for(incident),
            incident=incident,
            kind="new",
            message=_("New report #%(id)s: %(category)s") % {"id": incident.pk, "category": incident.category.name},
        )
    return True


def incidents_route_unrouted(*, limit: int = 1000) -> int:
    """Route what intake could not hand to the broker. Returns how many were routed."""
    ids = list(Incident.objects.filter(routed_at__isnull=True).order_by("created").values_list("pk", flat=True)[:limit])
    return sum(incident_route(incident_id=pk) for pk in ids)


# --- transitions ----------------------------------------------------------------------------------------------------


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
    from grid.selectors.dispatch import workers_assignable

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
            from grid.selectors.dispatch import incidents_in_reach

            if not incidents_in_reach(user=actor).filter(pk=incident.pk).exists():
                raise TransitionDenied(move.action)
        if "note" in rule.requires and not move.note.strip():
            raise ValidationError({"note": _("Say why: this action needs a note.")})

        now = timezone.now()
        before = incident.status
        data: dict = {}
        notices: list[tuple[list, str, str]] = []
        incident.status = rule.target
        a = move.action
        if a == "accept":
            incident.accepted_at = incident.accepted_at or now
            if incident.handling_area_id is None:
                incident.handling_area = incident.community
            _phase_set(incident, started=now)
        elif a in ("dispatch", "claim"):
            assignee = actor if a == "claim" else _assignee_for(incident=incident, actor=actor, move=move)
            incident.assignee = assignee
            incident.open_to_volunteers = False
            data["assignee"] = assignee.username
            if a == "dispatch":
                notices.append(([assignee], "assigned", _("You have been assigned incident #%(id)s.")))
            else:
                notices.append((responsible_for(incident), "claimed", _("Incident #%(id)s was claimed.")))
        elif a == "open":
            incident.open_to_volunteers = True
        elif a == "decline":
            data["assignee"] = incident.assignee.username
            incident.assignee = None
            notices.append((responsible_for(incident), "declined", _("Incident #%(id)s was declined: reassign it.")))
        elif a == "resolve":
            incident.resolved_at = now
            _phase_set(incident, started=None)
            notices.append(([incident.reporter], "resolved", _("Your report #%(id)s has been resolved.")))
        elif a == "close":
            incident.closed_at = now
            _phase_set(incident, started=None)
            if Capacity.REPORTER in capacities and move.rating is not None:
                incident.rating, incident.feedback = move.rating, move.comment
                data["rating"] = move.rating
        elif a in ("reject", "merge"):
            _phase_set(incident, started=None)
            if a == "merge":
                original = _merge_target(incident, locked, original_id)
                incident.duplicate_of = original
                data["duplicate_of"] = original.pk
            notices.append(([incident.reporter], a, _("Your report #%(id)s was closed without action.")))
        elif a == "reopen":  # back to the dispatchers: acceptance, then a new dispatch
            incident.closed_at = None
            incident.assignee = None
            _phase_set(incident, started=now)
            notices.append((responsible_for(incident), "reopened", _("Incident #%(id)s was reopened.")))
        incident.version += 1
        incident.save()
        event = event_record(
            incident=incident,
            action=a,
            actor=actor,
            at=now,
            note=move.note,
            from_status=before,
            to_status=incident.status,
            data=data,
        )
        if a == "merge":
            event_record(
                incident=incident.duplicate_of,
                action="merged",
                actor=actor,
                at=now,
                note=move.note,
                data={"duplicate": incident.pk},
            )
        if photos:
            from grid.services.photos import incident_photos_attach

            incident_photos_attach(incident=incident, photos=list(photos), uploader=actor, event=event)
        for recipients, kind, message in notices:
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
            _phase_set(incident, started=None)
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
