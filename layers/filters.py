"""The filters of a layer query (bbox, area, category, kind, from/to), judged against the layer and the user.

Shared by the layer endpoints and by exports, whose worker re-reads a job's filters by the same rules.
"""

import math

from django.contrib.gis.geos import Polygon
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from grid.api.params import MomentField
from layers.registry import Layer
from layers.selectors import LayerFilters, area_code_exists, filter_value_exists


@extend_schema_field({"type": "string", "example": "109.90,35.15,110.00,35.25"})
class BBoxField(serializers.Field):
    """min_lon,min_lat,max_lon,max_lat in WGS 84 degrees → a Polygon (SRID 4326)."""

    default_error_messages = {
        "invalid": _("Expected four numbers: min_lon,min_lat,max_lon,max_lat."),
        "range": _("Longitude must be within ±180 and latitude within ±90."),
        "order": _("Each minimum must be less than its maximum."),
    }

    def to_internal_value(self, data):
        parts = str(data).split(",")
        if len(parts) != 4:
            self.fail("invalid")
        try:
            values = [float(part) for part in parts]
        except ValueError:
            self.fail("invalid")
        if not all(math.isfinite(v) for v in values):
            self.fail("invalid")
        min_lon, min_lat, max_lon, max_lat = values
        if not all(-180 <= lon <= 180 for lon in (min_lon, max_lon)) or not all(
            -90 <= lat <= 90 for lat in (min_lat, max_lat)
        ):
            self.fail("range")
        if min_lon >= max_lon or min_lat >= max_lat:
            self.fail("order")
        bbox = Polygon.from_bbox(values)
        bbox.srid = 4326
        return bbox

    def to_representation(self, value):
        return ",".join(str(v) for v in value.extent)


class PeriodSerializer(serializers.Serializer):
    """`from` and `to` (Python keywords, hence declared in get_fields); `to` must not precede `from`."""

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = MomentField(required=False, help_text=_("from this date or date-time on"))
        fields["to"] = MomentField(
            end=True, inclusive_end=True, required=False, help_text=_("up to this date (inclusive) or date-time")
        )
        return fields

    def validate(self, attrs):
        since, until = attrs.get("from"), attrs.get("to")
        if since is not None and until is not None and until <= since:
            raise serializers.ValidationError({"to": _("“to” must not be before “from”.")})
        return attrs


class LayerQuerySerializer(PeriodSerializer):
    """The filters of a layer endpoint. context: `layer` and `user` (filter values depend on both)."""

    in_bbox = BBoxField(required=False, help_text=_("min_lon,min_lat,max_lon,max_lat"))
    area = serializers.CharField(
        required=False, max_length=20, help_text=_("the code of an administrative area or of a grid")
    )
    category = serializers.CharField(required=False, max_length=60)
    kind = serializers.CharField(required=False, max_length=60)

    def validate_area(self, value):
        if not area_code_exists(value):
            raise serializers.ValidationError(_("No administrative area or grid has this code."))
        return value

    def _validate_choice(self, which: str, value: str) -> str:
        layer: Layer = self.context["layer"]
        if not (layer.category_lookup if which == "category" else layer.kind_lookup):
            raise serializers.ValidationError(_("This layer cannot be filtered by %(name)s.") % {"name": which})
        if not filter_value_exists(layer=layer, which=which, value=value, user=self.context["user"]):
            raise serializers.ValidationError(
                _("“%(value)s” is not a known %(name)s of this layer.") % {"value": value, "name": which}
            )
        return value

    def validate_category(self, value):
        return self._validate_choice("category", value)

    def validate_kind(self, value):
        return self._validate_choice("kind", value)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        layer: Layer = self.context["layer"]
        if not layer.time_field:
            wrong = {name: _("This layer has no time to filter by.") for name in ("from", "to") if name in attrs}
            if wrong:
                raise serializers.ValidationError(wrong)
        return attrs

    @property
    def filters(self) -> LayerFilters:
        v = self.validated_data
        return LayerFilters(
            bbox=v.get("in_bbox"),
            area=v.get("area"),
            category=v.get("category"),
            kind=v.get("kind"),
            since=v.get("from"),
            until=v.get("to"),
        )
