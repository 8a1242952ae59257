"""Cameras at geolocated sites, what they observed, the frames kept as evidence, and the rules that turn
observations into incidents."""

import math

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grid.models import Category, Grid, Incident, Station, TimeStampedModel
from grid.opening_hours import validate_opening_hours
from layers.models import Place
from vision.sources import source_problem

# A zone may have at most this many corners: it is tested against every detection of every frame.
ZONE_MAX_POINTS = 100


def _normalised_point(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in value)
        and all(0.0 <= c <= 1.0 for c in value)
    )


def validate_line(line: object) -> None:
    """A counting line: two distinct points [[x, y], [x, y]] in normalised image coordinates (0…1)."""
    if line is None:
        return
    if not (isinstance(line, list | tuple) and len(line) == 2 and all(_normalised_point(p) for p in line)):
        raise ValidationError(
            _("A counting line is two points [[x, y], [x, y]], each coordinate between 0 and 1 (of the image).")
        )
    if list(line[0]) == list(line[1]):
        raise ValidationError(_("The two points of a counting line must differ."))


def validate_zone(zone: object) -> None:
    """A counting zone: a polygon [[x, y], …] of 3 or more points in normalised image coordinates (0…1)."""
    if zone is None:
        return
    if not (
        isinstance(zone, list | tuple) and 3 <= len(zone) <= ZONE_MAX_POINTS and all(_normalised_point(p) for p in zone)
    ):
        raise ValidationError(
            _("A counting zone is a polygon of 3 to %(max)d points [[x, y], …], each coordinate between 0 and 1.")
            % {"max": ZONE_MAX_POINTS}
        )
    # twice the signed area (shoelace): a zone whose points lie on one line encloses nothing
    area2 = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(zone, [*zone[1:], zone[0]], strict=True))
    if abs(area2) < 1e-9:
        raise ValidationError(_("The counting zone encloses no area: its points lie on one line."))


def validate_weekly_hours(hours: object, *, field: str) -> None:
    """The weekly-hours format of grid.opening_hours, its messages reported under `field`."""
    try:
        validate_opening_hours(hours)
    except ValidationError as exc:
        raise ValidationError({field: exc.message_dict.get("opening_hours", exc.messages)}) from exc


