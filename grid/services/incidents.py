"""Writes of an incident's intake: the deadline of its phase, timeline entries, the report and its routing (its
transitions and feedback are in transitions.py)."""

import datetime as dt
import logging
import uuid
from collections.abc import Sequence

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grid.models import AdminArea, Category, Incident, IncidentEvent, Role, RoutingRule, User
from grid.selectors import placement_of
from grid.services.notifications import notify
from grid.services.photos import incident_photos_attach
from grid.webhooks import webhook_deliveries_create
from grid.workflow import ACCEPT_PHASE, RESOLVE_PHASE

logger = logging.getLogger(__name__)

S, W = Incident.Status, Incident.Warning


class ClientUUIDConflict(Exception):
    """A client_uuid that another account already used: never hand that record out."""


# --- deadlines ------------------------------------------------------------------------------------------------------


def phase_set(incident: Incident, *, started: dt.datetime | None) -> None:
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


# --- report and routing ---------------------------------------------------------------------------------------------


def _route_enqueue(incident_id: int) -> None:
    from grid.tasks import incident_route_task  # grid.tasks imports grid.services

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
                phase_set(incident, started=now)
                incident.save()
                event = event_record(
                    incident=incident, action="report", actor=reporter, at=now, note=note, to_status=S.REPORTED
                )
                if photos:
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
