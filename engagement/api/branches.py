"""The engagement API: online branches (public, with counts), their notices, and the mobile members a home branch
sees on its map. Names of members and cadres only for those `engagement.access.branches_known_to`."""

from django.contrib.gis.geos import Point
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from engagement.models import Activity, BranchNotice, MobileMemberRecord
from engagement.selectors.members import (
    branch_activities,
    branch_counts,
    branch_get,
    branch_is_known_to,
    branch_is_run_by,
    branch_mobile_members,
    branch_notices,
    branch_people,
    branches_listed,
)
from engagement.services.members import branch_notice_delete, branch_notice_publish
from grid.api.pagination import FeaturePagination
from grid.api.params import FiniteFloatField, TextSlugRelatedField
from grid.crs import CRS, to_wgs84
from grid.models import AdminArea
from layers.models import Organization

NOTICES_IN_DETAIL = 10


class BranchParentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "code", "name"]


class PointOnSurfaceField(GeometryField):
    """A point or a polygon (a compound, a territory) drawn as one point inside it."""

    def to_representation(self, value):
        return super().to_representation(None if value is None else _point_of(value))


def _point_of(geometry):
    return geometry if geometry.geom_type == "Point" else geometry.point_on_surface


class BranchFeatureSerializer(GeoFeatureModelSerializer):
    geometry = PointOnSurfaceField(precision=6, read_only=True)
    parent = BranchParentSerializer(read_only=True, allow_null=True)
    member_count = serializers.IntegerField(read_only=True)
    distance_m = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        geo_field = "geometry"
        fields = ["id", "code", "name", "address", "parent", "member_count", "distance_m", "geometry"]

    def get_distance_m(self, branch) -> float | None:
        distance = getattr(branch, "distance", None)
        return None if distance is None else round(distance.m, 1)


class BranchQuerySerializer(serializers.Serializer):
    area = TextSlugRelatedField(
        slug_field="code",
        queryset=AdminArea.objects.all(),
        required=False,
        max_length=12,
        help_text=_("an area's code: the branches placed in it"),
    )
    lon = FiniteFloatField(min_value=-180, max_value=180, required=False, help_text=_("nearest first to lon/lat"))
    lat = FiniteFloatField(min_value=-90, max_value=90, required=False)
    crs = serializers.ChoiceField(choices=[c.value for c in CRS], default=CRS.WGS84.value)
    radius_m = FiniteFloatField(min_value=1, max_value=200_000, required=False, help_text=_("with lon/lat"))

    def validate(self, attrs):
        if ("lon" in attrs) != ("lat" in attrs):
            raise serializers.ValidationError({"lat" if "lon" in attrs else "lon": _("Give lon and lat together.")})
        if "radius_m" in attrs and "lon" not in attrs:
            raise serializers.ValidationError({"radius_m": _("A radius needs lon and lat.")})
        if "lon" in attrs:
            attrs["near"] = Point(*to_wgs84(attrs.pop("lon"), attrs.pop("lat"), attrs["crs"]), srid=4326)
        attrs.pop("crs")
        return attrs


