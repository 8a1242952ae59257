"""Input and output of the layer endpoints. Inputs are validated against the layer they address."""

import json

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from grid.api.pagination import FeaturePagination
from layers.filters import BBoxField, LayerQuerySerializer, PeriodSerializer
from layers.models import AuditEntry
from layers.registry import GROUPS, Layer
from layers.selectors import (
    STATS_BY,
    filter_choices,
)

MAX_PAGE_SIZE = FeaturePagination.max_page_size


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


class SensitiveReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text=_("why the unmasked values are needed (audited)"))


class PersonSensitiveSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    id_card = serializers.CharField(allow_blank=True)
    phone = serializers.CharField(allow_blank=True)
    birth_date = serializers.CharField(allow_blank=True, help_text=_("ISO 8601, empty where unknown"))


class AuditQuerySerializer(PeriodSerializer):
    # text, not a lookup: an unknown name must list nothing rather than say that no such account exists
    actor = serializers.CharField(required=False, max_length=150, help_text=_("the account's username"))
    action = serializers.ChoiceField(choices=AuditEntry.Action.choices, required=False)
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=1000)


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AuditEntry
        fields = ["id", "at", "actor", "action", "target", "reason", "details", "area"]

    area = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
