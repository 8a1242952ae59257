"""Incidents and service requests: categories with deadlines, routing, the workflow's timeline, photos,
notifications and the outbox of webhook deliveries."""

from django.contrib.gis.db import models
from django.db.models import CheckConstraint, Q, UniqueConstraint
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grid.models.territory import AdminArea, Grid, TimeStampedModel, User


class Category(TimeStampedModel):
    """An incident category. Categories are data: a tree editable in the admin, each with its deadlines."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent")
    )
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)
    accept_minutes = models.PositiveIntegerField(
        _("minutes to accept"), default=120, help_text=_("From report (or reopening) to acceptance.")
    )
    resolve_minutes = models.PositiveIntegerField(
        _("minutes to resolve"), default=2880, help_text=_("From acceptance to resolution.")
    )
    escalate_after_minutes = models.PositiveIntegerField(
        _("minutes red before escalation"),
        default=240,
        help_text=_("An incident overdue for this long goes to the next level up (community → street → county)."),
    )
    duplicate_radius_m = models.PositiveIntegerField(
        _("duplicate radius (m)"),
        default=50,
        help_text=_("Open reports of this category within this distance are offered as possible duplicates."),
    )

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("incident category")
        verbose_name_plural = _("incident categories")
        constraints = [
            CheckConstraint(condition=Q(accept_minutes__gte=1), name="grid_category_accept_minutes_positive"),
            CheckConstraint(condition=Q(resolve_minutes__gte=1), name="grid_category_resolve_minutes_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class HandlingUnit(TimeStampedModel):
    """A unit that handles cases routed to it (a department, a team of a street office), with its members."""

    name = models.CharField(_("name"), max_length=100)
    area = models.ForeignKey(
        AdminArea, on_delete=models.PROTECT, related_name="handling_units", verbose_name=_("area it belongs to")
    )
    members = models.ManyToManyField(User, blank=True, related_name="handling_units", verbose_name=_("members"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("handling unit")
        verbose_name_plural = _("handling units")

    def __str__(self) -> str:
        return self.name


class RoutingRule(TimeStampedModel):
    """Reports of `category` (or a subcategory) inside `area` (or below it) go to `unit`.

    The most specific rule wins: the deepest area, then the deepest category."""

    area = models.ForeignKey(AdminArea, on_delete=models.CASCADE, related_name="routing_rules", verbose_name=_("area"))
    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="routing_rules", verbose_name=_("category")
    )
    unit = models.ForeignKey(
        HandlingUnit, on_delete=models.CASCADE, related_name="routing_rules", verbose_name=_("handling unit")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["area__code", "category__code"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        constraints = [UniqueConstraint(fields=["area", "category"], name="grid_routingrule_area_category_unique")]

    def __str__(self) -> str:
        return f"{self.area} × {self.category} → {self.unit}"


class Incident(TimeStampedModel):
    """A report or a service request at a point. Its grid, community, street and county follow from the point."""

    class Status(models.TextChoices):
        REPORTED = "reported", _("reported")
        ACCEPTED = "accepted", _("accepted")
        DISPATCHED = "dispatched", _("dispatched")
        IN_PROGRESS = "in_progress", _("in progress")
        RESOLVED = "resolved", _("resolved")
        CLOSED = "closed", _("closed")
        REJECTED = "rejected", _("rejected")
        DUPLICATE = "duplicate", _("duplicate")
        REOPENED = "reopened", _("reopened")

    class Kind(models.TextChoices):
        REPORT = "report", _("report (民情上报)")
        REQUEST = "request", _("service request (群众点单)")

    class Warning(models.TextChoices):
        GREEN = "green", _("green")
        YELLOW = "yellow", _("yellow")
        RED = "red", _("red")

    client_uuid = models.UUIDField(
        _("client UUID"), unique=True, help_text=_("Made by the reporting device; a resend with it creates nothing.")
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=Kind.choices, default=Kind.REPORT, db_default=Kind.REPORT, db_index=True
    )
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="incidents", verbose_name=_("category")
    )
    note = models.TextField(_("note"), blank=True, max_length=2000)
    # geometry (not geography): point-in-polygon against grid boundaries; metres via geography casts.
    location = models.PointField(_("location"), srid=4326)
    reporter = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reported_incidents",
        verbose_name=_("reporter"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.REPORTED, db_index=True
    )
    grid = models.ForeignKey(
        Grid,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
        verbose_name=_("grid"),
        editable=False,
    )
    community = models.ForeignKey(
        AdminArea,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("community"),
        editable=False,
    )
    street = models.ForeignKey(
        AdminArea,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("street / town"),
        editable=False,
    )
    county = models.ForeignKey(
        AdminArea,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("county"),
        editable=False,
    )
    # Who handles it: set by routing (community, or a rule's unit), moved up by escalation.
    handling_area = models.ForeignKey(
        AdminArea,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("handling area"),
        editable=False,
    )
    handling_unit = models.ForeignKey(
        HandlingUnit,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
        verbose_name=_("handling unit"),
        editable=False,
    )
    routed_at = models.DateTimeField(_("routed at"), null=True, blank=True, editable=False)
    assignee = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_incidents",
        verbose_name=_("assignee"),
        editable=False,
    )
    open_to_volunteers = models.BooleanField(_("open to volunteers"), default=False, db_default=False, editable=False)
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="duplicates",
        verbose_name=_("duplicate of"),
        editable=False,
    )
    # The current deadline: phase_started + the category's minutes for the phase (accept, then resolve).
    # yellow_at is 75% of the way there, so a level is a comparison with now, in Python or in SQL.
    phase_started = models.DateTimeField(_("phase started"), null=True, blank=True, editable=False)
    yellow_at = models.DateTimeField(_("yellow from"), null=True, blank=True, editable=False)
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True, editable=False, db_index=True)
    # The level last notified by the sweep, and since when; the live level is `warning_at(now)`.
    warning = models.CharField(
        _("warning level notified"),
        max_length=6,
        choices=Warning.choices,
        default=Warning.GREEN,
        db_default=Warning.GREEN,
        editable=False,
    )
    warning_since = models.DateTimeField(_("warning level since"), null=True, blank=True, editable=False)
    escalations = models.PositiveSmallIntegerField(_("escalations"), default=0, db_default=0, editable=False)
    accepted_at = models.DateTimeField(_("first accepted"), null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(_("last resolved"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, editable=False)
    rating = models.PositiveSmallIntegerField(_("reporter's rating"), null=True, blank=True, editable=False)
    feedback = models.TextField(
        _("reporter's comment"), blank=True, max_length=2000, default="", db_default="", editable=False
    )
    # (db_default: rows loaded with COPY or raw SQL get the same values as rows saved by Django.)
    # Bumped by every transition: a client may send the version it saw and be refused (409) if stale.
    version = models.PositiveIntegerField(_("version"), default=1, db_default=1, editable=False)

    OPEN_STATUSES = (Status.REPORTED, Status.REOPENED, Status.ACCEPTED, Status.DISPATCHED, Status.IN_PROGRESS)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        indexes = [
            models.Index(fields=["community", "status"], name="grid_incident_comm_status"),
            models.Index(fields=["category", "status"], name="grid_incident_cat_status"),
            models.Index(fields=["assignee", "status"], name="grid_incident_assignee_status"),
            models.Index(fields=["created"], condition=Q(routed_at__isnull=True), name="grid_incident_unrouted"),
            # the console polls "what changed since" every few seconds
            models.Index(fields=["modified"], name="grid_incident_modified"),
        ]
        constraints = [
            CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="grid_incident_rating_1_5"
            ),
            CheckConstraint(
                condition=Q(status="duplicate", duplicate_of__isnull=False) | ~Q(status="duplicate"),
                name="grid_incident_duplicate_has_original",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.category}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def warning_at(self, moment) -> str:
        """The live warning level at `moment`: red past the deadline, yellow past 75% of it, else green."""
        if self.deadline is None or not self.is_open:
            return self.Warning.GREEN
        if moment > self.deadline:
            return self.Warning.RED
        if self.yellow_at is not None and moment >= self.yellow_at:
            return self.Warning.YELLOW
        return self.Warning.GREEN


class IncidentEvent(models.Model):
    """One entry of an incident's timeline: a transition, a routing, a warning, an escalation, feedback."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events", verbose_name=_("incident"))
    action = models.CharField(_("action"), max_length=20, db_index=True)
    from_status = models.CharField(_("from status"), max_length=20, blank=True)
    to_status = models.CharField(_("to status"), max_length=20, blank=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("actor")
    )
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    note = models.TextField(_("note"), blank=True, max_length=2000)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")

    def __str__(self) -> str:
        return f"#{self.incident_id} {self.action} {self.at:%Y-%m-%d %H:%M}"


