"""Face enrolments (consented, templates encrypted), cadres' duty schedules and the attendance recorded from
duty-room cameras, and meetings whose camera checks members in."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grid.models import AdminArea, User
from layers.models import Organization, Person
from vision.models import Camera, Frame


class FaceEnrolment(models.Model):
    """A person's face template. Only with recorded consent; the template is stored encrypted."""

    class Method(models.TextChoices):
        LBPH = "lbph", _("LBPH (OpenCV contrib)")
        DLIB = "dlib", _("dlib embeddings")

    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="face_enrolments", verbose_name=_("person")
    )
    method = models.CharField(_("method"), max_length=8, choices=Method.choices)
    consent = models.BooleanField(_("consent recorded"), default=False)
    consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    consent_recorded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("consent recorded by")
    )
    template_encrypted = models.TextField(_("template (encrypted)"))
    photos = models.PositiveIntegerField(_("photos used"), default=0)
    created = models.DateTimeField(_("created"), default=timezone.now)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["person", "-created"]
        verbose_name = _("face enrolment")
        verbose_name_plural = _("face enrolments")
        constraints = [
            models.CheckConstraint(condition=models.Q(consent=True), name="attendance_enrolment_needs_consent"),
        ]

    def __str__(self) -> str:
        return f"{self.person} ({self.get_method_display()}, {self.created:%Y-%m-%d})"


class DutySchedule(models.Model):
    """A cadre's duty in a duty room on some weekdays, from `start` to `end`."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="duties", verbose_name=_("person"))
    camera = models.ForeignKey(
        Camera, on_delete=models.CASCADE, related_name="duties", verbose_name=_("duty room camera")
    )
    village = models.ForeignKey(
        AdminArea, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("village")
    )
    weekdays = ArrayField(
        models.PositiveSmallIntegerField(),
        default=list,
        verbose_name=_("weekdays"),
        help_text=_("0 = Monday … 6 = Sunday"),
    )
    start = models.TimeField(_("starts"))
    end = models.TimeField(_("ends"))
    no_show_after_minutes = models.PositiveIntegerField(_("no-show after (minutes)"), default=30)
    responsible = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("responsible person")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["camera", "start"]
        verbose_name = _("duty schedule")
        verbose_name_plural = _("duty schedules")

    def __str__(self) -> str:
        return f"{self.person} {self.start:%H:%M}–{self.end:%H:%M} @ {self.camera}"


class DutyAttendance(models.Model):
    """One duty day: when the cadre was first and last seen by the duty room's camera."""

    class Status(models.TextChoices):
        PRESENT = "present", _("present")
        LATE = "late", _("late")
        ABSENT = "absent", _("absent")

    schedule = models.ForeignKey(
        DutySchedule, on_delete=models.CASCADE, related_name="days", verbose_name=_("duty schedule")
    )
    date = models.DateField(_("date"))
    arrived_at = models.DateTimeField(_("arrived"), null=True, blank=True)
    left_at = models.DateTimeField(_("left"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, blank=True)
    no_show_notified_at = models.DateTimeField(_("no-show notice sent"), null=True, blank=True)

    class Meta:
        ordering = ["-date"]
        verbose_name = _("duty day")
        verbose_name_plural = _("duty days")
        constraints = [models.UniqueConstraint(fields=["schedule", "date"], name="attendance_one_row_per_duty_day")]

    def __str__(self) -> str:
        return f"{self.schedule.person} {self.date} {self.get_status_display()}"


class Meeting(models.Model):
    """A meeting at a camera's place; recognised members are checked in and a few frames kept."""

    title = models.CharField(_("title"), max_length=200)
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="meetings", verbose_name=_("camera"))
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("organization")
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    members = models.ManyToManyField(Person, blank=True, related_name="+", verbose_name=_("expected members"))
    frames = models.ManyToManyField(Frame, blank=True, related_name="+", verbose_name=_("photo record"))

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")

    def __str__(self) -> str:
        return f"{self.title} ({self.starts_at:%Y-%m-%d %H:%M})"


class MeetingCheckin(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="checkins", verbose_name=_("meeting"))
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+", verbose_name=_("person"))
    at = models.DateTimeField(_("checked in"), default=timezone.now)

    class Meta:
        ordering = ["meeting", "at"]
        verbose_name = _("meeting check-in")
        verbose_name_plural = _("meeting check-ins")
        constraints = [models.UniqueConstraint(fields=["meeting", "person"], name="attendance_one_checkin_per_member")]

    def __str__(self) -> str:
        return f"{self.person} @ {self.meeting}"
