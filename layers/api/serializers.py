"""Input and output of the layer endpoints. Inputs are validated against the layer they address."""

import datetime as dt
import json
import math

from django.contrib.gis.geos import Polygon
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from grid.models import User
from layers.models import AuditEntry
from layers.registry import GROUPS, Layer
from layers.selectors import (
    STATS_BY,
    LayerFilters,
    area_code_exists,
    filter_choices,
    filter_value_exists,
)

MAX_PAGE_SIZE = 5000


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


@extend_schema_field({"type": "string", "example": "2024-05-01"})
class MomentField(serializers.Field):
    """A date (YYYY-MM-DD: the whole day, in the display time zone) or an ISO 8601 date-time.

    As a lower bound it is the first instant meant; as an upper bound (`end=True`) the first instant
    after it, so that `to=2024-05-01` takes in all of 1 May.
    """

    default_error_messages = {"invalid": _("Enter a date (YYYY-MM-DD) or an ISO 8601 date-time.")}

    def __init__(self, *, end: bool = False, **kwargs):
        self.end = end
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = str(data).strip()
        try:
            # a date first: parse_datetime would read "2024-05-01" as its midnight
            day = parse_date(text)
            moment = parse_datetime(text) if day is None else None
        except ValueError:  # well-formed but impossible, e.g. 2024-02-30
            self.fail("invalid")
        if day is not None:
            if self.end:
                day += dt.timedelta(days=1)
            return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        if moment is None:
            self.fail("invalid")
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment + dt.timedelta(microseconds=1) if self.end else moment

    def to_representation(self, value):
        return value.isoformat()


class PeriodSerializer(serializers.Serializer):
    """`from` and `to` (Python keywords, hence declared in get_fields); `to` must not precede `from`."""

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = MomentField(required=False, help_text=_("from this date or date-time on"))
        fields["to"] = MomentField(end=True, required=False, help_text=_("up to this date (inclusive) or date-time"))
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


class LayerFeaturesQuerySerializer(LayerQuerySerializer):
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)


class LayerStatsQuerySerializer(LayerQuerySerializer):
    by = serializers.ChoiceField(choices=STATS_BY, default="category")

    def validate_by(self, value):
        layer: Layer = self.context["layer"]
        missing = {
            "category": not layer.category_lookup,
            "kind": not layer.kind_lookup,
            "grid": not layer.grid_field,
            "community": not layer.grid_field,
        }
        if missing[value]:
            raise serializers.ValidationError(_("This layer cannot be counted by %(name)s.") % {"name": value})
        return value


class BBoxQuerySerializer(serializers.Serializer):
    in_bbox = BBoxField(required=False, help_text=_("count only within min_lon,min_lat,max_lon,max_lat"))


# --- output ----------------------------------------------------------------------------------------------------------


class LayerSerializer(serializers.Serializer):
    """A layer of the registry, as the console legend reads it. context: `counts`, `user`."""

    def to_representation(self, layer: Layer) -> dict:
        user = self.context["user"]
        filters: list[dict] = [{"name": "in_bbox"}]
        if layer.grid_field:
            filters.append({"name": "area"})
        for which, lookup in (("category", layer.category_lookup), ("kind", layer.kind_lookup)):
            if lookup:
                choices = filter_choices(layer=layer, which=which, user=user)
                entry: dict = {"name": which}
                if choices is not None:
                    entry["choices"] = [{"value": value, "title": title} for value, title in choices]
                filters.append(entry)
        if layer.time_field:
            filters += [{"name": "from"}, {"name": "to"}]
        return {
            "name": layer.name,
            "group": layer.group,
            "group_title": str(GROUPS[layer.group]),
            "title": str(layer.title),
            "sensitivity": layer.sensitivity,
            "style": layer.style,
            "geometry_field": layer.geometry_field,
            "attributes": [{"name": a.name, "title": str(a.title), "personal": a.personal} for a in layer.attributes],
            "filters": filters,
            "count": self.context["counts"].get(layer.name, 0),
        }


GEOJSON_ANNOTATION = "geojson_text"


class LayerFeatureSerializer(serializers.BaseSerializer):
    """A row as a GeoJSON Feature: geometry from the `geojson_text` annotation (PostGIS wrote it), properties
    from the layer's attributes (personal values masked). context: `layer`."""

    def to_representation(self, row) -> dict:
        layer: Layer = self.context["layer"]
        text = getattr(row, GEOJSON_ANNOTATION)
        return {
            "type": "Feature",
            "id": row.pk,
            "geometry": json.loads(text) if text else None,
            "properties": {a.name: a.read(row) for a in layer.attributes},
        }


class StatsGroupSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    count = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    layer = serializers.CharField()
    by = serializers.CharField()
    total = serializers.IntegerField()
    groups = StatsGroupSerializer(many=True)


class GigWorkerProfileSerializer(serializers.Serializer):
    by_platform = serializers.DictField(child=serializers.IntegerField())
    by_work_kind = serializers.DictField(child=serializers.IntegerField())
    by_age_band = serializers.DictField(child=serializers.IntegerField())
    party_members = serializers.IntegerField()
    total = serializers.IntegerField()


class SensitiveQuerySerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text=_("why the unmasked values are needed (audited)"))


class PersonSensitiveSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    id_card = serializers.CharField()
    phone = serializers.CharField()


class AuditQuerySerializer(PeriodSerializer):
    actor = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.all(), required=False, help_text=_("the account's username")
    )
    action = serializers.ChoiceField(choices=AuditEntry.Action.choices, required=False)
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=1000)


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "action", "target", "reason", "details"]
