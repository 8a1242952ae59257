"""The engagement API: community check-in (进社区报到). A member or gig worker registers with a community where they
live or work and may withdraw; the community's dispatchers and administrators list and decide; the roster shows
the accepted members on the community's map."""

import re

from django.contrib.gis.geos import Point
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from engagement.access import communities_served_by, may_decide_registrations, person_of
from engagement.models import CommunityRegistration
from engagement.selectors.community import (
    communities_nearest,
    community_roster,
    registrations_for_staff,
    registrations_of,
)
from engagement.services.community import (
    RegistrationDenied,
    RegistrationRefused,
    registration_accept,
    registration_decline,
    registration_submit,
    registration_withdraw,
)
from grid.api.errors import Conflict
from grid.api.params import FiniteFloatField, PointQuerySerializer
from grid.crs import CRS, to_wgs84
from grid.models import AdminArea, Role
from grid.selectors import placement_of

# An administrative code: 6 digits for a county, 3 more per level down to a community.
AREA_CODE = re.compile(r"[0-9]{6}(?:[0-9]{3}){0,2}")
POINT_SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": "GeoJSON Point (WGS 84)",
    "properties": {
        "type": {"type": "string", "enum": ["Point"]},
        "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
    },
}
NO_PERSON = _("Your account is not linked to a member or gig worker of the register.")


def community_by_code(code: str) -> AdminArea | None:
    if not isinstance(code, str) or not AREA_CODE.fullmatch(code):
        return None
    return AdminArea.objects.filter(code=code, level=AdminArea.Level.COMMUNITY).first()


class RegistrationSerializer(serializers.ModelSerializer):
    community = serializers.CharField(source="community.code", read_only=True)
    community_name = serializers.CharField(source="community.name", read_only=True)
    basis_name = serializers.CharField(source="get_basis_display", read_only=True)
    status_name = serializers.CharField(source="get_status_display", read_only=True)
    location = serializers.SerializerMethodField()

    class Meta:
        model = CommunityRegistration
        fields = [
            "id",
            "community",
            "community_name",
            "basis",
            "basis_name",
            "status",
            "status_name",
            "note",
            "answer",
            "location",
            "created",
            "decided_at",
            "client_uuid",
        ]
        read_only_fields = fields

    @extend_schema_field(POINT_SCHEMA)
    def get_location(self, registration: CommunityRegistration) -> dict | None:
        point = registration.location
        return {"type": "Point", "coordinates": [round(point.x, 6), round(point.y, 6)]} if point else None


class StaffRegistrationSerializer(RegistrationSerializer):
    """What the community's staff read of a registration: also whose it is."""

    person = serializers.IntegerField(source="person_id", read_only=True)
    person_name = serializers.CharField(source="person.name", read_only=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, default=None)

    class Meta(RegistrationSerializer.Meta):
        fields = [*RegistrationSerializer.Meta.fields, "person", "person_name", "decided_by"]
        read_only_fields = fields


class RegisterInputSerializer(serializers.Serializer):
    community = serializers.CharField(
        max_length=12, required=False, help_text=_("the community's code; or give lon/lat to find it")
    )
    lon = FiniteFloatField(min_value=-180, max_value=180, required=False, help_text=_("longitude"))
    lat = FiniteFloatField(min_value=-90, max_value=90, required=False, help_text=_("latitude"))
    crs = serializers.ChoiceField(choices=[c.value for c in CRS], default=CRS.WGS84.value)
    basis = serializers.ChoiceField(choices=CommunityRegistration.Basis.choices)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    client_uuid = serializers.UUIDField()

    def validate(self, attrs):
        point = None
        if ("lon" in attrs) != ("lat" in attrs):
            raise serializers.ValidationError({"lat" if "lon" in attrs else "lon": [_("Give both lon and lat.")]})
        if "lon" in attrs:
            lon, lat = to_wgs84(attrs["lon"], attrs["lat"], attrs["crs"])
            point = Point(lon, lat, srid=4326)
        if "community" in attrs:
            community = community_by_code(attrs["community"])
            if community is None:
                raise serializers.ValidationError({"community": [_("No community has this code.")]})
        elif point is not None:
            community = placement_of(point=point).community
            if community is None:
                raise serializers.ValidationError({"lon": [_("No community of the territory covers this point.")]})
        else:
            raise serializers.ValidationError({"community": [_("Name a community, or give lon and lat.")]})
        return {
            "community": community,
            "location": point,
            "basis": attrs["basis"],
            "note": attrs["note"],
            "client_uuid": attrs["client_uuid"],
        }


class StaffListQuerySerializer(serializers.Serializer):
    community = serializers.CharField(max_length=12, required=False, help_text=_("a community's code"))
    status = serializers.ChoiceField(choices=CommunityRegistration.Status.choices, required=False)


def _refusals(call):
    try:
        return call()
    except RegistrationRefused as refused:
        raise Conflict({"detail": refused.message}) from refused
    except RegistrationDenied as denied:
        raise PermissionDenied(_("Only the community's dispatchers and administrators decide check-ins.")) from denied
    except CommunityRegistration.DoesNotExist:
        raise NotFound(_("No registration with this id in your area.")) from None


