"""People and households of the register (人口), placed in grids."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db.models import Q, UniqueConstraint
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from grid.models import Grid, TimeStampedModel
from layers import crypto


class Household(TimeStampedModel):
    code = models.CharField(_("household number"), max_length=40, unique=True)
    address = models.CharField(_("address"), max_length=300)
    building = models.CharField(_("building"), max_length=20, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    room = models.CharField(_("room"), max_length=20, blank=True)
    location = models.PointField(_("location"), srid=4326, null=True, blank=True)
    grid = models.ForeignKey(
        Grid, null=True, blank=True, on_delete=models.SET_NULL, related_name="households_set", verbose_name=_("grid")
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("household")
        # a context of its own: grid's catalogue, which Django consults first, has "households" as a count (户数)
        verbose_name_plural = pgettext_lazy("register", "households")

    def __str__(self) -> str:
        return f"{self.address} {self.building}-{self.unit}-{self.room}".strip("- ")


class Gender(models.TextChoices):
    MALE = "male", _("male")
    FEMALE = "female", _("female")


class PersonCategory(models.TextChoices):
    REGISTERED = "registered", _("registered resident")
    FLOATING = "floating", _("floating resident")
    LEFT_BEHIND_CHILD = "left_behind_child", _("left-behind child")
    LEFT_BEHIND_ELDER = "left_behind_elder", _("left-behind elder")
    ELDERLY_ALONE = "elderly_alone", _("elderly living alone")
    DISABLED = "disabled", _("disabled")
    LOW_INCOME = "low_income", _("low-income")
    RELEASED = "released", _("released after sentence")
    DRUG_REHAB = "drug_rehab", _("under drug rehabilitation")
    VETERAN = "veteran", _("veteran")
    GIG_WORKER = "gig_worker", _("gig worker")
    PARTY_MEMBER = "party_member", _("party member")
    CADRE = "cadre", _("cadre")


# Invisible, on the map, in the API and in exports, to every role without clearance.
SENSITIVE_CATEGORIES = frozenset({PersonCategory.RELEASED, PersonCategory.DRUG_REHAB})


class WorkKind(models.TextChoices):
    COURIER = "courier", _("courier")
    FOOD_DELIVERY = "food_delivery", _("food delivery")
    RIDE_HAILING = "ride_hailing", _("ride-hailing")
    TRUCK_DRIVER = "truck_driver", _("truck driver")
    LIVE_STREAMER = "live_streamer", _("live-streamer")


class Person(TimeStampedModel):
    """A person of the register. ID-card number and phone are stored encrypted, with keyed hashes to search."""

    name = models.CharField(pgettext_lazy("person", "name"), max_length=100)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    id_card_encrypted = models.TextField(_("ID-card number (encrypted)"), blank=True, editable=False)
    id_card_hash = models.CharField(max_length=64, blank=True, editable=False)
    phone_encrypted = models.TextField(_("phone (encrypted)"), blank=True, editable=False)
    phone_hash = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="members", verbose_name=_("household")
    )
    location = models.PointField(_("address point"), srid=4326, null=True, blank=True)
    grid = models.ForeignKey(
        Grid, null=True, blank=True, on_delete=models.SET_NULL, related_name="people", verbose_name=_("grid")
    )
    categories = ArrayField(
        models.CharField(max_length=24, choices=PersonCategory.choices),
        default=list,
        blank=True,
        verbose_name=_("categories"),
    )
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
        verbose_name=_("account"),
    )
    # gig workers
    platform = models.CharField(_("platform"), max_length=100, blank=True)
    work_kind = models.CharField(_("work kind"), max_length=20, choices=WorkKind.choices, blank=True)
    employer = models.ForeignKey(
        "layers.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="employees",
        verbose_name=_("employer"),
    )
    # party members
    branch = models.ForeignKey(
        "layers.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        verbose_name=_("party branch"),
    )
    mobile_member = models.BooleanField(_("mobile party member"), default=False)
    member_code = models.CharField(
        _("member code"),
        max_length=20,
        blank=True,
        editable=False,
        help_text=_("One stable code per person (一人一号)."),
    )

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("person")
        verbose_name_plural = _("people")
        indexes = [GinIndex(fields=["categories"], name="layers_person_categories_gin")]
        constraints = [
            UniqueConstraint(fields=["id_card_hash"], condition=~Q(id_card_hash=""), name="layers_person_id_card_once"),
            UniqueConstraint(
                fields=["member_code"], condition=~Q(member_code=""), name="layers_person_member_code_once"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def set_id_card(self, value: str) -> None:
        self.id_card_encrypted, self.id_card_hash = crypto.encrypt(crypto.normalise(value)), crypto.search_hash(value)

    def set_phone(self, value: str) -> None:
        self.phone_encrypted, self.phone_hash = crypto.encrypt(crypto.normalise(value)), crypto.search_hash(value)

    @property
    def is_sensitive(self) -> bool:
        return bool(SENSITIVE_CATEGORIES & set(self.categories))
