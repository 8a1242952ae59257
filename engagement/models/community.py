"""Community check-in (进社区报到), volunteer tasks and small wishes (微心愿), and service hours."""

from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from grid.models import AdminArea, Incident, TimeStampedModel, User
from layers.models import Organization, Person


class CommunityRegistration(TimeStampedModel):
    """A member or gig worker registers with the community where they live or work; its dispatcher decides."""

    class Basis(models.TextChoices):
        LIVE = "live", _("lives there")
        WORK = "work", _("works there")

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for an answer")
        ACCEPTED = "accepted", _("accepted")
        DECLINED = "declined", _("declined")
        WITHDRAWN = "withdrawn", _("withdrawn")

    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="community_registrations", verbose_name=_("person")
    )
    community = models.ForeignKey(AdminArea, on_delete=models.CASCADE, related_name="+", verbose_name=_("community"))
    basis = models.CharField(_("basis"), max_length=8, choices=Basis.choices, default=Basis.LIVE)
    location = models.PointField(_("where"), srid=4326, geography=True, null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("decided by")
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    answer = models.CharField(_("answer"), max_length=300, blank=True)
    client_uuid = models.UUIDField(_("client id"), unique=True)
    # What the acceptance gave the account so that it may claim the community's service requests: the community
    # among its areas, the volunteer flag. Only what a registration gave is taken back when it ends.
    granted_area = models.BooleanField(_("gave the community to the account"), default=False, editable=False)
    granted_volunteer = models.BooleanField(_("made the account a volunteer"), default=False, editable=False)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("community check-in")
        verbose_name_plural = _("community check-ins")
        constraints = [
            models.UniqueConstraint(
                fields=["person", "community"],
                condition=Q(status__in=["pending", "accepted"]),
                name="engagement_one_live_registration",
            )
        ]

    def __str__(self) -> str:
        return f"{self.person} → {self.community} ({self.get_status_display()})"


class VolunteerTask(TimeStampedModel):
    """A volunteer task or a resident's small wish (微心愿) published by a branch; the first claim wins."""

    class Kind(models.TextChoices):
        TASK = "task", _("volunteer task")
        WISH = "wish", _("small wish (微心愿)")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        CLAIMED = "claimed", _("claimed")
        DONE = "done", _("done")
        CANCELLED = "cancelled", _("cancelled")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.TASK)
    branch = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="volunteer_tasks", verbose_name=_("party branch")
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    wished_by = models.CharField(_("wished by"), max_length=100, blank=True)
    location = models.PointField(_("where"), srid=4326, geography=True, null=True, blank=True)
    community = models.ForeignKey(
        AdminArea, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("community")
    )
    due = models.DateTimeField(_("due"), null=True, blank=True)
    hours = models.DecimalField(_("expected hours"), max_digits=5, decimal_places=1, default=1)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    claimed_by = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="claimed_tasks",
        verbose_name=_("claimed by"),
    )
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("marked done by")
    )
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )
    client_uuid = models.UUIDField(_("client id"), unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("volunteer task")
        verbose_name_plural = _("volunteer tasks")
        indexes = [models.Index(fields=["status", "branch"], name="engagement_vtask_status_branch")]
        constraints = [
            models.CheckConstraint(condition=Q(hours__gt=0), name="engagement_vtask_hours_positive"),
        ]

    def __str__(self) -> str:
        return self.title


class ServiceHours(TimeStampedModel):
    """Hours a volunteer served: for a service request they resolved, or a volunteer task they did."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="service_hours", verbose_name=_("person"))
    hours = models.DecimalField(_("hours"), max_digits=5, decimal_places=1)
    incident = models.OneToOneField(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("service request")
    )
    task = models.OneToOneField(
        VolunteerTask,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("volunteer task"),
    )
    activity = models.ForeignKey(
        "engagement.Activity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("activity"),
    )
    served_on = models.DateField(_("served on"))
    recorded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("recorded by")
    )

    class Meta:
        ordering = ["-served_on", "-id"]
        verbose_name = _("service hours")
        verbose_name_plural = _("service hours")
        constraints = [models.CheckConstraint(condition=Q(hours__gt=0), name="engagement_hours_positive")]

    def __str__(self) -> str:
        return f"{self.person} {self.hours} h ({self.served_on})"
