"""Stations that serve gig workers: courier stations, worker hubs, party-and-mass service centres."""

import datetime as dt

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from grid.models.territory import Grid, TimeStampedModel
from grid.opening_hours import is_open_at, validate_opening_hours


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
        validate_opening_hours(self.opening_hours)
        unknown = set(self.amenities) - set(Station.Amenity.values)
        if unknown:
            raise ValidationError(
                {"amenities": _("Unknown amenities: %(names)s") % {"names": ", ".join(sorted(unknown))}}
            )

    def is_open_at(self, moment: dt.datetime) -> bool:
        return is_open_at(self.opening_hours, moment)
