"""Places (地), things (物) and organizations (组织) of the register."""

from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from grid.models import Grid, TimeStampedModel


class Place(TimeStampedModel):
    class Kind(models.TextChoices):
        DINING = "dining", _("dining")
        SHOPPING = "shopping", _("shopping")
        LODGING = "lodging", _("lodging")
        TRANSIT = "transit", _("transit")
        EDUCATION = "education", _("education")
        MEDICAL = "medical", _("medical")
        GOVERNMENT = "government", _("government service")
        CULTURE = "culture", _("culture and sport")
        RESIDENTIAL = "residential", _("residential compound")
        OTHER = "other", _("other")

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, db_index=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    location = models.PointField(_("location"), srid=4326)
    grid = models.ForeignKey(
        Grid, null=True, blank=True, on_delete=models.SET_NULL, related_name="places", verbose_name=_("grid")
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("place")
        verbose_name_plural = _("places")

    def __str__(self) -> str:
        return self.name


class Thing(TimeStampedModel):
    class Kind(models.TextChoices):
        HYDRANT = "hydrant", _("fire hydrant")
        CAMERA = "camera", _("camera")
        MANHOLE = "manhole", _("manhole cover")
        STREET_LIGHT = "street_light", _("street light")
        AED = "aed", _("AED")
        BIN = "bin", _("waste bin")
        CHARGING_PILE = "charging_pile", _("charging pile")
        EXTINGUISHER = "extinguisher", _("fire extinguisher")
        OTHER = "other", _("other")

    class Condition(models.TextChoices):
        OK = "ok", _("in order")
        DAMAGED = "damaged", _("damaged")
        RETIRED = "retired", _("retired")

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, db_index=True)
    condition = models.CharField(_("condition"), max_length=10, choices=Condition.choices, default=Condition.OK)
    location = models.PointField(_("location"), srid=4326)
    grid = models.ForeignKey(
        Grid, null=True, blank=True, on_delete=models.SET_NULL, related_name="things", verbose_name=_("grid")
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("thing")
        verbose_name_plural = _("things")

    def __str__(self) -> str:
        return self.name


class Organization(TimeStampedModel):
    """A tree: party committee → general branch → branch; enterprises, platforms, associations, departments."""

    class Kind(models.TextChoices):
        PARTY_COMMITTEE = "party_committee", _("party committee")
        GENERAL_BRANCH = "general_branch", _("general party branch")
        BRANCH = "branch", _("party branch")
        ENTERPRISE = "enterprise", _("enterprise")
        PLATFORM = "platform", _("platform company")
        ASSOCIATION = "association", _("association")
        DEPARTMENT = "department", _("government department")

    PARTY_KINDS = frozenset({Kind.PARTY_COMMITTEE, Kind.GENERAL_BRANCH, Kind.BRANCH})

    code = models.CharField(
        _("code"),
        max_length=40,
        unique=True,
        help_text=_("Unified social credit code, or the party organisation code."),
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, db_index=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent")
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    # A point (an office) or a polygon (a compound, a party committee's territory).
    geometry = models.GeometryField(_("geometry"), srid=4326, null=True, blank=True)
    grid = models.ForeignKey(
        Grid, null=True, blank=True, on_delete=models.SET_NULL, related_name="organizations", verbose_name=_("grid")
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self) -> str:
        return self.name
