"""Activities of branches (三会一课, 主题党日, volunteering, training), their records and their check-ins."""

import secrets

from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from grid.models import Grid, Station, TimeStampedModel, User
from layers.models import Organization, Person, Place


def _code_secret() -> str:
    return secrets.token_hex(20)


class Activity(TimeStampedModel):
    class Kind(models.TextChoices):
        GENERAL_MEETING = "general_meeting", _("branch general meeting (支部党员大会)")
        COMMITTEE_MEETING = "committee_meeting", _("branch committee meeting (支委会)")
        GROUP_MEETING = "group_meeting", _("party group meeting (党小组会)")
        PARTY_LECTURE = "party_lecture", _("party lecture (党课)")
        THEME_DAY = "theme_day", _("theme party day (主题党日)")
        VOLUNTEER = "volunteer", _("volunteer service")
        TRAINING = "training", _("training")
        OTHER = "other", _("other")

    class Audience(models.TextChoices):
        BRANCH = "branch", _("the branch's members")
        BRANCHES = "branches", _("members of several branches")
        ALL = "all", _("open to all members")

    class Status(models.TextChoices):
        PLANNED = "planned", _("planned")
        CANCELLED = "cancelled", _("cancelled")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, db_index=True)
    branch = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="activities", verbose_name=_("organizing branch")
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    # The venue: always a point (check-ins measure from it), copied from a station, place or organization when
    # one of those is named.
    location = models.PointField(_("venue"), srid=4326, geography=True)
    venue_name = models.CharField(_("venue name"), max_length=200, blank=True)
    venue_station = models.ForeignKey(
        Station, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("station")
    )
    venue_place = models.ForeignKey(
        Place, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("place")
    )
    venue_organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("organization")
    )
    grid = models.ForeignKey(
        Grid, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("grid"), editable=False
    )
    starts_at = models.DateTimeField(_("starts"), db_index=True)
    ends_at = models.DateTimeField(_("ends"))
    radius_m = models.PositiveIntegerField(_("check-in radius (m)"), default=200)
    grace_minutes = models.PositiveIntegerField(_("check-in grace (minutes)"), default=15)
    audience = models.CharField(
        _("expected attendees"), max_length=10, choices=Audience.choices, default=Audience.BRANCH
    )
    invited_branches = models.ManyToManyField(
        Organization, blank=True, related_name="invitations", verbose_name=_("invited branches")
    )
    cross_branch = models.BooleanField(_("members of other branches may check in"), default=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PLANNED)
    minutes = models.TextField(_("minutes"), blank=True)
    # The rotating code's key (TOTP over 30 s steps); never leaves the server except as the current code.
    code_secret = models.CharField(max_length=40, default=_code_secret, editable=False)
    # A meeting whose camera checks members in by face: its check-ins are attendances, its frames the record.
    meeting = models.OneToOneField(
        "attendance.Meeting",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activity",
        verbose_name=_("face check-in meeting"),
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )
    # The organizer's phone may resend a create: the same id answers the activity made the first time.
    client_uuid = models.UUIDField(_("client id"), null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="engagement_activity_window"),
            models.CheckConstraint(condition=Q(radius_m__gte=10), name="engagement_activity_radius"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.starts_at:%Y-%m-%d})"


class ActivityMedia(TimeStampedModel):
    """A photo or short video of an activity's record; type and size checked as incident photos are."""

    class Kind(models.TextChoices):
        PHOTO = "photo", _("photo")
        VIDEO = "video", _("video")

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="media", verbose_name=_("activity"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    file = models.FileField(_("file"), upload_to="activities/%Y/%m/")
    thumbnail = models.ImageField(_("thumbnail"), upload_to="activities/%Y/%m/", blank=True)
    content_type = models.CharField(_("content type"), max_length=40)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("uploaded by")
    )

    class Meta:
        ordering = ["activity", "created"]
        verbose_name = _("activity photo or video")
        verbose_name_plural = _("activity photos and videos")
        constraints = [models.UniqueConstraint(fields=["activity", "sha256"], name="engagement_media_once")]


class CheckIn(models.Model):
    """One member's attendance at one activity. Counted for the member's home branch at the time."""

    class Method(models.TextChoices):
        GEOFENCE = "geofence", _("position")
        CODE = "code", _("rotating code")
        FACE = "face", _("face")
        ORGANIZER = "organizer", _("by the organizer")

    activity = models.ForeignKey(
        Activity, on_delete=models.CASCADE, related_name="checkins", verbose_name=_("activity")
    )
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="checkins", verbose_name=_("person"))
    home_branch = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("home branch")
    )
    method = models.CharField(_("method"), max_length=10, choices=Method.choices)
    at = models.DateTimeField(_("checked in"), db_index=True)
    client_uuid = models.UUIDField(_("client id"), unique=True)
    location = models.PointField(_("position"), srid=4326, geography=True, null=True, blank=True)
    accuracy_m = models.FloatField(_("accuracy (m)"), null=True, blank=True)
    distance_m = models.FloatField(_("distance to the venue (m)"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("recorded by")
    )

    class Meta:
        ordering = ["activity", "at"]
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        constraints = [models.UniqueConstraint(fields=["activity", "person"], name="engagement_one_checkin_per_member")]

    def __str__(self) -> str:
        return f"{self.person} @ {self.activity}"

    @property
    def cross_branch(self) -> bool:
        return self.home_branch_id is not None and self.home_branch_id != self.activity.branch_id
