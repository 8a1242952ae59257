"""Volunteering: volunteer tasks and small wishes (微心愿) that branches publish and members claim (the first claim
wins, as grid's claim of a service request), service hours with their points, and the sweep that credits the
service requests that volunteers resolved in grid (grid never calls engagement: the sweep reads it)."""

import datetime as dt
import uuid
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from engagement.access import may_run_branch
from engagement.models import PointsEntry, ServiceHours, VolunteerTask
from engagement.services.points import points_award
from grid.models import AdminArea, Incident, IncidentEvent, User
from grid.selectors import placement_of
from layers.models import Organization, Person

T = VolunteerTask.Status


class TaskRefused(Exception):
    """The task cannot take this step as it is now (409): another member claimed it first, it is done, …"""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class TaskDenied(Exception):
    """The account may see the task but not take this step on it (403)."""


def task_publish(
    *,
    actor: User,
    branch: Organization,
    kind: str,
    title: str,
    location: Point,
    client_uuid: uuid.UUID,
    description: str = "",
    wished_by: str = "",
    community: AdminArea | None = None,
    due: dt.datetime | None = None,
    hours: Decimal = Decimal(1),
) -> tuple[VolunteerTask, bool]:
    """A branch publishes a volunteer task or a small wish, once per client_uuid; (task, created). Its community is
    the one its point lies in unless named."""
    existing = VolunteerTask.objects.filter(client_uuid=client_uuid).first()
    if existing is not None:
        if existing.created_by_id != actor.pk:
            raise TaskRefused(_("This client_uuid belongs to another account's task."))
        return existing, False
    if not may_run_branch(actor, branch):
        raise TaskDenied
    if community is None:
        community = placement_of(point=location).community
    try:
        with transaction.atomic():
            task = VolunteerTask.objects.create(
                kind=kind,
                branch=branch,
                title=title,
                description=description,
                wished_by=wished_by,
                location=location,
                community=community,
                due=due,
                hours=hours,
                created_by=actor,
                client_uuid=client_uuid,
            )
    except IntegrityError:
        existing = VolunteerTask.objects.filter(client_uuid=client_uuid, created_by=actor).first()
        if existing is None:
            raise
        return existing, False
    return task, True


def _lock(task_id: int) -> VolunteerTask:
    return VolunteerTask.objects.select_for_update(of=("self",)).select_related("claimed_by").get(pk=task_id)


def _status_text(task: VolunteerTask) -> str:
    return str(T(task.status).label)


def task_claim(*, task_id: int, person: Person) -> VolunteerTask:
    """The member claims an open task. The task's row is locked: of claims at once, one wins and the others are
    refused (TaskRefused), as a second claim of one service request is in grid."""
    with transaction.atomic():
        task = _lock(task_id)
        if task.status != T.OPEN:
            raise TaskRefused(
                _("This task cannot be claimed: it is %(status)s.") % {"status": _status_text(task)}
                if task.status != T.CLAIMED
                else _("Somebody claimed this task first.")
            )
        if task.due is not None and task.due < timezone.now():
            raise TaskRefused(_("This task was due on %(due)s; it can no longer be claimed.") % {"due": task.due})
        task.status, task.claimed_by, task.claimed_at = T.CLAIMED, person, timezone.now()
        task.save()
    return task


