"""Writes of vision: cameras placed in their grid, which cameras are due, one camera's analysis (grab, detect,
count, store an observation, evaluate its rules), the health of its source, and the retention purge.

The heavy libraries (OpenCV, the detector's torch or onnxruntime) are loaded by vision.engine inside the analysis
only, so that the web process, which imports this module for the admin, never loads them.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from grid.opening_hours import is_open_at
from grid.selectors import placement_of
from vision.attendance.services import attendance_observe
from vision.engine.detectors import load_detector, person_classes
from vision.engine.tracking import LineCounter, Tracker, in_zone
from vision.models import Camera, Frame, Observation
from vision.rules import rules_evaluate
from vision.sources import SourceError, frames_grab

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

# A failing source is tried again after this, doubling with each failure in a row up to VISION_RETRY_MAX_S.
RETRY_FIRST_S = 30
# A claimed camera is not claimed again for this long (or its interval, if longer), unless its analysis ends
# sooner: a task lost with its worker delays the camera by this much, never forever.
CLAIM_LEASE_S = 120
MESSAGE_MAX = 500


# --- cameras ----------------------------------------------------------------------------------------------------------


def camera_place(*, camera: Camera) -> None:
    """Derive the camera's grid from its point (point in polygon, as for incidents); None outside every grid."""
    camera.grid = placement_of(point=camera.location).grid if camera.location is not None else None


def camera_save(*, camera: Camera) -> Camera:
    """Validate (line, zone, schedule, source), place the camera in its grid and save it."""
    camera.full_clean(exclude=["grid"])
    camera_place(camera=camera)
    camera.save()
    return camera


def backoff_seconds(failures: int, *, jitter: float | None = None) -> float:
    """Seconds until the next try after `failures` failures in a row: 30 s doubling, capped by VISION_RETRY_MAX_S,
    less up to a quarter at random, so that cameras that failed together (a network outage) retry apart."""
    cap = max(1.0, float(settings.VISION_RETRY_MAX_S))
    delay = min(cap, RETRY_FIRST_S * 2.0 ** min(max(failures, 1) - 1, 40))
    return delay * (1.0 - 0.25 * (random.random() if jitter is None else jitter))  # not security: jitter


def camera_source_failed(*, camera: Camera, error: str, now: dt.datetime, detail: str = "") -> None:
    """Record on the camera that its source gave no frame, and when to try again (exponential backoff).

    `error` is the short generic reason that the camera's health shows; `detail` goes to the server log only."""
    with transaction.atomic():
        locked = Camera.objects.select_for_update().filter(pk=camera.pk).first()
        if locked is None:
            return
        failures = locked.failures + 1
        fields = {
            "last_error": error[:MESSAGE_MAX],
            "last_error_at": now,
            "failures": failures,
            "next_attempt_at": now + dt.timedelta(seconds=backoff_seconds(failures)),
        }
        Camera.objects.filter(pk=camera.pk).update(**fields)
    for name, value in fields.items():
        setattr(camera, name, value)
    logger.warning("camera %s: %s (failure %d in a row)", camera.code, detail or error, failures)


def cameras_claim_due(*, now: dt.datetime) -> list[int]:
    """The enabled cameras due for an analysis now (their next attempt has come and their schedule is open),
    each leased so that the next beat does not enqueue it again while its analysis waits or runs."""
    with transaction.atomic():
        candidates = list(
            Camera.objects.select_for_update(skip_locked=True)
            .filter(enabled=True)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .only("pk", "schedule", "interval_seconds")
            .order_by("pk")
        )
        due = [c for c in candidates if not c.schedule or is_open_at(c.schedule, now)]
        for camera in due:
            lease = max(CLAIM_LEASE_S, camera.interval_seconds)
            Camera.objects.filter(pk=camera.pk).update(next_attempt_at=now + dt.timedelta(seconds=lease))
    return [c.pk for c in due]


# --- analysis ---------------------------------------------------------------------------------------------------------


@dataclass
class FrameAnalysis:
    """What a burst of frames showed: counts per class in the last frame, those in the zone, line crossings."""

    counts: dict[str, int] = field(default_factory=dict)
    zone_counts: dict[str, int] = field(default_factory=dict)
    line_in: int = 0
    line_out: int = 0


def _counted(names: list[str], *, wanted: set[str], persons: set[str], native_person: bool) -> dict[str, int]:
    """Counts per class name, zeros included for the classes the camera counts (and "person" where the model
    knows people), so the series says "nobody" rather than nothing; where the model's person classes have other
    names (Normal/Fall), "person" is their sum."""
    raw = Counter(names)
    counts = {name: 0 for name in wanted}
    if persons and (not wanted or "person" in wanted):
        counts["person"] = 0
    for name, n in raw.items():
        if not wanted or name in wanted or ("person" in wanted and name in persons):
            counts[name] = n
    if not native_person and "person" in counts:
        counts["person"] = sum(n for name, n in raw.items() if name in persons)
    return dict(sorted(counts.items()))


