"""The territory: accounts and their roles, administrative areas and grids."""

from django.contrib.auth.models import AbstractUser
from django.contrib.gis.db import models
from django.core.exceptions import ValidationError
from django.db.models import CheckConstraint, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    # A default, not auto_now_add: imports and the demo history carry their own times.
    created = models.DateTimeField(_("created"), default=timezone.now, db_index=True, editable=False)
    modified = models.DateTimeField(_("modified"), auto_now=True)

    class Meta:
        abstract = True


class Role(models.TextChoices):
    GRID_WORKER = "grid_worker", _("grid worker")
    DISPATCHER = "dispatcher", _("dispatcher")
    ADMINISTRATOR = "administrator", _("administrator")
    AUDITOR = "auditor", _("auditor")
    GIG_WORKER = "gig_worker", _("gig worker")
    RESIDENT = "resident", _("resident")


class User(AbstractUser):
    """An account. Its role and its areas (or, for grid workers, its grids) are its access scope."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.RESIDENT)
    areas = models.ManyToManyField(
        "AdminArea",
        blank=True,
        related_name="responsible_users",
        verbose_name=_("areas in scope"),
        help_text=_("Dispatchers: a community or street; administrators and auditors: a county or above."),
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    sensitive_clearance = models.BooleanField(
        _("sensitive clearance"),
        default=False,
        help_text=_("May see sensitive categories and unmasked ID-card numbers and phones (each read is audited)."),
    )
    volunteer = models.BooleanField(
        _("volunteer"),
        default=False,
        help_text=_("May claim service requests opened to volunteers near them (党员接单)."),
    )

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")


class AdminArea(TimeStampedModel):
    """One node of the administrative tree, province down to community/village, with its boundary."""

    class Level(models.IntegerChoices):
        PROVINCE = 1, _("province")
        CITY = 2, _("city")
        COUNTY = 3, _("county")
        STREET = 4, _("street / town")
        COMMUNITY = 5, _("community / village")

    # Statistical division code: 6-digit county code, then 3 digits street/town, 3 digits community.
    code = models.CharField(_("code"), max_length=12, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(_("level"), choices=Level.choices, db_index=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    boundary = models.MultiPolygonField(_("boundary"), srid=4326)

    class Meta:
        ordering = ["code"]
        verbose_name = _("administrative area")
        verbose_name_plural = _("administrative areas")
        constraints = [
            CheckConstraint(condition=Q(boundary__isvalid=True), name="%(app_label)s_%(class)s_boundary_valid"),
            CheckConstraint(
                condition=Q(code__regex=r"^[0-9]{6}([0-9]{3}){0,2}$"), name="%(app_label)s_%(class)s_code_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self) -> None:
        if self.parent_id is not None and self.parent.level >= self.level:
            raise ValidationError({"parent": _("The parent must be a higher level than the area itself.")})
        if self.boundary is not None and not self.boundary.valid:
            raise ValidationError(
                {"boundary": _("Invalid boundary: %(reason)s") % {"reason": self.boundary.valid_reason}}
            )

    def ancestor(self, level: int) -> "AdminArea | None":
        """The area itself or its ancestor at `level` (walks up a tree at most five deep)."""
        area: AdminArea | None = self
        while area is not None and area.level > level:
            area = area.parent
        return area if area is not None and area.level == level else None


class Grid(TimeStampedModel):
    """A grid (网格): a few hundred households inside one community, served by its grid workers."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    community = models.ForeignKey(
        AdminArea,
        on_delete=models.PROTECT,
        related_name="grids",
        verbose_name=_("community"),
        limit_choices_to={"level": AdminArea.Level.COMMUNITY},
    )
    boundary = models.MultiPolygonField(_("boundary"), srid=4326)
    households = models.PositiveIntegerField(_("households"), default=0)
    workers = models.ManyToManyField(
        User,
        blank=True,
        related_name="grids",
        verbose_name=_("grid workers"),
        limit_choices_to={"role": Role.GRID_WORKER},
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("grid")
        verbose_name_plural = _("grids")
        constraints = [
            CheckConstraint(condition=Q(boundary__isvalid=True), name="%(app_label)s_%(class)s_boundary_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self) -> None:
        if self.boundary is None:
            return
        if not self.boundary.valid:
            raise ValidationError(
                {"boundary": _("Invalid boundary: %(reason)s") % {"reason": self.boundary.valid_reason}}
            )
        if self.community_id is None:
            return
        if self.community.level != AdminArea.Level.COMMUNITY:
            raise ValidationError({"community": _("A grid belongs to a community or village.")})
        # Interiors that intersect ("T********"): touching along an edge is allowed, overlap is not.
        overlapping = (
            Grid.objects.filter(community_id=self.community_id)
            .exclude(pk=self.pk)
            .filter(boundary__relate=(self.boundary, "T********"))
            .order_by("code")
            .first()
        )
        if overlapping is not None:
            raise ValidationError(
                {
                    "boundary": _("This boundary overlaps grid %(code)s %(name)s of the same community.")
                    % {"code": overlapping.code, "name": overlapping.name}
                }
            )
