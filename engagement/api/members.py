"""The engagement API: my code (一人一号), its verification by the people who scan it, and my whereabouts."""

from django.contrib.gis.geos import Point
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.fields import GeometryField

from engagement.access import may_verify_codes, person_of
from engagement.models import MobileMemberRecord
from engagement.qr import qr_svg
from engagement.selectors.members import whereabouts_of
from engagement.services.members import (
    CodeInvalid,
    IssuedCode,
    NoPersonalCode,
    WhereaboutsRefused,
    mobile_member_record,
    personal_code_issue,
    personal_code_reissue,
    personal_code_verify,
)
from grid.api.errors import Conflict
from grid.api.params import FiniteFloatField, GeoJSONPointField, TextSlugRelatedField
from grid.crs import CRS, to_wgs84
from grid.models import AdminArea
from layers.models import Person, PersonCategory


def _person_or_403(request) -> Person:
    person = person_of(request.user)
    if person is None:
        raise PermissionDenied(_("This account is linked to nobody in the register."))
    return person


class MemberBranchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class CodeSerializer(serializers.Serializer):
    payload = serializers.CharField(help_text=_("the QR code's text: GL1.<member code>.<version>.<signature>"))
    svg = serializers.CharField(help_text=_("the QR code as an SVG document"))
    member_code = serializers.CharField()
    version = serializers.IntegerField()
    issued_at = serializers.DateTimeField()
    name = serializers.CharField()
    is_gig_worker = serializers.BooleanField()
    branch = MemberBranchSerializer(allow_null=True)


def _branch_ref(person: Person) -> dict | None:
    branch = person.branch
    return None if branch is None else {"id": branch.pk, "code": branch.code, "name": branch.name}


def _code_body(issued: IssuedCode) -> dict:
    person = issued.person
    return {
        "payload": issued.payload,
        "svg": qr_svg(issued.payload),
        "member_code": issued.member_code,
        "version": issued.version,
        "issued_at": issued.issued_at.isoformat(),
        "name": person.name,
        "is_gig_worker": PersonCategory.GIG_WORKER in person.categories,
        "branch": _branch_ref(person),
    }


def _issue(request, action) -> IssuedCode:
    person = _person_or_403(request)
    try:
        return action(person=person)
    except NoPersonalCode as refused:
        raise PermissionDenied(_("Only party members and gig workers have a personal code.")) from refused


class MyCodeApi(APIView):
    """The caller's personal QR code (一人一号): its text, an SVG drawing, the member code and its version."""

    @extend_schema(responses={200: CodeSerializer})
    def get(self, request):
        return Response(_code_body(_issue(request, personal_code_issue)))


class MyCodeReissueApi(APIView):
    """A new version of the caller's code (a lost phone, a leaked picture): every earlier code stops verifying."""

    @extend_schema(request=None, responses={200: CodeSerializer})
    def post(self, request):
        return Response(_code_body(_issue(request, personal_code_reissue)))


class CodeVerifyApi(APIView):
    """Who a scanned personal code names: for station keepers, branch cadres and staff who run an area."""

    class CodeVerifyInputSerializer(serializers.Serializer):
        payload = serializers.CharField(max_length=200, trim_whitespace=True)

    class CodeVerifyOutputSerializer(serializers.Serializer):
        name = serializers.CharField()
        member_code = serializers.CharField()
        version = serializers.IntegerField()
        is_party_member = serializers.BooleanField()
        is_gig_worker = serializers.BooleanField()
        branch = MemberBranchSerializer(allow_null=True)

    @extend_schema(request=CodeVerifyInputSerializer, responses={200: CodeVerifyOutputSerializer})
    def post(self, request):
        if not may_verify_codes(request.user):
            raise PermissionDenied(_("Only station keepers, branch cadres and area staff verify personal codes."))
        data = self.CodeVerifyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payload = data.validated_data["payload"]
        try:
            person = personal_code_verify(payload=payload)
        except CodeInvalid as invalid:
            raise serializers.ValidationError({"payload": [invalid.reason]}) from invalid
        return Response(
            {
                "name": person.name,
                "member_code": person.member_code,
                "version": int(payload.rsplit(".", 2)[1]),
                "is_party_member": person.branch_id is not None or PersonCategory.PARTY_MEMBER in person.categories,
                "is_gig_worker": PersonCategory.GIG_WORKER in person.categories,
                "branch": _branch_ref(person),
            }
        )