class Camera(TimeStampedModel):
    """A camera at a point, watching a site (a station, a place, or simply its grid)."""

    class SourceKind(models.TextChoices):
        RTSP = "rtsp", _("RTSP stream")
        HTTP = "http", _("HTTP snapshot URL")
        FILE = "file", _("file or folder (replay)")

    class Analysis(models.TextChoices):
        COUNTS = "counts", _("counts per class")
        LINE = "line", _("counting line")
        ZONE = "zone", _("counting zone")
        ATTENDANCE = "attendance", _("duty attendance by face")
        MEETING = "meeting", _("meeting check-in by face")

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    location = models.PointField(_("location"), srid=4326)
    grid = models.ForeignKey(
        Grid, null=True, blank=True, on_delete=models.SET_NULL, related_name="cameras", verbose_name=_("grid")
    )
    station = models.ForeignKey(
        Station,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cameras",
        verbose_name=_("station watched"),
    )
    place = models.ForeignKey(
        Place, null=True, blank=True, on_delete=models.SET_NULL, related_name="cameras", verbose_name=_("place watched")
    )
    source_kind = models.CharField(_("source kind"), max_length=8, choices=SourceKind.choices)
    source = models.CharField(
        _("source"), max_length=500, help_text=_("rtsp://… or http(s)://… URL, or a file or folder path on the worker")
    )
    analyses = ArrayField(
        models.CharField(max_length=16, choices=Analysis.choices),
        default=list,
        blank=True,
        verbose_name=_("analyses"),
    )
    classes = ArrayField(
        models.CharField(max_length=60),
        default=list,
        blank=True,
        verbose_name=_("classes counted"),
        help_text=_("class names of the detector's model to count; empty counts every class"),
    )
    # Normalised image coordinates (0…1, origin top left): a line [[x, y], [x, y]], a zone [[x, y], …].
    line = models.JSONField(_("counting line"), null=True, blank=True)
    zone = models.JSONField(_("counting zone"), null=True, blank=True)
    interval_seconds = models.PositiveIntegerField(_("seconds between analyses"), default=60)
    schedule = models.JSONField(
        _("weekly schedule"),
        default=dict,
        blank=True,
        help_text=_('{"mon": [["08:00", "20:00"]], …}; empty means always.'),
    )
    enabled = models.BooleanField(_("enabled"), default=True)

    # Health of the source, written by the workers.
    last_frame_at = models.DateTimeField(_("last frame"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    failures = models.PositiveIntegerField(_("failures in a row"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # The latest observation, denormalised for the map layer's popup.
    latest_counts = models.JSONField(_("latest counts"), default=dict, blank=True)
    # The same as text ("person 4, bus 1"), a plain column that tiles and exports carry as it is.
    latest_summary = models.CharField(_("latest counts (text)"), max_length=300, blank=True)
    latest_observed_at = models.DateTimeField(_("latest observation"), null=True, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("camera")
        verbose_name_plural = _("cameras")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def clean(self) -> None:
        errors: dict[str, list] = {}
        for name, validate in (("line", validate_line), ("zone", validate_zone)):
            try:
                validate(getattr(self, name))
            except ValidationError as exc:
                errors[name] = exc.messages
        try:
            validate_weekly_hours(self.schedule, field="schedule")
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if self.interval_seconds is not None and self.interval_seconds < 1:
            errors["interval_seconds"] = [_("At least one second between analyses.")]
        if self.Analysis.LINE in (self.analyses or []) and not self.line and "line" not in errors:
            errors["line"] = [_("The analysis “counting line” needs a counting line.")]
        if self.Analysis.ZONE in (self.analyses or []) and not self.zone and "zone" not in errors:
            errors["zone"] = [_("The analysis “counting zone” needs a counting zone.")]
        kind, source = self.source_kind, (self.source or "").strip()
        schemes = {self.SourceKind.RTSP: ("rtsp://", "rtsps://"), self.SourceKind.HTTP: ("http://", "https://")}
        if kind in schemes and not source.lower().startswith(schemes[kind]):
            errors["source"] = [
                _("A source of this kind starts with %(schemes)s.") % {"schemes": " or ".join(schemes[kind])}
            ]
        if kind == self.SourceKind.FILE and "://" in source:
            errors["source"] = [_("A file source is a path on the worker, not a URL.")]
        if kind in self.SourceKind.values and source and "source" not in errors:
            problem = source_problem(kind=kind, source=source)
            if problem:
                errors["source"] = [problem]
        if errors:
            raise ValidationError(errors)

    @property
    def health(self) -> str:
        """failing (the last attempt gave no frame), ok (it gave one), or unknown (no frame yet, no failure)."""
        if self.failures:
            return "failing"
        return "ok" if self.last_frame_at else "unknown"


class Observation(models.Model):
    """What one analysed frame showed: counts per class, people in the zone, crossings of the line."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="observations", verbose_name=_("camera"))
    at = models.DateTimeField(_("time"), default=timezone.now)
    counts = models.JSONField(_("counts per class"), default=dict)
    zone_counts = models.JSONField(_("counts per class in the zone"), default=dict, blank=True)
    line_in = models.PositiveIntegerField(_("crossed the line inwards"), default=0)
    line_out = models.PositiveIntegerField(_("crossed the line outwards"), default=0)
    backend = models.CharField(_("detector backend"), max_length=16, blank=True)

    class Meta:
        ordering = ["camera", "at"]
        verbose_name = _("observation")
        verbose_name_plural = _("observations")
        indexes = [models.Index(fields=["camera", "at"], name="vision_observation_series")]


class Frame(models.Model):
    """A frame kept as evidence (a rule that fired, a meeting's record); purged after the retention period."""

    class Purpose(models.TextChoices):
        RULE = "rule", _("rule evidence")
        MEETING = "meeting", _("meeting record")
        ATTENDANCE = "attendance", _("attendance record")

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="frames", verbose_name=_("camera"))
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices)
    image = models.FileField(_("image"), upload_to="vision/frames/%Y/%m/%d/")

    class Meta:
        ordering = ["-at"]
        verbose_name = _("frame")
        verbose_name_plural = _("frames")


class Rule(TimeStampedModel):
    """A condition on a camera's observations that raises an incident; data, edited in the admin."""

    class Kind(models.TextChoices):
        COUNT_AT_LEAST = "count_at_least", _("count of a class in the zone at least N for M minutes")
        NOBODY_PRESENT = "nobody_present", _("nobody present during the active hours for M minutes")
        PRESENCE = "presence", _("anyone present during the active hours (a closed area)")

    name = models.CharField(_("name"), max_length=200)
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="rules", verbose_name=_("camera"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    object_class = models.CharField(_("class"), max_length=60, default="person")
    threshold = models.PositiveIntegerField(_("N (count)"), default=1)
    minutes = models.PositiveIntegerField(_("M (minutes)"), default=0)
    in_zone = models.BooleanField(_("count only inside the camera's zone"), default=False)
    active_hours = models.JSONField(
        _("active hours"),
        default=dict,
        blank=True,
        help_text=_('{"mon": [["22:00", "24:00"]], …}; empty means always.'),
    )
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="+", verbose_name=_("incident category")
    )
    note = models.CharField(_("incident note"), max_length=300, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)

    # State, written by the evaluation.
    condition_since = models.DateTimeField(_("condition holds since"), null=True, blank=True)
    incident = models.ForeignKey(
        Incident,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("incident raised"),
        help_text=_("the last incident raised; while it is open the rule raises no other"),
    )
    last_fired_at = models.DateTimeField(_("last fired"), null=True, blank=True)

    class Meta:
        ordering = ["camera", "name"]
        verbose_name = _("camera rule")
        verbose_name_plural = _("camera rules")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        validate_weekly_hours(self.active_hours, field="active_hours")
        if self.kind == self.Kind.COUNT_AT_LEAST and self.threshold < 1:
            raise ValidationError({"threshold": _("A count of at least 0 always holds: give 1 or more.")})
        if self.in_zone and self.camera_id is not None and not self.camera.zone:
            raise ValidationError({"in_zone": _("The camera has no counting zone.")})