def _units(hours: Decimal) -> int:
    """Whole hours for the per-hour rule: half an hour and more counts as one."""
    return int(Decimal(hours).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def service_hours_record(
    *,
    person: Person,
    hours: Decimal,
    served_on: dt.date,
    incident: Incident | None = None,
    task: VolunteerTask | None = None,
    by: User | None = None,
    at: dt.datetime | None = None,
) -> tuple[ServiceHours, bool]:
    """Record the hours of one service (a request or a task, each once) and award volunteer_hour per hour."""
    target = {"incident": incident} if incident is not None else {"task": task}
    with transaction.atomic():
        record, created = ServiceHours.objects.get_or_create(
            **target, defaults={"person": person, "hours": hours, "served_on": served_on, "recorded_by": by}
        )
        units = _units(record.hours)
        if units:
            points_award(
                person=record.person,
                rule_code="volunteer_hour",
                source=f"engagement.servicehours:{record.pk}",
                key=f"volunteer_hour:engagement.servicehours:{record.pk}",
                units=units,
                at=at,
            )
    return record, created


def task_done(*, task_id: int, actor: User, person: Person | None) -> VolunteerTask:
    """The claimer marks the task done, or the branch confirms it: the claimer's hours are recorded, with their
    points, and a fulfilled wish earns wish_fulfilled."""
    with transaction.atomic():
        task = _lock(task_id)
        if task.status != T.CLAIMED or task.claimed_by is None:
            raise TaskRefused(
                _("Only a claimed task can be marked done; this one is %(status)s.") % {"status": _status_text(task)}
            )
        is_claimer = person is not None and task.claimed_by_id == person.pk
        if not is_claimer and not may_run_branch(actor, task.branch):
            raise TaskDenied
        now = timezone.now()
        task.status, task.done_at, task.done_by = T.DONE, now, actor
        task.save()
        service_hours_record(
            person=task.claimed_by, hours=task.hours, served_on=timezone.localdate(now), task=task, by=actor, at=now
        )
        if task.kind == VolunteerTask.Kind.WISH:
            points_award(
                person=task.claimed_by,
                rule_code="wish_fulfilled",
                source=f"engagement.volunteertask:{task.pk}",
                key=f"wish_fulfilled:engagement.volunteertask:{task.pk}",
                at=now,
            )
    return task


def task_cancel(*, task_id: int, actor: User) -> VolunteerTask:
    """The branch withdraws an open or claimed task."""
    with transaction.atomic():
        task = _lock(task_id)
        if not may_run_branch(actor, task.branch):
            raise TaskDenied
        if task.status not in (T.OPEN, T.CLAIMED):
            raise TaskRefused(
                _("Only an open or claimed task can be cancelled; this one is %(status)s.")
                % {"status": _status_text(task)}
            )
        task.status, task.cancelled_at = T.CANCELLED, timezone.now()
        task.save()
    return task


# ---- the sweep over grid's resolved service requests and reports ---------------------------------------------

RESOLVED = (Incident.Status.RESOLVED, Incident.Status.CLOSED)


def _resolved(since: dt.datetime | None):
    qs = Incident.objects.filter(status__in=RESOLVED, resolved_at__isnull=False)
    return qs.filter(resolved_at__gte=since) if since is not None else qs


def _requests_unrecorded(since: dt.datetime | None):
    """Resolved service requests whose assignee is a volunteer (claimed it, or has the flag) with a person of the
    register, and no service hours yet."""
    claimed = IncidentEvent.objects.filter(incident=OuterRef("pk"), action="claim", actor=OuterRef("assignee"))
    return (
        _resolved(since)
        .filter(kind=Incident.Kind.REQUEST, assignee__isnull=False)
        .filter(Q(assignee__volunteer=True) | Exists(claimed))
        .filter(Exists(Person.objects.filter(account=OuterRef("assignee"))))
        .exclude(Exists(ServiceHours.objects.filter(incident=OuterRef("pk"))))
    )


def _reports_unawarded(since: dt.datetime | None):
    key = Concat(Value("report_resolved:grid.incident:"), OuterRef("pk"))
    return (
        _resolved(since)
        .filter(kind=Incident.Kind.REPORT, reporter__isnull=False)
        .filter(Exists(Person.objects.filter(account=OuterRef("reporter"))))
        .exclude(Exists(PointsEntry.objects.filter(idempotency_key=key)))
    )


def service_requests_sweep(*, since: dt.datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Credit what grid resolved: service hours (and volunteer_hour points) to the volunteer who resolved a service
    request, report_resolved points to the reporter of a resolved report. Idempotent: a re-run finds nothing new.

    Points are dated when the incident was resolved, so a late sweep counts them against that day's caps."""
    default = Decimal(str(settings.ENGAGEMENT_REQUEST_DEFAULT_HOURS))
    hours_made = 0
    rows = _requests_unrecorded(since).order_by("pk").values_list("pk", "assignee_id", "resolved_at")[:limit]
    people = {}
    for pk, account_id, resolved_at in rows:
        person = people.get(account_id) or Person.objects.filter(account_id=account_id).first()
        people[account_id] = person
        _, created = service_hours_record(
            person=person,
            hours=default,
            served_on=timezone.localdate(resolved_at),
            incident=Incident(pk=pk),
            at=resolved_at,
        )
        hours_made += created
    awarded = 0
    for pk, reporter_id, resolved_at in (
        _reports_unawarded(since).order_by("pk").values_list("pk", "reporter_id", "resolved_at")[:limit]
    ):
        person = people.get(reporter_id) or Person.objects.filter(account_id=reporter_id).first()
        people[reporter_id] = person
        entry = points_award(
            person=person,
            rule_code="report_resolved",
            source=f"grid.incident:{pk}",
            key=f"report_resolved:grid.incident:{pk}",
            at=resolved_at,
        )
        awarded += entry is not None
    return {"service_hours": hours_made, "reports_awarded": awarded}