class WhereaboutsAreaSerializer(serializers.ModelSerializer):
    class Meta:
        model = AdminArea
        fields = ["id", "code", "name"]


class WhereaboutsSerializer(serializers.ModelSerializer):
    community = WhereaboutsAreaSerializer(read_only=True)
    location = GeometryField(precision=6, read_only=True)
    current = serializers.SerializerMethodField()

    class Meta:
        model = MobileMemberRecord
        fields = ["id", "community", "location", "since", "until", "note", "client_uuid", "current"]

    def get_current(self, record: MobileMemberRecord) -> bool:
        return record.until is None


class WhereaboutsInputSerializer(serializers.Serializer):
    community = TextSlugRelatedField(
        slug_field="code",
        queryset=AdminArea.objects.filter(level=AdminArea.Level.COMMUNITY),
        required=False,
        max_length=12,
        help_text=_("the code of the community where the member now lives or works"),
    )
    lon = FiniteFloatField(min_value=-180, max_value=180, required=False)
    lat = FiniteFloatField(min_value=-90, max_value=90, required=False)
    location = GeoJSONPointField(required=False)
    crs = serializers.ChoiceField(choices=[c.value for c in CRS], default=CRS.WGS84.value)
    since = serializers.DateField(required=False)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    client_uuid = serializers.UUIDField()

    def validate_since(self, value):
        if value > timezone.localdate():
            raise serializers.ValidationError(_("A record cannot start in the future."))
        return value

    def validate(self, attrs):
        has_lon, has_lat, has_location = "lon" in attrs, "lat" in attrs, "location" in attrs
        if has_location and (has_lon or has_lat):
            raise serializers.ValidationError({"location": _("Give either location or lon/lat, not both.")})
        if has_lon != has_lat:
            missing = "lat" if has_lon else "lon"
            raise serializers.ValidationError({missing: _("Give lon and lat together.")})
        crs = attrs.pop("crs")
        point = attrs.pop("location", None)
        if has_lon:
            point = Point(attrs.pop("lon"), attrs.pop("lat"), srid=4326)
        if point is not None:
            point = Point(*to_wgs84(point.x, point.y, crs), srid=4326)
        if point is None and "community" not in attrs:
            raise serializers.ValidationError(
                {"community": _("Give the community, or the point (lon/lat or location), where you are.")}
            )
        attrs["location"] = point
        attrs.setdefault("since", timezone.localdate())
        return attrs


class MyWhereaboutsApi(APIView):
    """GET: where the caller, a member away from the home branch (流动党员), said they were, current first.
    POST: where they are now (a community, a point, or both; since when): the current record ends that day.
    Idempotent by client_uuid."""

    @extend_schema(responses={200: WhereaboutsSerializer(many=True)})
    def get(self, request):
        person = _person_or_403(request)
        return Response(WhereaboutsSerializer(whereabouts_of(person=person), many=True).data)

    @extend_schema(
        request=WhereaboutsInputSerializer, responses={201: WhereaboutsSerializer, 200: WhereaboutsSerializer}
    )
    def post(self, request):
        person = _person_or_403(request)
        if person.branch_id is None:
            raise PermissionDenied(_("Only members of a party branch record where they are."))
        data = WhereaboutsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            record, created = mobile_member_record(person=person, **data.validated_data)
        except WhereaboutsRefused as refused:
            if refused.field == "client_uuid":
                raise Conflict({"client_uuid": [refused.message]}) from refused
            raise serializers.ValidationError({refused.field: [refused.message]}) from refused
        return Response(
            WhereaboutsSerializer(record).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


urlpatterns = [
    path("me/code/", MyCodeApi.as_view(), name="me-code"),
    path("me/code/reissue/", MyCodeReissueApi.as_view(), name="me-code-reissue"),
    path("codes/verify/", CodeVerifyApi.as_view(), name="codes-verify"),
    path("me/whereabouts/", MyWhereaboutsApi.as_view(), name="me-whereabouts"),
]
