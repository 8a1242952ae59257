"""Input fields shared by the geo endpoints: a point given as lon/lat or GeoJSON, in WGS 84, GCJ-02 or BD-09."""

import datetime as dt
import json
import math

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from grid.crs import CRS, to_wgs84


class FiniteFloatField(serializers.FloatField):
    """A float that is a real number: "nan" and "inf" parse as floats but are no coordinates."""

    default_error_messages = {"finite": _("A finite number is required.")}

    def to_internal_value(self, data):
        if isinstance(data, bool):  # float(True) is 1.0: a boolean is no coordinate
            self.fail("invalid")
        try:
            value = super().to_internal_value(data)
        except OverflowError:  # an integer too large for a float: JSON allows any number of digits
            self.fail("finite")
        if not math.isfinite(value):
            self.fail("finite")
        return value


class TextSlugRelatedField(serializers.SlugRelatedField):
    """A slug that must be plain text before it reaches a query: PostgreSQL refuses NUL in text outright (a 500),
    and an object or a number is no slug."""

    default_error_messages = {"invalid": _("Give the value as text.")}

    def __init__(self, *, max_length: int = 150, **kwargs):
        self.max_length = max_length
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or "\x00" in data or len(data) > self.max_length:
            self.fail("invalid")
        return super().to_internal_value(data)


class PointQuerySerializer(serializers.Serializer):
    """`lon`, `lat` and `crs` of a query string; validated_data["point"] is the WGS 84 point."""

    lon = FiniteFloatField(min_value=-180, max_value=180, help_text=_("longitude"))
    lat = FiniteFloatField(min_value=-90, max_value=90, help_text=_("latitude"))
    crs = serializers.ChoiceField(
        choices=[c.value for c in CRS],
        default=CRS.WGS84.value,
        help_text=_("the coordinate system of lon/lat: wgs84, gcj02 (Amap, Tencent, WeChat) or bd09 (Baidu)"),
    )

    def validate(self, attrs):
        lon, lat = to_wgs84(attrs["lon"], attrs["lat"], attrs["crs"])
        attrs["point"] = Point(lon, lat, srid=4326)
        return attrs


@extend_schema_field(
    {
        "type": "object",
        "description": "GeoJSON Point",
        "properties": {
            "type": {"type": "string", "enum": ["Point"]},
            "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3},
        },
    }
)
class GeoJSONPointField(serializers.Field):
    """A GeoJSON Point geometry (object or string) in longitude, latitude order."""

    default_error_messages = {
        "invalid": _('Expected a GeoJSON Point, e.g. {{"type": "Point", "coordinates": [lon, lat]}}.'),
        "range": _("Longitude must be within ±180 and latitude within ±90."),
    }

    def to_internal_value(self, data):
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                self.fail("invalid")
        if not isinstance(data, dict) or data.get("type") != "Point":
            self.fail("invalid")
        coords = data.get("coordinates")
        if (
            not isinstance(coords, list)
            or len(coords) not in (2, 3)
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)
        ):
            self.fail("invalid")
        try:
            lon, lat = float(coords[0]), float(coords[1])
        except OverflowError:
            self.fail("range")
        if not (math.isfinite(lon) and math.isfinite(lat)):
            self.fail("invalid")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):  # also false for NaN
            self.fail("range")
        # Built here, not parsed by GDAL: a client's GeoJSON "crs" member never reaches it.
        return Point(lon, lat, srid=4326)

    def to_representation(self, value):
        return json.loads(value.geojson)


class LocatedInputSerializer(serializers.Serializer):
    """A body with either lon + lat or a GeoJSON `location`, and its `crs`."""

    lon = FiniteFloatField(min_value=-180, max_value=180, required=False)
    lat = FiniteFloatField(min_value=-90, max_value=90, required=False)
    location = GeoJSONPointField(required=False)
    crs = serializers.ChoiceField(choices=[c.value for c in CRS], default=CRS.WGS84.value)

    def validate(self, attrs):
        has_lon, has_lat = "lon" in attrs, "lat" in attrs
        if "location" in attrs:
            if has_lon or has_lat:
                raise serializers.ValidationError({"location": _("Give either location or lon/lat, not both.")})
            lon, lat = attrs.pop("location").coords
        elif has_lon and has_lat:
            lon, lat = attrs.pop("lon"), attrs.pop("lat")
        else:
            missing = [name for name, present in (("lon", has_lon), ("lat", has_lat)) if not present]
            raise serializers.ValidationError(
                {name: _("This field is required (or give a GeoJSON location).") for name in missing}
            )
        lon, lat = to_wgs84(lon, lat, attrs.pop("crs"))
        attrs["location"] = Point(lon, lat, srid=4326)
        return attrs


def moment_in_utc(moment: dt.datetime) -> dt.datetime:
    """An aware moment (a naive one in the server's zone) in UTC. Python takes offsets up to ±23:59, PostgreSQL
    only up to ±15:59: sent with its own offset, "+21:33" would be a database error rather than a moment."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment.astimezone(dt.UTC)


class MomentFormField(IsoDateTimeField):
    """django-filter's ISO 8601 date-time, kept within the years that MomentField takes and sent in UTC."""

    default_error_messages = {"range": _("Give a moment between the years 1900 and 2999.")}

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        if not 1900 <= moment.year <= 2999:
            raise ValidationError(self.error_messages["range"], code="range")
        return moment_in_utc(moment)


class MomentFilter(filters.IsoDateTimeFilter):
    field_class = MomentFormField


@extend_schema_field({"oneOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]})
class MomentField(serializers.Field):
    """An ISO 8601 date or date and time; without an offset, in the server's time zone.

    A bare date is the start of that day, or with `end` the start of the next (so that a period "to" a date
    includes it). With `inclusive_end`, a date-time bound includes its own instant too (it becomes the next
    microsecond), for periods read as "up to and including"."""

    default_error_messages = {
        "invalid": _("Give a date (2025-01-31) or a date and time (2025-01-31T08:00:00+08:00)."),
        "range": _("Give a moment between the years 1900 and 2999."),
    }

    def __init__(self, *, end: bool = False, inclusive_end: bool = False, **kwargs):
        self.end, self.inclusive_end = end, inclusive_end
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = str(data).strip()
        try:
            # a bare date first: parse_datetime would read it as midnight
            day = parse_date(text)
            moment = None if day is not None else parse_datetime(text)
        except ValueError:  # well formed but impossible, e.g. 2025-02-30
            self.fail("invalid")
        if moment is None and day is None:
            self.fail("invalid")
        if not 1900 <= (moment or day).year <= 2999:  # and no overflow in the arithmetic that follows
            self.fail("range")
        if moment is None:
            return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=int(self.end)), dt.time.min))
        moment = moment_in_utc(moment)
        return moment + dt.timedelta(microseconds=1) if self.end and self.inclusive_end else moment

    def to_representation(self, value):
        return value.isoformat()