def _photo_path(instance: "IncidentPhoto", filename: str) -> str:
    return f"incidents/{timezone.now():%Y/%m}/{instance.sha256[:2]}/{instance.sha256}{filename[filename.rfind('.') :]}"


class IncidentPhoto(models.Model):
    """A photo of an incident, re-encoded without EXIF, with a thumbnail. Served only through the API."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="photos", verbose_name=_("incident"))
    event = models.ForeignKey(
        IncidentEvent,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="photos",
        verbose_name=_("timeline entry"),
    )
    image = models.FileField(_("image"), upload_to=_photo_path, max_length=200)
    thumbnail = models.FileField(_("thumbnail"), upload_to="incidents/thumbs/", max_length=200)
    content_type = models.CharField(_("content type"), max_length=20)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    # Of the uploaded bytes: the same photo sent twice (a resend) is stored once.
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("uploaded by")
    )
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["created", "id"]
        verbose_name = _("incident photo")
        verbose_name_plural = _("incident photos")
        constraints = [UniqueConstraint(fields=["incident", "sha256"], name="grid_incidentphoto_once_per_incident")]


class Notification(models.Model):
    """A message to one account about an incident: assigned, warning level rose, escalated…"""

    recipient = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("recipient")
    )
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="+", verbose_name=_("incident")
    )
    kind = models.CharField(_("kind"), max_length=20)
    message = models.CharField(_("message"), max_length=300)
    created = models.DateTimeField(_("created"), default=timezone.now)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["recipient", "read_at"], name="grid_notification_unread")]


class WebhookDelivery(models.Model):
    """The outbox: one row per timeline entry and webhook URL, written in the transition's transaction."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")

    event = models.ForeignKey(
        IncidentEvent, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("timeline entry")
    )
    url = models.URLField(_("URL"), max_length=500)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [UniqueConstraint(fields=["event", "url"], name="grid_webhookdelivery_once_per_url")]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="grid_webhookdelivery_pending")
        ]
