"""Query fields shared by the engagement API."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from grid.api.params import FiniteFloatField


class NearField(serializers.CharField):
    """ "lon,lat": two finite numbers, longitude first, in the coordinate system of the query's `crs`."""

    default_error_messages = {"near": _("Give near as lon,lat (two numbers, longitude first).")}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 60)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        parts = super().to_internal_value(data).split(",")
        if len(parts) != 2:
            self.fail("near")
        number = FiniteFloatField()
        try:
            lon, lat = (number.to_internal_value(p.strip()) for p in parts)
        except serializers.ValidationError:
            self.fail("near")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            self.fail("near")
        return lon, lat
