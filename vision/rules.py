"""Camera rules, data not code: each observation is checked against the camera's rules, and a rule whose
condition has held long enough raises an incident through grid's services, at the camera's point, with the frame
as its photo.

A rule's condition holds over an *episode*: from the first observation where it holds (`condition_since`) to the
first where it does not. A missing observation does not end an episode; a hole in the series longer than
`gap_limit(camera)` does (what happened meanwhile is unknown, so the time held is counted anew). Per episode a
rule fires at most once, and never while the incident it raised last is still open. Which incidents count as
open is grid's own definition, `Incident.OPEN_STATUSES` (reported, reopened, accepted, dispatched, in progress):
a resolved incident was dealt with by its handler (a camera's report has no reporter to confirm it), and closed,
rejected and duplicate ones are ended, so a new episode after those is a new event and is reported.

The incident's client_uuid is derived from the rule and the episode's start, so a task that is retried (or two
evaluations of the same episode at once) finds the incident already reported instead of raising another.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from grid.models import Incident
from grid.opening_hours import is_open_at
from grid.photos import photos_decode
from grid.services import incident_report
from vision.models import Camera, Frame, Observation, Rule
from vision.sources import frame_jpeg

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

# The namespace of the incidents' client_uuid (uuid5 of "rule <pk> <episode start>").
RULE_INCIDENT_NAMESPACE = uuid.UUID("6f1f3c0e-8a55-4c1e-9d3a-5b0c2b7a9e61")


def gap_limit(camera: Camera) -> dt.timedelta:
    """The longest hole in a camera's observations that an episode survives: three intervals and a minute, so a
    missed analysis or two (a slow queue, a dropped frame) is not taken for the condition ending."""
    return dt.timedelta(seconds=3 * max(1, camera.interval_seconds) + 60)


def rule_value(rule: Rule, observation: Observation) -> int:
    """The count the rule looks at: its class, in the whole frame or only in the camera's zone."""
    counts = observation.zone_counts if rule.in_zone else observation.counts
    return int((counts or {}).get(rule.object_class, 0))


def rule_holds(rule: Rule, observation: Observation) -> bool:
    """Whether the rule's condition holds in this observation (outside its active hours it never does)."""
    if rule.active_hours and not is_open_at(rule.active_hours, observation.at):
        return False
    value = rule_value(rule, observation)
    if rule.kind == Rule.Kind.COUNT_AT_LEAST:
        return value >= max(1, rule.threshold)
    if rule.kind == Rule.Kind.NOBODY_PRESENT:
        return value == 0
    if rule.kind == Rule.Kind.PRESENCE:
        return value >= max(1, rule.threshold)
    return False


def _incident_open(rule: Rule) -> bool:
    if rule.incident_id is None:
        return False
    status = Incident.objects.filter(pk=rule.incident_id).values_list("status", flat=True).first()
    return status in Incident.OPEN_STATUSES


def rule_client_uuid(rule: Rule, since: dt.datetime) -> uuid.UUID:
    return uuid.uuid5(RULE_INCIDENT_NAMESPACE, f"rule {rule.pk} {since.isoformat()}")


def _note(rule: Rule, camera: Camera, observation: Observation) -> str:
    held = observation.at - rule.condition_since if rule.condition_since else dt.timedelta()
    facts = _("%(rule)s — camera %(camera)s (%(code)s): %(class)s %(count)d, for %(minutes)d min.") % {
        "rule": rule.name,
        "camera": camera.name,
        "code": camera.code,
        "class": rule.object_class,
        "count": rule_value(rule, observation),
        "minutes": int(held.total_seconds() // 60),
    }
    return f"{rule.note}\n{facts}" if rule.note else facts


def _fire(*, rule: Rule, camera: Camera, observation: Observation, frame: np.ndarray | None) -> Incident | None:
    """Report the incident of this episode (once: the client_uuid is the episode's) and keep the frame."""
    jpeg = frame_jpeg(frame) if frame is not None else None
    name = f"camera{camera.pk}-rule{rule.pk}-{observation.at:%Y%m%dT%H%M%S}.jpg"
    photos = photos_decode([SimpleUploadedFile(name, jpeg, content_type="image/jpeg")]) if jpeg else []
    try:
        incident, created = incident_report(
            reporter=None,
            location=camera.location,
            category=rule.category,
            client_uuid=rule_client_uuid(rule, rule.condition_since),
            note=_note(rule, camera, observation)[:2000],
            photos=photos,
        )
    except ValidationError as exc:  # the camera stands outside every grid: nobody could handle the incident
        logger.warning("rule %s of camera %s cannot report: %s", rule.pk, camera.code, exc.messages)
        return None
    if created and jpeg:
        kept = Frame(camera=camera, at=observation.at, purpose=Frame.Purpose.RULE)
        kept.image.save(name, ContentFile(jpeg), save=False)
        kept.save()
    rule.incident, rule.last_fired_at = incident, observation.at
    return incident


def rule_evaluate(
    *,
    rule: Rule,
    camera: Camera,
    observation: Observation,
    previous_at: dt.datetime | None,
    frame: np.ndarray | None = None,
) -> Incident | None:
    """Advance the rule's episode with this observation, and fire when it has held M minutes. `previous_at`: the
    time of the camera's observation before this one (None: there was none). Returns a newly linked incident."""
    with transaction.atomic():
        rule = Rule.objects.select_for_update().select_related("category").get(pk=rule.pk)
        if not rule_holds(rule, observation):
            if rule.condition_since is not None:
                rule.condition_since = None
                rule.save(update_fields=["condition_since", "modified"])
            return None
        hole = previous_at is None or observation.at - previous_at > gap_limit(camera)
        if (
            rule.condition_since is None
            or rule.condition_since > observation.at
            or (hole and rule.condition_since < observation.at)
        ):
            rule.condition_since = observation.at
        fired = None
        long_enough = observation.at - rule.condition_since >= dt.timedelta(minutes=rule.minutes)
        episode_fired = rule.last_fired_at is not None and rule.last_fired_at >= rule.condition_since
        if long_enough and not episode_fired and not _incident_open(rule):
            fired = _fire(rule=rule, camera=camera, observation=observation, frame=frame)
        rule.save(update_fields=["condition_since", "incident", "last_fired_at", "modified"])
    return fired


def rules_evaluate(*, camera: Camera, observation: Observation, frame: np.ndarray | None = None) -> list[Incident]:
    """Evaluate the camera's enabled rules on its new observation; the incidents raised now."""
    rules = list(Rule.objects.filter(camera=camera, enabled=True).order_by("pk"))
    if not rules:
        return []
    previous_at = (
        Observation.objects.filter(camera=camera, at__lt=observation.at)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    raised = []
    for rule in rules:
        incident = rule_evaluate(
            rule=rule, camera=camera, observation=observation, previous_at=previous_at, frame=frame
        )
        if incident is not None:
            raised.append(incident)
    return raised
