"""The engagement API: check-ins at activities (by position, by the rotating code, by the organizer) and the
organizer's rotating code."""

from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from engagement.access import branches_known_to, person_of
from engagement.models import Activity, CheckIn
from engagement.qr import qr_svg
from engagement.selectors.activities import activities_public, activities_run_by
from engagement.selectors.checkins import activity_code
from engagement.services.checkins import (
    CheckInNotAllowed,
    CheckInUUIDConflict,
    checkin_by_organizer,
    checkin_record,
)
from grid.api.errors import Conflict
from grid.crs import CRS
from grid.models import Role
from layers.models import Person

# How members check themselves in (face and organizer check-ins are made for them).
OWN_METHODS = [(m.value, m.label) for m in (CheckIn.Method.GEOFENCE, CheckIn.Method.CODE)]


class CheckInSerializer(serializers.ModelSerializer):
    person_name = serializers.CharField(source="person.name", read_only=True)
    home_branch_name = serializers.CharField(source="home_branch.name", read_only=True, default=None)
    cross_branch = serializers.BooleanField(read_only=True)
    message = serializers.SerializerMethodField()

    class Meta:
        model = CheckIn
        fields = [
            "id",
            "activity",
            "person",
            "person_name",
            "home_branch",
            "home_branch_name",
            "cross_branch",
            "method",
            "at",
            "client_uuid",
            "accuracy_m",
            "distance_m",
            "reason",
            "message",
        ]
        read_only_fields = fields

    def get_message(self, checkin: CheckIn) -> str:
        created = self.context.get("created", True)
        return str(_("Checked in.") if created else _("You were already checked in."))


def _answer(checkin: CheckIn, created: bool) -> Response:
    body = CheckInSerializer(checkin, context={"created": created}).data
    return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _conflict(exc: CheckInUUIDConflict) -> Conflict:
    return Conflict({"client_uuid": [_("This client_uuid belongs to another check-in.")]})


class CheckInApi(APIView):
    """POST: the caller checks in to the activity, by position (`geofence`: lon, lat, crs, accuracy in metres) or
    by the organizer's rotating code (`code`). `at`: when a phone that was offline made the check-in (accepted up
    to 24 hours later). Idempotent: a resend of the same client_uuid, or a second check-in of the same member,
    answers 200 with the first check-in."""

    class CheckInInputSerializer(serializers.Serializer):
        client_uuid = serializers.UUIDField()
        method = serializers.ChoiceField(choices=OWN_METHODS)
        lon = serializers.FloatField(min_value=-180, max_value=180, required=False)
        lat = serializers.FloatField(min_value=-90, max_value=90, required=False)
        crs = serializers.ChoiceField(choices=[c.value for c in CRS], default=CRS.WGS84.value)
        accuracy = serializers.FloatField(
            min_value=0, max_value=100_000, required=False, help_text=_("the position's accuracy in metres")
        )
        code = serializers.RegexField(r"^\d{6}$", required=False, help_text=_("the 6-digit rotating code"))
        at = serializers.DateTimeField(required=False, help_text=_("when the phone made the check-in (queued)"))

        def validate(self, data):
            if data["method"] == CheckIn.Method.GEOFENCE:
                missing = [f for f in ("lon", "lat", "accuracy") if data.get(f) is None]
                if missing:
                    raise serializers.ValidationError({f: [_("A check-in by position needs it.")] for f in missing})
            elif not data.get("code"):
                raise serializers.ValidationError({"code": [_("A check-in by code needs the 6-digit code.")]})
            return data

    InputSerializer = CheckInInputSerializer

    @extend_schema(request=CheckInInputSerializer, responses={201: CheckInSerializer, 200: CheckInSerializer})
    def post(self, request, activity_id: int):
        if request.user.role == Role.AUDITOR and not request.user.is_superuser:
            raise PermissionDenied(_("Auditors read; they do not check in."))
        activity = get_object_or_404(activities_public(), pk=activity_id)
        person = person_of(request.user)
        if person is None:
            raise PermissionDenied(_("Only members and gig workers with an entry in the register check in."))
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            checkin, created = checkin_record(activity=activity, person=person, **data.validated_data)
        except CheckInNotAllowed as refusal:
            raise PermissionDenied(str(refusal)) from refusal
        except CheckInUUIDConflict as exc:
            raise _conflict(exc) from exc
        return _answer(checkin, created)


