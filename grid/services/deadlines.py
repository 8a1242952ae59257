"""The minute sweep of deadlines: warning levels (notified when they rise) and escalation up the area tree."""

import datetime as dt

from django.db import transaction
from django.db.models import Case, CharField, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from grid.models import AdminArea, Incident
from grid.services.incidents import event_record, responsible_for
from grid.services.notifications import notify

W = Incident.Warning

_RANK = {W.GREEN: 0, W.YELLOW: 1, W.RED: 2}


def live_warning(now: dt.datetime) -> Case:
    """The live warning level as SQL (see Incident.warning_at)."""
    return Case(
        When(~Q(status__in=Incident.OPEN_STATUSES) | Q(deadline__isnull=True), then=Value(W.GREEN)),
        When(deadline__lt=now, then=Value(W.RED)),
        When(yellow_at__lte=now, then=Value(W.YELLOW)),
        default=Value(W.GREEN),
        output_field=CharField(),
    )


def incidents_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Bring every open incident's notified level up to date (notifying when it rises) and escalate those red
    for longer than their category allows. Idempotent: a second run at the same moment changes nothing."""
    now = now or timezone.now()
    responsible = _Responsible()
    changed = escalated = 0
    stale = (
        Incident.objects.filter(status__in=Incident.OPEN_STATUSES, deadline__isnull=False)
        .annotate(live=live_warning(now))
        .exclude(live=F("warning"))
        .values_list("pk", flat=True)
    )
    for pk in list(stale):
        changed += _warning_update(pk, now, responsible)
    due = (
        Incident.objects.filter(
            status__in=Incident.OPEN_STATUSES,
            warning=W.RED,
            handling_area__level__gt=AdminArea.Level.COUNTY,
        )
        .select_related("category")
        .only("pk", "warning_since", "category__escalate_after_minutes")
    )
    for incident in due:
        limit = dt.timedelta(minutes=incident.category.escalate_after_minutes)
        if incident.warning_since is not None and incident.warning_since + limit <= now:
            escalated += _escalate(incident.pk, now, responsible)
    return {"levels_changed": changed, "escalated": escalated}


class _Responsible:
    """responsible_for(), remembered per handling unit and area for one sweep: thousands of incidents share a few."""

    def __init__(self) -> None:
        self._known: dict[tuple[int | None, int | None], list] = {}

    def __call__(self, incident: Incident) -> list:
        key = (incident.handling_unit_id, incident.handling_area_id or incident.community_id)
        if key not in self._known:
            self._known[key] = responsible_for(incident)
        return self._known[key]


def _warning_update(pk: int, now: dt.datetime, responsible: "_Responsible") -> int:
    with transaction.atomic():
        # skip_locked: an incident being transitioned right now is looked at on the next sweep.
        incident = (
            Incident.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("category", "handling_area__parent", "handling_unit", "community__parent")
            .filter(pk=pk)
            .first()
        )
        if incident is None:
            return 0
        level = incident.warning_at(now)
        if level == incident.warning:
            return 0
        rising = _RANK[level] > _RANK[incident.warning]
        incident.warning = level
        # when the level was reached, not when the sweep saw it: escalation counts from the true moment
        incident.warning_since = {W.RED: incident.deadline, W.YELLOW: incident.yellow_at}.get(level)
        incident.save(update_fields=["warning", "warning_since", "modified"])
        if rising:
            event_record(incident=incident, action="warn", actor=None, at=now, data={"level": level})
            message = (
                _("Incident #%(id)s is overdue.") if level == W.RED else _("Incident #%(id)s is nearing its deadline.")
            )
            notify(
                recipients=[*responsible(incident), incident.assignee],
                incident=incident,
                kind=f"warning_{level}",
                message=message % {"id": incident.pk},
            )
        return 1


def _escalate(pk: int, now: dt.datetime, responsible: "_Responsible") -> int:
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("category", "handling_area__parent")
            .filter(pk=pk, warning=W.RED)
            .first()
        )
        if incident is None or incident.handling_area is None or incident.handling_area.parent is None:
            return 0
        limit = dt.timedelta(minutes=incident.category.escalate_after_minutes)
        if incident.warning_since is None or incident.warning_since + limit > now:
            return 0
        source = incident.handling_area
        incident.handling_area = source.parent
        incident.handling_unit = None  # the level above answers for it now
        incident.escalations += 1
        incident.warning_since = now  # the next escalation needs another full period in red
        incident.save(update_fields=["handling_area", "handling_unit", "escalations", "warning_since", "modified"])
        event_record(
            incident=incident,
            action="escalate",
            actor=None,
            at=now,
            data={"from": source.code, "to": incident.handling_area.code},
        )
        notify(
            recipients=responsible(incident),
            incident=incident,
            kind="escalated",
            message=_("Incident #%(id)s is overdue and was escalated to %(area)s.")
            % {"id": incident.pk, "area": incident.handling_area.name},
        )
        return 1