def frames_analyse(*, camera: Camera, frames: list[np.ndarray], detector) -> FrameAnalysis:
    """Detect in each frame; count the classes the camera counts (all when it names none), in the whole frame and
    in its zone; with a counting line, track across the burst and count crossings (each track once)."""
    wanted = set(camera.classes or [])
    persons = set(person_classes(detector))
    native_person = "person" in detector.class_names

    def keep(name: str) -> bool:
        return not wanted or name in wanted or ("person" in wanted and name in persons)

    height, width = frames[-1].shape[:2]
    size = (width, height)
    uses_line = bool(camera.line) and Camera.Analysis.LINE in camera.analyses
    tracker = Tracker() if uses_line else None
    counter = LineCounter(camera.line, size) if uses_line else None
    result = FrameAnalysis()
    detections: list = []
    for frame in frames if uses_line else frames[-1:]:
        detections = [d for d in detector.detect(frame) if keep(d.class_name)]
        if tracker is not None and counter is not None:
            crossed_in, crossed_out = counter.update(tracker.update(detections, frame))
            result.line_in += crossed_in
            result.line_out += crossed_out
    options = {"wanted": wanted, "persons": persons, "native_person": native_person}
    result.counts = _counted([d.class_name for d in detections], **options)
    if camera.zone:
        inside = [d.class_name for d in detections if in_zone(d.box, camera.zone, size)]
        result.zone_counts = _counted(inside, **options)
    return result


def counts_summary(counts: dict[str, int]) -> str:
    """ "person 4, bus 1": the most frequent class first ("person" before its own kinds, Normal/Fall); for the
    map's popup, tiles and exports."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0] != "person", item[0]))
    return ", ".join(f"{name} {n}" for name, n in ordered)[:300]


def observation_record(
    *,
    camera: Camera,
    at: dt.datetime,
    analysis: FrameAnalysis,
    backend: str,
    now: dt.datetime | None = None,
) -> Observation:
    """Store one observation and make it the camera's latest (unless a later one is there already); the source
    worked, so its failures are forgotten and the next analysis is one interval later."""
    now = now or timezone.now()
    observation = Observation.objects.create(
        camera=camera,
        at=at,
        counts=analysis.counts,
        zone_counts=analysis.zone_counts,
        line_in=analysis.line_in,
        line_out=analysis.line_out,
        backend=backend[:16],
    )
    health = {
        "last_frame_at": now,
        "failures": 0,
        "next_attempt_at": at + dt.timedelta(seconds=max(1, camera.interval_seconds)),
    }
    latest = {
        "latest_counts": analysis.counts,
        "latest_summary": counts_summary(analysis.counts),
        "latest_observed_at": at,
    }
    Camera.objects.filter(pk=camera.pk).update(**health)
    Camera.objects.filter(pk=camera.pk).filter(
        Q(latest_observed_at__isnull=True) | Q(latest_observed_at__lte=at)
    ).update(**latest)
    for name, value in {**health, **latest}.items():
        setattr(camera, name, value)
    return observation


def _attendance_observe(*, camera: Camera, frame: np.ndarray, at: dt.datetime) -> None:
    """Hand the frame to face attendance (vision.attendance) for duty-room and meeting cameras.

    Its failure is logged and costs only the attendance of this frame, never the counts already stored."""
    if not {Camera.Analysis.ATTENDANCE, Camera.Analysis.MEETING} & set(camera.analyses):
        return
    try:
        attendance_observe(camera=camera, frame=frame, at=at)
    except Exception:
        logger.exception("camera %s: face attendance failed on this frame", camera.code)


def burst_size(camera: Camera) -> int:
    """Frames per analysis: one, or a short burst where a counting line needs tracks across frames."""
    if camera.line and Camera.Analysis.LINE in camera.analyses:
        return max(2, int(settings.VISION_BURST_FRAMES))
    return 1


def camera_analyse(*, camera_id: int, at: dt.datetime | None = None, detector=None) -> Observation | None:
    """Analyse one camera now: grab, detect, count, store the observation, evaluate its rules, hand the frame to
    attendance. A source that gives no frame is recorded on the camera (and retried later); None then, and for a
    camera that is gone or disabled."""
    camera = Camera.objects.filter(pk=camera_id, enabled=True).first()
    if camera is None:
        return None
    at = at or timezone.now()
    try:
        frames = frames_grab(
            kind=camera.source_kind,
            source=camera.source,
            at=at,
            interval_seconds=camera.interval_seconds,
            count=burst_size(camera),
        )
    except SourceError as exc:
        camera_source_failed(camera=camera, error=exc.reason, detail=exc.detail, now=timezone.now())
        return None
    if detector is None:
        detector = load_detector()
    analysis = frames_analyse(camera=camera, frames=frames, detector=detector)
    observation = observation_record(camera=camera, at=at, analysis=analysis, backend=detector.backend)
    rules_evaluate(camera=camera, observation=observation, frame=frames[-1])
    _attendance_observe(camera=camera, frame=frames[-1], at=at)
    return observation


# --- retention --------------------------------------------------------------------------------------------------------


def frames_purge(*, now: dt.datetime | None = None, batch: int = 500) -> tuple[int, int]:
    """Delete kept frames older than VISION_FRAME_RETENTION_DAYS with their files, and observations older than
    VISION_OBSERVATION_RETENTION_DAYS. Returns (frames, observations) deleted."""
    now = now or timezone.now()
    frames_before = now - dt.timedelta(days=settings.VISION_FRAME_RETENTION_DAYS)
    observations_before = now - dt.timedelta(days=settings.VISION_OBSERVATION_RETENTION_DAYS)
    frames = 0
    while True:
        old = list(Frame.objects.filter(at__lt=frames_before).order_by("pk")[:batch])
        if not old:
            break
        for frame in old:
            # the file first: a row without its file is harmless, a file without a row is never found again
            try:
                frame.image.delete(save=False)
            except OSError:
                logger.warning("could not delete the file of frame %s", frame.pk, exc_info=True)
        _, deleted = Frame.objects.filter(pk__in=[f.pk for f in old]).delete()
        frames += deleted.get(Frame._meta.label, 0)  # not the meeting records' links deleted with them
    observations, _ = Observation.objects.filter(at__lt=observations_before).delete()
    return frames, observations
