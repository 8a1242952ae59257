"""Members and branches: the personal code (一人一号), branch cadres, notices, mobile members' whereabouts,
and the keepers of stations."""

from django.contrib.gis.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grid.models import AdminArea, Station, TimeStampedModel, User
from layers.models import Organization, Person


class PersonalCode(models.Model):
    """The version of a person's QR code. The code signs (member code, version): re-issuing raises the version,
    so every code printed or shown before stops verifying."""

    person = models.OneToOneField(
        Person, on_delete=models.CASCADE, related_name="personal_code", verbose_name=_("person")
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    issued_at = models.DateTimeField(_("issued"), default=timezone.now)

    class Meta:
        verbose_name = _("personal code")
        verbose_name_plural = _("personal codes")

    def __str__(self) -> str:
        return f"{self.person} v{self.version}"


class BranchCadre(models.Model):
    """A branch's secretary and committee members: they run its activities, notices and records."""

    class Title(models.TextChoices):
        SECRETARY = "secretary", _("secretary")
        DEPUTY_SECRETARY = "deputy_secretary", _("deputy secretary")
        COMMITTEE_MEMBER = "committee_member", _("committee member")
        ORGANIZER = "organizer", _("organizer")

    branch = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="cadres", verbose_name=_("party branch")
    )
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="cadre_posts", verbose_name=_("person"))
    title = models.CharField(_("title"), max_length=20, choices=Title.choices, default=Title.SECRETARY)

    class Meta:
        ordering = ["branch", "title"]
        verbose_name = _("branch cadre")
        verbose_name_plural = _("branch cadres")
        constraints = [models.UniqueConstraint(fields=["branch", "person"], name="engagement_one_post_per_branch")]

    def __str__(self) -> str:
        return f"{self.person} ({self.get_title_display()}, {self.branch})"


class BranchNotice(TimeStampedModel):
    branch = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="notices", verbose_name=_("party branch")
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    published_at = models.DateTimeField(_("published"), default=timezone.now, db_index=True)
    author = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("author")
    )
    client_uuid = models.UUIDField(_("client id"), unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("branch notice")
        verbose_name_plural = _("branch notices")

    def __str__(self) -> str:
        return self.title


class MobileMemberRecord(TimeStampedModel):
    """Where a member who lives or works away from the home branch is (流动党员), from `since` until `until`."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="whereabouts", verbose_name=_("person"))
    community = models.ForeignKey(
        AdminArea, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("community")
    )
    location = models.PointField(_("location"), srid=4326, geography=True, null=True, blank=True)
    since = models.DateField(_("since"))
    until = models.DateField(_("until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    client_uuid = models.UUIDField(_("client id"), unique=True, null=True, blank=True)

    class Meta:
        ordering = ["person", "-since", "-id"]
        verbose_name = _("mobile member record")
        verbose_name_plural = _("mobile member records")
        constraints = [
            # one current record per member: recording a new one closes the previous
            models.UniqueConstraint(
                fields=["person"], condition=models.Q(until=None), name="engagement_one_current_whereabouts"
            ),
            models.CheckConstraint(
                condition=models.Q(until=None) | models.Q(until__gte=models.F("since")),
                name="engagement_whereabouts_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} @ {self.community or self.location} ({self.since})"


class StationKeeper(models.Model):
    """An account that keeps a station: it confirms the pickups of mall orders there."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="keepers", verbose_name=_("station"))
    account = models.ForeignKey(User, on_delete=models.CASCADE, related_name="kept_stations", verbose_name=_("account"))

    class Meta:
        verbose_name = _("station keeper")
        verbose_name_plural = _("station keepers")
        constraints = [models.UniqueConstraint(fields=["station", "account"], name="engagement_one_keeper_row")]

    def __str__(self) -> str:
        return f"{self.account} @ {self.station}"
