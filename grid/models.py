"""The territory (administrative areas, grids), the stations that serve gig workers, and incidents."""

import datetime as dt

from django.contrib.auth.models import AbstractUser
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
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


class Station(TimeStampedModel):
    """A place that serves gig workers: a courier station, a worker hub, a party-and-mass centre."""

    class Kind(models.TextChoices):
        COURIER_STATION = "courier_station", _("courier station (小哥驿站)")
        WORKER_HUB = "worker_hub", _("outdoor worker hub")
        PARTY_MASS_CENTRE = "party_mass_centre", _("party-and-mass service centre")

    class Amenity(models.TextChoices):
        WATER = "water", _("drinking water")
        CHARGING = "charging", _("charging")
        RESTROOM = "restroom", _("restroom")
        MICROWAVE = "microwave", _("microwave")
        REST_SEATS = "rest_seats", _("rest seats")
        FIRST_AID = "first_aid", _("first aid kit")
        WIFI = "wifi", _("Wi-Fi")
        AIR_CONDITIONING = "air_conditioning", _("air conditioning")
        UMBRELLA = "umbrella", _("umbrella lending")
        REPAIR = "repair", _("repair tools")

    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices, db_index=True)
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)
    # geography: "within N metres" and KNN distances are in metres on the spheroid.
    location = models.PointField(_("location"), srid=4326, geography=True)
    amenities = ArrayField(
        models.CharField(max_length=24, choices=Amenity.choices), default=list, blank=True, verbose_name=_("amenities")
    )
    opening_hours = models.JSONField(
        _("weekly opening hours"),
        default=dict,
        blank=True,
        help_text=_(
            '{"mon": [["08:00", "20:00"]], …, "sun": []}; a missing day is closed; ["00:00", "24:00"] is all day.'
        ),
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    organization_name = models.CharField(_("owning organization"), max_length=200, blank=True)
    grid = models.ForeignKey(
        Grid,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="stations",
        verbose_name=_("grid"),
        editable=False,
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("station")
        verbose_name_plural = _("stations")
        indexes = [GinIndex(fields=["amenities"], name="grid_station_amenities_gin")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from grid.opening_hours import validate_opening_hours

        validate_opening_hours(self.opening_hours)
        unknown = set(self.amenities) - set(Station.Amenity.values)
        if unknown:
            raise ValidationError(
                {"amenities": _("Unknown amenities: %(names)s") % {"names": ", ".join(sorted(unknown))}}
            )

    def is_open_at(self, moment: dt.datetime) -> bool:
        from grid.opening_hours import is_open_at

        return is_open_at(self.opening_hours, moment)


class Category(TimeStampedModel):
    """An incident category. Categories are data: a tree editable in the admin."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent")
    )
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("incident category")
        verbose_name_plural = _("incident categories")

    def __str__(self) -> str:
        return self.name


class Incident(TimeStampedModel):
    """A report at a point. Its grid, community, street and county follow from the point."""

    class Status(models.TextChoices):
        REPORTED = "reported", _("reported")

    client_uuid = models.UUIDField(
        _("client UUID"), unique=True, help_text=_("Made by the reporting device; a resend with it creates nothing.")
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

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        indexes = [models.Index(fields=["community", "status"], name="grid_incident_comm_status")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.category}"