class BranchListApi(generics.ListAPIView):
    """Every party branch (public): name, code, where it is, its member count and parent; `area` narrows to an
    area's branches, `lon`/`lat` (with `crs`, and `radius_m`) sorts them nearest first."""

    permission_classes = [permissions.AllowAny]
    serializer_class = BranchFeatureSerializer
    pagination_class = FeaturePagination
    filter_backends: list = []

    def get_queryset(self):
        query = BranchQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return branches_listed(**query.validated_data)

    @extend_schema(parameters=[BranchQuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class BranchActivitySerializer(serializers.ModelSerializer):
    location = GeometryField(precision=6, read_only=True)
    kind_display = serializers.CharField(source="get_kind_display", read_only=True)
    checkin_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Activity
        fields = [
            "id",
            "title",
            "kind",
            "kind_display",
            "status",
            "starts_at",
            "ends_at",
            "venue_name",
            "location",
            "checkin_count",
        ]


class BranchNoticeSerializer(serializers.ModelSerializer):
    class Meta:
        model = BranchNotice
        fields = ["id", "title", "body", "published_at"]


class BranchCadreNameSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    title_display = serializers.CharField()


class BranchMemberNameSerializer(serializers.Serializer):
    name = serializers.CharField()
    member_code = serializers.CharField()
    mobile = serializers.BooleanField()


class BranchDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    address = serializers.CharField()
    location = serializers.JSONField(allow_null=True, help_text=_("a GeoJSON point"))
    parent = BranchParentSerializer(allow_null=True)
    counts = serializers.DictField(child=serializers.IntegerField())
    known = serializers.BooleanField(help_text=_("whether the caller may read the names of members and cadres"))
    may_run = serializers.BooleanField(help_text=_("whether the caller may publish notices"))
    cadres = BranchCadreNameSerializer(many=True, allow_null=True)
    members = BranchMemberNameSerializer(many=True, allow_null=True)
    upcoming = BranchActivitySerializer(many=True)
    past = BranchActivitySerializer(many=True)
    notices = BranchNoticeSerializer(many=True)


def _branch_or_404(pk: int) -> Organization:
    branch = branch_get(pk=pk)
    if branch is None:
        raise NotFound(_("No such party branch."))
    return branch


def _branch_run_or_refused(user, pk: int) -> Organization:
    """A branch the caller runs; one it knows but may not run is refused (403), any other is as absent (404)."""
    branch = _branch_or_404(pk)
    if branch_is_run_by(user=user, branch=branch):
        return branch
    if branch_is_known_to(user=user, branch=branch):
        raise PermissionDenied(_("Only the branch's cadres and the staff of its area publish its notices."))
    raise NotFound(_("No such party branch."))


class BranchDetailApi(APIView):
    """A branch's page (public): its counts, where it is, its upcoming and past activities and its notices; the
    names and titles of its members and cadres only for its own members, its cadres and the staff of its area."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: BranchDetailSerializer})
    def get(self, request, pk: int):
        branch = _branch_or_404(pk)
        known = branch_is_known_to(user=request.user, branch=branch)
        people = branch_people(branch=branch) if known else {"cadres": None, "members": None}
        activities = branch_activities(branch=branch)
        point = None if branch.geometry is None else _point_of(branch.geometry)
        body = {
            "id": branch.pk,
            "code": branch.code,
            "name": branch.name,
            "address": branch.address,
            "location": None
            if point is None
            else {"type": "Point", "coordinates": [round(point.x, 6), round(point.y, 6)]},
            "parent": BranchParentSerializer(branch.parent).data if branch.parent else None,
            "counts": branch_counts(branch=branch),
            "known": known,
            "may_run": branch_is_run_by(user=request.user, branch=branch),
            "cadres": people["cadres"],
            "members": people["members"],
            "upcoming": BranchActivitySerializer(activities["upcoming"], many=True).data,
            "past": BranchActivitySerializer(activities["past"], many=True).data,
            "notices": BranchNoticeSerializer(branch_notices(branch=branch)[:NOTICES_IN_DETAIL], many=True).data,
        }
        return Response(body)


class BranchNoticeInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    client_uuid = serializers.UUIDField()


class BranchNoticePagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100


class BranchNoticesApi(generics.ListAPIView):
    """GET: a branch's notices, newest first (public). POST: publish one (its cadres and the staff of its area);
    idempotent by client_uuid."""

    serializer_class = BranchNoticeSerializer
    pagination_class = BranchNoticePagination
    filter_backends: list = []

    def get_permissions(self):
        return [permissions.AllowAny()] if self.request.method == "GET" else [permissions.IsAuthenticated()]

    def get_queryset(self):
        return branch_notices(branch=_branch_or_404(self.kwargs["pk"]))

    @extend_schema(
        request=BranchNoticeInputSerializer, responses={201: BranchNoticeSerializer, 200: BranchNoticeSerializer}
    )
    def post(self, request, pk: int):
        branch = _branch_run_or_refused(request.user, pk)
        data = BranchNoticeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        notice, created = branch_notice_publish(branch=branch, author=request.user, **data.validated_data)
        if notice.branch_id != branch.pk:
            raise serializers.ValidationError({"client_uuid": [_("This client_uuid belongs to another notice.")]})
        return Response(
            BranchNoticeSerializer(notice).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class BranchNoticeApi(APIView):
    """DELETE: withdraw one of a branch's notices (its cadres and the staff of its area)."""

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, pk: int, nid: int):
        branch = _branch_run_or_refused(request.user, pk)
        notice = BranchNotice.objects.filter(branch=branch, pk=nid).first()
        if notice is None:
            raise NotFound(_("No such notice."))
        branch_notice_delete(notice=notice)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MobileMemberFeatureSerializer(GeoFeatureModelSerializer):
    location = GeometryField(precision=6, read_only=True)
    name = serializers.CharField(source="person.name", read_only=True)
    member_code = serializers.CharField(source="person.member_code", read_only=True)
    community = serializers.SerializerMethodField()
    checkins_elsewhere = serializers.IntegerField(read_only=True)

    class Meta:
        model = MobileMemberRecord
        geo_field = "location"
        fields = ["id", "name", "member_code", "community", "since", "until", "note", "checkins_elsewhere", "location"]

    def get_community(self, record) -> dict | None:
        area = record.community
        return None if area is None else {"id": area.pk, "code": area.code, "name": area.name}


class BranchMobileMembersApi(generics.ListAPIView):
    """The branch's members living or working away (流动党员), where they said they are now, each with the number
    of check-ins they made at other branches' activities. For those who know the branch; to others it is absent."""

    serializer_class = MobileMemberFeatureSerializer
    pagination_class = FeaturePagination
    filter_backends: list = []

    def get_queryset(self):
        branch = _branch_or_404(self.kwargs["pk"])
        if not branch_is_known_to(user=self.request.user, branch=branch):
            raise NotFound(_("No such party branch."))
        return branch_mobile_members(branch=branch)


urlpatterns = [
    path("branches/", BranchListApi.as_view(), name="branches"),
    path("branches/<int:pk>/", BranchDetailApi.as_view(), name="branch-detail"),
    path("branches/<int:pk>/notices/", BranchNoticesApi.as_view(), name="branch-notices"),
    path("branches/<int:pk>/notices/<int:nid>/", BranchNoticeApi.as_view(), name="branch-notice"),
    path("branches/<int:pk>/mobile-members/", BranchMobileMembersApi.as_view(), name="branch-mobile-members"),
]