class OrganizerCheckInApi(APIView):
    """POST: one who runs the activity's branch checks a member in (`person`: the register's id), with a reason;
    written to the audit log. Idempotent like a member's own check-in."""

    class OrganizerCheckInInputSerializer(serializers.Serializer):
        person = serializers.IntegerField(min_value=1)
        reason = serializers.CharField(max_length=300)
        client_uuid = serializers.UUIDField()

    InputSerializer = OrganizerCheckInInputSerializer

    @extend_schema(request=OrganizerCheckInInputSerializer, responses={201: CheckInSerializer, 200: CheckInSerializer})
    def post(self, request, activity_id: int):
        activity = get_object_or_404(activities_run_by(request.user), pk=activity_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        person = _person_for_organizer(request.user, activity, v["person"])
        try:
            checkin, created = checkin_by_organizer(
                activity=activity, person=person, reason=v["reason"], client_uuid=v["client_uuid"], by=request.user
            )
        except CheckInUUIDConflict as exc:
            raise _conflict(exc) from exc
        return _answer(checkin, created)


def _person_for_organizer(user, activity: Activity, person_id: int) -> Person:
    """A member the organizer may check in: of a branch the organizer knows, or of one the activity expects (any,
    for an activity open to all members or to other branches). Anybody else is as one who does not exist."""
    people = Person.objects.select_related("branch")
    if activity.audience != Activity.Audience.ALL and not activity.cross_branch:
        expected = [activity.branch_id, *activity.invited_branches.values_list("pk", flat=True)]
        people = people.filter(branch__in=[*expected, *branches_known_to(user).values_list("pk", flat=True)])
    person = people.filter(pk=person_id).first()
    if person is None:
        raise ValidationError({"person": [_("No such member.")]})
    return person


# The members' activities page (map_ui), which reads `activity` and `code` from its address and checks in.
ACTIVITIES_PAGE = "/m/activities/"


class RotatingCodeSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("the 6-digit code of this 30 s step"))
    qr_svg = serializers.CharField(help_text=_("an SVG QR code of `url`"))
    url = serializers.CharField(help_text=_("the check-in page's address, carrying the code"))
    valid_for_s = serializers.IntegerField(help_text=_("seconds until the next code"))
    step = serializers.IntegerField(help_text=_("the 30 s step since 1970 that the code belongs to"))


def checkin_url(request, activity: Activity, code: str) -> str:
    """Where a member's phone goes when it scans the organizer's QR code: the activities page, which checks in
    to the activity with the code."""
    try:
        page = reverse("activities")
    except NoReverseMatch:
        page = ACTIVITIES_PAGE
    return request.build_absolute_uri(f"{page}?activity={activity.pk}&code={code}")


class ActivityCodeApi(APIView):
    """GET: the activity's rotating code now, for the organizer's screen: the 6 digits, a QR code of the check-in
    address carrying them, and how long they stay valid. For those who run the activity's branch."""

    @extend_schema(responses={200: RotatingCodeSerializer})
    def get(self, request, activity_id: int):
        activity = get_object_or_404(activities_run_by(request.user), pk=activity_id)
        now = timezone.now()
        rotating = activity_code(activity=activity, at=now)
        url = checkin_url(request, activity, rotating.code)
        body = {
            "code": rotating.code,
            "qr_svg": qr_svg(url),
            "url": url,
            "valid_for_s": rotating.valid_for_s,
            "step": rotating.step,
        }
        response = Response(RotatingCodeSerializer(body).data)
        response["Cache-Control"] = "no-store"
        return response


urlpatterns = [
    path("activities/<int:activity_id>/checkins/", CheckInApi.as_view(), name="activity-checkins"),
    path(
        "activities/<int:activity_id>/checkins/organizer/",
        OrganizerCheckInApi.as_view(),
        name="activity-checkin-organizer",
    ),
    path("activities/<int:activity_id>/code/", ActivityCodeApi.as_view(), name="activity-code"),
]
