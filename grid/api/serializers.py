from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from grid.models import AdminArea, Category, Grid, Incident, IncidentEvent, Notification


class AreaRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = AdminArea
        fields = ["id", "code", "name", "level"]


class AreaFeatureSerializer(GeoFeatureModelSerializer):
    boundary = GeometryField(precision=6)
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = AdminArea
        geo_field = "boundary"
        fields = ["id", "code", "name", "level", "parent"]


class GridRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Grid
        fields = ["id", "code", "name", "households"]


class GridFeatureSerializer(GeoFeatureModelSerializer):
    boundary = GeometryField(precision=6)
    community = AreaRefSerializer(read_only=True)

    class Meta:
        model = Grid
        geo_field = "boundary"
        fields = ["id", "code", "name", "households", "community"]


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Category
        fields = ["code", "name", "name_en", "parent"]


class IncidentFeatureSerializer(GeoFeatureModelSerializer):
    location = GeometryField(precision=7)
    category = serializers.SlugRelatedField(slug_field="code", read_only=True)
    category_name = serializers.CharField(source="category.name", read_only=True)
    grid = GridRefSerializer(read_only=True)
    community = AreaRefSerializer(read_only=True)
    street = AreaRefSerializer(read_only=True)
    county = AreaRefSerializer(read_only=True)
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True)
    handling_area = AreaRefSerializer(read_only=True)
    handling_unit = serializers.SlugRelatedField(slug_field="name", read_only=True)
    warning = serializers.SerializerMethodField(help_text="live level: green, yellow (≥75% of the deadline used), red")
    duplicate_of = serializers.SerializerMethodField(
        help_text="the original of a duplicate, where the caller may open it"
    )

    class Meta:
        model = Incident
        geo_field = "location"
        fields = [
            "id",
            "client_uuid",
            "kind",
            "category",
            "category_name",
            "note",
            "status",
            "warning",
            "deadline",
            "created",
            "modified",
            "reporter",
            "assignee",
            "grid",
            "community",
            "street",
            "county",
            "handling_area",
            "handling_unit",
            "escalations",
            "open_to_volunteers",
            "duplicate_of",
            "accepted_at",
            "resolved_at",
            "closed_at",
            "rating",
            "version",
        ]

    def get_warning(self, incident: Incident) -> str:
        return incident.warning_at(self.context.get("now") or timezone.now())

    def get_duplicate_of(self, incident: Incident) -> int | None:
        # Annotated by duplicate_of_visible(): a resident whose report was merged into a neighbour's is told it
        # was merged, not which report of somebody else it went into.
        return incident.duplicate_of_id if getattr(incident, "duplicate_of_visible", False) else None


def duplicate_of_visible(queryset: QuerySet[Incident], user) -> QuerySet[Incident]:
    """The incidents with `duplicate_of_visible`: whether `user` may open the original of each."""
    from grid.access import incidents_for

    return queryset.annotate(duplicate_of_visible=Exists(incidents_for(user).filter(pk=OuterRef("duplicate_of_id"))))


# Keys of a timeline entry's data that name another incident: shown only where the caller may open it.
EVENT_INCIDENT_KEYS = ("duplicate_of", "duplicate")


class IncidentEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    photos = serializers.SerializerMethodField()

    class Meta:
        model = IncidentEvent
        fields = ["id", "action", "from_status", "to_status", "actor", "at", "note", "data", "photos"]

    def to_representation(self, event: IncidentEvent) -> dict:
        body = super().to_representation(event)
        visible = self.context.get("visible_incidents", set())
        if any(key in body["data"] for key in EVENT_INCIDENT_KEYS):
            body["data"] = {
                key: value for key, value in body["data"].items() if key not in EVENT_INCIDENT_KEYS or value in visible
            }
        return body

    def get_photos(self, event: IncidentEvent) -> list[dict]:
        from grid.api.photos import IncidentPhotoSerializer

        return IncidentPhotoSerializer(event.photos.all(), many=True, context=self.context).data


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "incident", "kind", "message", "created", "read_at"]