class RegistrationsApi(APIView):
    """GET: the check-ins with the communities of the caller's area (dispatchers, administrators, auditors),
    filtered by community and status. POST: register with a community where you live or work (idempotent by
    client_uuid)."""

    @extend_schema(parameters=[StaffListQuerySerializer], responses={200: StaffRegistrationSerializer(many=True)})
    def get(self, request):
        user = request.user
        if not (may_decide_registrations(user) or user.role == Role.AUDITOR):
            raise PermissionDenied(_("Only the community's staff list its check-ins."))
        query = StaffListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        community = None
        if "community" in query.validated_data:
            community = community_by_code(query.validated_data["community"])
            if community is None or not communities_served_by(user).filter(pk=community.pk).exists():
                raise NotFound(_("No community with this code in your area."))
        rows = registrations_for_staff(user=user, community=community, status=query.validated_data.get("status"))
        return Response(StaffRegistrationSerializer(rows[:500], many=True).data)

    @extend_schema(
        request=RegisterInputSerializer, responses={201: RegistrationSerializer, 200: RegistrationSerializer}
    )
    def post(self, request):
        person = person_of(request.user)
        if person is None:
            raise PermissionDenied(NO_PERSON)
        data = RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registration, created = _refusals(lambda: registration_submit(person=person, **data.validated_data))
        return Response(
            RegistrationSerializer(registration).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class RegistrationsMineApi(APIView):
    """The caller's own registrations, newest first (none for an account without a person of the register)."""

    @extend_schema(responses={200: RegistrationSerializer(many=True)})
    def get(self, request):
        rows = registrations_of(person=person_of(request.user))[:200]
        return Response(RegistrationSerializer(rows, many=True).data)


class RegistrationWithdrawApi(APIView):
    """Withdraw a pending or accepted registration of yours."""

    @extend_schema(request=None, responses={200: RegistrationSerializer})
    def post(self, request, pk: int):
        person = person_of(request.user)
        if person is None:
            raise NotFound(_("No registration with this id is yours."))
        registration = _refusals(lambda: registration_withdraw(registration_id=pk, person=person))
        return Response(RegistrationSerializer(registration).data)


class DecisionInputSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class DeclineInputSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=300, help_text=_("why: the member reads it"))


class RegistrationAcceptApi(APIView):
    """The community's dispatcher accepts a pending registration: the member joins the roster and may claim the
    community's service requests."""

    @extend_schema(request=DecisionInputSerializer, responses={200: StaffRegistrationSerializer})
    def post(self, request, pk: int):
        if not may_decide_registrations(request.user):
            raise PermissionDenied(_("Only the community's dispatchers and administrators decide check-ins."))
        data = DecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registration = _refusals(
            lambda: registration_accept(registration_id=pk, actor=request.user, answer=data.validated_data["answer"])
        )
        return Response(StaffRegistrationSerializer(registration).data)


class RegistrationDeclineApi(APIView):
    """The community's dispatcher declines a pending registration, or ends an accepted one, saying why."""

    @extend_schema(request=DeclineInputSerializer, responses={200: StaffRegistrationSerializer})
    def post(self, request, pk: int):
        if not may_decide_registrations(request.user):
            raise PermissionDenied(_("Only the community's dispatchers and administrators decide check-ins."))
        data = DeclineInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registration = _refusals(
            lambda: registration_decline(registration_id=pk, actor=request.user, answer=data.validated_data["answer"])
        )
        return Response(StaffRegistrationSerializer(registration).data)


class RosterApi(APIView):
    """A community's accepted members as GeoJSON points for its map; names for the community's staff only."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, code: str):
        community = community_by_code(code)
        if community is None:
            raise NotFound(_("No community has this code."))
        return Response(community_roster(community=community, user=request.user))


class CommunityNearSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    street = serializers.CharField(allow_null=True)
    distance_m = serializers.FloatField()


class CommunitiesNearApi(APIView):
    """The communities nearest a point (the one it lies in first): where a member may register."""

    class InputSerializer(PointQuerySerializer):
        limit = serializers.IntegerField(min_value=1, max_value=30, default=10)

    @extend_schema(parameters=[InputSerializer], responses={200: CommunityNearSerializer(many=True)})
    def get(self, request):
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        return Response(communities_nearest(point=v["point"], limit=v["limit"]))


urlpatterns = [
    path("community/registrations/", RegistrationsApi.as_view(), name="community-registrations"),
    path("community/registrations/mine/", RegistrationsMineApi.as_view(), name="community-registrations-mine"),
    path(
        "community/registrations/<int:pk>/withdraw/",
        RegistrationWithdrawApi.as_view(),
        name="community-registration-withdraw",
    ),
    path(
        "community/registrations/<int:pk>/accept/",
        RegistrationAcceptApi.as_view(),
        name="community-registration-accept",
    ),
    path(
        "community/registrations/<int:pk>/decline/",
        RegistrationDeclineApi.as_view(),
        name="community-registration-decline",
    ),
    path("community/nearest/", CommunitiesNearApi.as_view(), name="community-nearest"),
    path("community/<str:code>/roster/", RosterApi.as_view(), name="community-roster"),
]
