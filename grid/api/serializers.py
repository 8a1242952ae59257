from django.contrib.gis.geos import Point
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from grid.access import incidents_for
from grid.api.params import LocatedInputSerializer, TextSlugRelatedField
from grid.models import AdminArea, Category, Grid, Incident, IncidentEvent, IncidentPhoto, Notification


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
    return queryset.annotate(duplicate_of_visible=Exists(incidents_for(user).filter(pk=OuterRef("duplicate_of_id"))))


class IncidentPhotoSerializer(serializers.ModelSerializer):
    """A photo as embedded in an incident or a timeline entry: where to fetch it and its size."""

    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    event = serializers.IntegerField(source="event_id", read_only=True, allow_null=True)

    class Meta:
        model = IncidentPhoto
        fields = ["id", "url", "thumbnail_url", "width", "height", "content_type", "created", "event"]
        read_only_fields = fields

    def _url(self, photo: IncidentPhoto) -> str:
        path = reverse("incident-photo", kwargs={"pk": photo.incident_id, "photo_id": photo.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    def get_url(self, photo: IncidentPhoto) -> str:
        return self._url(photo)

    def get_thumbnail_url(self, photo: IncidentPhoto) -> str:
        return f"{self._url(photo)}?size=thumb"


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
        return IncidentPhotoSerializer(event.photos.all(), many=True, context=self.context).data


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "incident", "kind", "message", "created", "read_at"]


class ReportInputSerializer(LocatedInputSerializer):
    """A report: location (lon/lat or GeoJSON, or else the first photo's EXIF GPS), category, note, client_uuid."""

    category = TextSlugRelatedField(slug_field="code", max_length=40, queryset=Category.objects.filter(active=True))
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    client_uuid = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=Incident.Kind.choices, default=Incident.Kind.REPORT)

    def validate(self, attrs):
        if not ({"lon", "lat", "location"} & attrs.keys()):
            gps = next((p.gps for p in self.context.get("photos", ()) if p.gps), None)
            if gps is not None:  # already WGS 84: the photo's datum was converted when it was read
                attrs.pop("crs", None)
                attrs["location"] = Point(*gps, srid=4326)
                return attrs
        return super().validate(attrs)
