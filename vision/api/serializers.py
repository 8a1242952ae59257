"""Input and output of the camera endpoints."""

import datetime as dt

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from layers.filters import BBoxField, PeriodSerializer
from vision.models import Camera, Observation, Rule
from vision.sources import source_display

# The longest period one observations request may cover; longer series are read period by period.
OBSERVATIONS_MAX_PERIOD = dt.timedelta(days=31)
OBSERVATIONS_DEFAULT_PERIOD = dt.timedelta(hours=24)
OBSERVATIONS_PAGE_SIZE, OBSERVATIONS_MAX_PAGE_SIZE = 1000, 5000


class CameraListQuerySerializer(serializers.Serializer):
    in_bbox = BBoxField(required=False, help_text=_("min_lon,min_lat,max_lon,max_lat"))
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=5000)


class ObservationQuerySerializer(PeriodSerializer):
    """`from` and `to` (a bare date as `to` includes that day); `to` defaults to now and `from` to 24 hours before
    `to`; at most 31 days."""

    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=OBSERVATIONS_MAX_PAGE_SIZE)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        until = attrs.get("to") or self.context["now"]
        since = attrs.get("from") or until - OBSERVATIONS_DEFAULT_PERIOD
        if until <= since:  # only "from" given, and it lies ahead
            raise serializers.ValidationError({"from": [_("“from” must lie before “to” (by default now).")]})
        if until - since > OBSERVATIONS_MAX_PERIOD:
            raise serializers.ValidationError(
                {"to": [_("At most %(days)d days at a time.") % {"days": OBSERVATIONS_MAX_PERIOD.days}]}
            )
        attrs["since"], attrs["until"] = since, until
        return attrs


class CameraFeatureSerializer(GeoFeatureModelSerializer):
    location = GeometryField(precision=7)
    grid = serializers.SlugRelatedField(slug_field="code", read_only=True)
    health = serializers.CharField(read_only=True, help_text="ok, failing or unknown")

    class Meta:
        model = Camera
        geo_field = "location"
        fields = [
            "id",
            "code",
            "name",
            "grid",
            "station",
            "place",
            "source_kind",
            "analyses",
            "classes",
            "interval_seconds",
            "enabled",
            "latest_counts",
            "latest_observed_at",
            "health",
            "last_frame_at",
            "last_error",
            "last_error_at",
            "failures",
            "next_attempt_at",
        ]


class RuleSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Rule
        fields = [
            "id",
            "name",
            "kind",
            "object_class",
            "threshold",
            "minutes",
            "in_zone",
            "active_hours",
            "category",
            "enabled",
            "condition_since",
            "incident",
            "last_fired_at",
        ]


class CameraDetailSerializer(CameraFeatureSerializer):
    source = serializers.SerializerMethodField(help_text="the source, credentials in a URL hidden")
    rules = RuleSerializer(many=True, read_only=True)

    class Meta(CameraFeatureSerializer.Meta):
        fields = [*CameraFeatureSerializer.Meta.fields, "source", "line", "zone", "schedule", "rules"]

    def get_source(self, camera: Camera) -> str:
        return source_display(camera.source)


class ObservationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Observation
        fields = ["at", "counts", "zone_counts", "line_in", "line_out", "backend"]
