"""The engagement API: activities (public: what, who organizes it, when, where). Their record and attendance list
are in engagement/api/records.py."""

from django.contrib.gis.geos import Point
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, permissions, serializers, status
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from engagement.access import branches, branches_run_by, person_of
from engagement.api.params import NearField
from engagement.models import Activity
from engagement.selectors.activities import (
    activities_checked_in,
    activities_list,
    activities_public,
    activities_run_by,
    activities_with_record_for,
    activity_expected_count,
)
from engagement.services.activities import (
    ClientUUIDConflict,
    Venue,
    activity_cancel,
    activity_create,
    activity_update,
)
from grid.api.errors import Conflict
from grid.api.pagination import FeaturePagination
from grid.api.params import FiniteFloatField, MomentField
from grid.crs import CRS, to_wgs84
from grid.models import Station
from layers.models import Organization, Place
from vision.attendance.selectors import meetings_for
from vision.selectors import cameras_for

# --- output -------------------------------------------------------------------------------------------------------


class BranchRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "code", "name"]


class ActivityFeatureSerializer(GeoFeatureModelSerializer):
    """What anybody may know of an activity."""

    location = GeometryField(precision=6)
    branch = BranchRefSerializer(read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    grid = serializers.SlugRelatedField(slug_field="code", read_only=True)
    invited_branches = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    distance_m = serializers.SerializerMethodField()
    checked_in = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        geo_field = "location"
        fields = [
            "id",
            "kind",
            "kind_display",
            "branch",
            "title",
            "description",
            "venue_name",
            "venue_station",
            "venue_place",
            "venue_organization",
            "grid",
            "starts_at",
            "ends_at",
            "radius_m",
            "grace_minutes",
            "audience",
            "invited_branches",
            "cross_branch",
            "status",
            "meeting",
            "distance_m",
            "checked_in",
        ]
        read_only_fields = fields

    def get_distance_m(self, activity: Activity) -> float | None:
        distance = getattr(activity, "distance", None)
        return round(distance.m, 1) if distance is not None else None

    def get_checked_in(self, activity: Activity) -> bool | None:
        """Whether the caller checked in (null for a caller who is no member of the register)."""
        checked = self.context.get("checked_in")
        return None if checked is None else activity.pk in checked


class ActivityDetailSerializer(ActivityFeatureSerializer):
    may_run = serializers.SerializerMethodField()
    minutes = serializers.SerializerMethodField()
    expected_count = serializers.SerializerMethodField()

    class Meta(ActivityFeatureSerializer.Meta):
        fields = [*ActivityFeatureSerializer.Meta.fields, "may_run", "minutes", "expected_count"]
        read_only_fields = fields

    def get_may_run(self, activity: Activity) -> bool:
        return bool(self.context.get("may_run"))

    def get_minutes(self, activity: Activity) -> str | None:
        """The minutes, for those who may read the record; null for everybody else."""
        return activity.minutes if self.context.get("may_see_record") else None

    def get_expected_count(self, activity: Activity) -> int | None:
        """How many members the audience expects; null for an activity open to all."""
        return activity_expected_count(activity)


@extend_schema_field(OpenApiTypes.INT)
class _ScopedPk(serializers.PrimaryKeyRelatedField):
    """A primary key among the rows `scope(user)` gives, the user read from the serializer's context."""

    def __init__(self, scope, **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.scope(self.context["request"].user)


class VenueInputSerializer(serializers.Serializer):
    lon = FiniteFloatField(min_value=-180, max_value=180, required=False)
    lat = FiniteFloatField(min_value=-90, max_value=90, required=False)
    crs = serializers.ChoiceField(choices=[c.value for c in CRS], default=CRS.WGS84.value)
    station = serializers.PrimaryKeyRelatedField(queryset=Station.objects.all(), required=False)
    place = serializers.PrimaryKeyRelatedField(queryset=Place.objects.all(), required=False)
    organization = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.all(), required=False)
    venue_name = serializers.CharField(max_length=200, required=False, allow_blank=True)

    VENUE_FIELDS = ("lon", "lat", "station", "place", "organization")

    def venue_of(self, attrs: dict, *, required: bool) -> Venue | None:
        """The venue the input names (exactly one of a point, a station, a place, an organization)."""
        given = [name for name in ("station", "place", "organization") if attrs.get(name) is not None]
        has_point = "lon" in attrs or "lat" in attrs
        if has_point and not ("lon" in attrs and "lat" in attrs):
            raise serializers.ValidationError({"venue": [_("Give both lon and lat.")]})
        if len(given) + has_point > 1:
            raise serializers.ValidationError(
                {"venue": [_("Give one venue: a point, a station, a place or an organization.")]}
            )
        if not given and not has_point:
            if required:
                raise serializers.ValidationError(
                    {"venue": [_("Give the venue as lon/lat, a station, a place or an organization.")]}
                )
            return None
        point = None
        if has_point:
            point = Point(*to_wgs84(attrs["lon"], attrs["lat"], attrs.get("crs", CRS.WGS84.value)), srid=4326)
        return Venue(
            point=point,
            station=attrs.get("station"),
            place=attrs.get("place"),
            organization=attrs.get("organization"),
            name=attrs.get("venue_name", ""),
        )


class ActivityInputSerializer(VenueInputSerializer):
    kind = serializers.ChoiceField(choices=Activity.Kind.choices)
    branch = _ScopedPk(branches_run_by, help_text=_("a branch you run"))
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    radius_m = serializers.IntegerField(min_value=10, max_value=5000, default=200)
    grace_minutes = serializers.IntegerField(min_value=0, max_value=240, default=15)
    audience = serializers.ChoiceField(choices=Activity.Audience.choices, default=Activity.Audience.BRANCH)
    invited_branches = serializers.PrimaryKeyRelatedField(
        queryset=branches(), many=True, required=False, help_text=_("for an audience of several branches")
    )
    cross_branch = serializers.BooleanField(default=True)
    camera = _ScopedPk(cameras_for, required=False, help_text=_("make a face check-in meeting at this camera"))
    meeting = _ScopedPk(meetings_for, required=False, help_text=_("link this face check-in meeting"))
    client_uuid = serializers.UUIDField()

    def validate(self, attrs):
        if attrs.get("camera") is not None and attrs.get("meeting") is not None:
            raise serializers.ValidationError({"meeting": [_("Give a camera or a meeting, not both.")]})
        venue = self.venue_of(attrs, required=not self.partial)
        for name in (*self.VENUE_FIELDS, "crs", "venue_name"):
            attrs.pop(name, None)
        if venue is not None:
            attrs["venue"] = venue
        return attrs


class ActivityChangeSerializer(ActivityInputSerializer):
    """The fields of an activity that may change (all optional); its branch and client_uuid stay."""

    branch = None
    client_uuid = None


class ActivityListQuerySerializer(serializers.Serializer):
    near = NearField(help_text=_("lon,lat: nearest first"))
    crs = serializers.ChoiceField(choices=[c.value for c in CRS], default=CRS.WGS84.value)
    radius = serializers.IntegerField(min_value=1, max_value=100_000, required=False, help_text=_("metres"))
    branch = serializers.IntegerField(min_value=1, max_value=2**31 - 1, required=False)
    kind = serializers.ChoiceField(choices=Activity.Kind.choices, required=False)
    from_ = MomentField(required=False, help_text=_("ending at or after"))
    to = MomentField(required=False, end=True, help_text=_("starting before"))
    mine = serializers.BooleanField(default=False, help_text=_("of my branch, checked in to or expected at"))

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def validate(self, attrs):
        if "radius" in attrs and "near" not in attrs:
            raise serializers.ValidationError({"radius": [_("A radius needs near=lon,lat.")]})
        return attrs


# --- views --------------------------------------------------------------------------------------------------------


def activity_public_or_404(pk: int) -> Activity:
    activity = activities_public().filter(pk=pk).first()
    if activity is None:
        raise NotFound(_("No such activity."))
    return activity


def activity_run_by_or_refuse(user, pk: int, *, record: bool) -> Activity:
    """The activity `user` runs; 404 for one it may not see (its record, where `record`), 403 otherwise."""
    activity = activities_run_by(user).filter(pk=pk).first()
    if activity is not None:
        return activity
    if record and not activities_with_record_for(user).filter(pk=pk).exists():
        raise NotFound(_("No such activity."))
    activity_public_or_404(pk)
    raise PermissionDenied(_("Only those who run the organizing branch may change this activity."))


def _checked_in_context(user, activities) -> set[int] | None:
    person = person_of(user)
    if person is None:
        return None
    return activities_checked_in(person=person, activity_ids=[a.pk for a in activities])


class _WritesSignedIn(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or bool(request.user and request.user.is_authenticated)


class ActivitiesApi(generics.ListAPIView):
    """GET: activities (public), nearest first with `near`; `mine=1` for mine. POST: create one of a branch you
    run (idempotent by client_uuid)."""

    permission_classes = [_WritesSignedIn]
    serializer_class = ActivityFeatureSerializer
    pagination_class = FeaturePagination

    def get_queryset(self):
        params = ActivityListQuerySerializer(data={k: self.request.query_params[k] for k in self.request.query_params})
        params.is_valid(raise_exception=True)
        v = params.validated_data
        if v["mine"] and not self.request.user.is_authenticated:
            raise NotAuthenticated(_("Sign in to see your activities."))
        near = None
        if "near" in v:
            near = Point(*to_wgs84(*v["near"], v["crs"]), srid=4326)
        return activities_list(
            user=self.request.user,
            near=near,
            radius_m=v.get("radius"),
            branch_id=v.get("branch"),
            kind=v.get("kind"),
            since=v.get("from"),
            until=v.get("to"),
            mine=v["mine"],
        ).prefetch_related("invited_branches")

    def list(self, request, *args, **kwargs):
        queryset = self.get_queryset()
        page = self.paginate_queryset(queryset)
        context = {**self.get_serializer_context(), "checked_in": _checked_in_context(request.user, page)}
        return self.get_paginated_response(ActivityFeatureSerializer(page, many=True, context=context).data)

    @extend_schema(parameters=[ActivityListQuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ActivityInputSerializer,
        responses={201: ActivityDetailSerializer, 200: ActivityDetailSerializer},
    )
    def post(self, request):
        if not branches_run_by(request.user).exists():
            raise PermissionDenied(_("You run no party branch."))
        data = ActivityInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        try:
            activity, created = activity_create(by=request.user, **data.validated_data)
        except ClientUUIDConflict as conflict:
            raise Conflict(
                {"client_uuid": [_("This client_uuid belongs to another account's activity.")]}
            ) from conflict
        return Response(_detail(request, activity), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _detail(request, activity: Activity) -> dict:
    activity = activities_public().prefetch_related("invited_branches").get(pk=activity.pk)
    user = request.user
    context = {
        "request": request,
        "may_run": activities_run_by(user).filter(pk=activity.pk).exists(),
        "may_see_record": activities_with_record_for(user).filter(pk=activity.pk).exists(),
        "checked_in": _checked_in_context(user, [activity]),
    }
    return ActivityDetailSerializer(activity, context=context).data


class ActivityDetailApi(APIView):
    """GET: one activity (public; its minutes for those who may read its record). PATCH: change it (its runners)."""

    permission_classes = [_WritesSignedIn]

    @extend_schema(responses={200: ActivityDetailSerializer})
    def get(self, request, pk: int):
        return Response(_detail(request, activity_public_or_404(pk)))

    @extend_schema(request=ActivityChangeSerializer, responses={200: ActivityDetailSerializer})
    def patch(self, request, pk: int):
        activity = activity_run_by_or_refuse(request.user, pk, record=False)
        data = ActivityChangeSerializer(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        activity_update(activity=activity, by=request.user, **data.validated_data)
        return Response(_detail(request, activity))


class ActivityCancelApi(APIView):
    """POST: cancel an activity you run (again: nothing changes)."""

    @extend_schema(request=None, responses={200: ActivityDetailSerializer})
    def post(self, request, pk: int):
        activity = activity_run_by_or_refuse(request.user, pk, record=False)
        activity_cancel(activity=activity, by=request.user)
        return Response(_detail(request, activity))


urlpatterns = [
    path("activities/", ActivitiesApi.as_view(), name="activities"),
    path("activities/<int:pk>/", ActivityDetailApi.as_view(), name="activity"),
    path("activities/<int:pk>/cancel/", ActivityCancelApi.as_view(), name="activity-cancel"),
]
