"""Dispatch APIs: workers' phones post their position; dispatchers ask who is near a case; volunteers find
service requests near them to claim."""

import datetime as dt

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.fields import GeometryField

from grid.access import incidents_for
from grid.api.params import FiniteFloatField, LocatedInputSerializer, PointQuerySerializer
from grid.models import Role, User, WorkerStatus
from grid.selectors.dispatch import incidents_claimable, worker_candidates
from grid.services.workforce import worker_status_update

# A phone's clock may run a little fast; a fix further ahead than this is a wrong clock, not a fix.
FIX_MAX_AHEAD = dt.timedelta(minutes=5)


def _works_in_the_field(user: User) -> bool:
    """Grid workers and volunteers: the accounts that post positions and claim service requests."""
    return user.role == Role.GRID_WORKER or user.volunteer


class WorkerStatusSerializer(serializers.ModelSerializer):
    location = GeometryField(precision=7, allow_null=True)

    class Meta:
        model = WorkerStatus
        fields = ["on_duty", "location", "accuracy_m", "position_at", "updated"]


class WorkerPositionApi(APIView):
    """GET: the caller's stored position and duty status. POST: the phone's latest fix and/or duty status.

    A fix older (by `at`) than the stored one changes nothing: phones resend queued fixes out of order.
    """

    class PositionInputSerializer(LocatedInputSerializer):
        accuracy_m = FiniteFloatField(min_value=0, max_value=10000, required=False)
        # allow_null: a form post without on_duty leaves it as it is instead of reading as False.
        on_duty = serializers.BooleanField(required=False, allow_null=True)
        at = serializers.DateTimeField(required=False, help_text=_("when the phone took the fix"))

        def validate_at(self, value):
            if value > timezone.now() + FIX_MAX_AHEAD:
                raise serializers.ValidationError(_("The fix time is more than 5 minutes in the future."))
            return value

        def validate(self, attrs):
            if any(name in attrs for name in ("lon", "lat", "location")):
                return super().validate(attrs)
            attrs.pop("crs", None)
            if "accuracy_m" in attrs:
                raise serializers.ValidationError({"accuracy_m": _("Give the accuracy with a position.")})
            if attrs.get("on_duty") is None:
                raise serializers.ValidationError(
                    {"location": _("Give a position (lon and lat, or location), on_duty, or both.")}
                )
            return attrs

    def _check_role(self, user: User) -> None:
        if not _works_in_the_field(user):
            raise PermissionDenied(_("Only grid workers and volunteers report their position."))

    @extend_schema(responses={200: WorkerStatusSerializer})
    def get(self, request):
        self._check_role(request.user)
        status = WorkerStatus.objects.filter(user=request.user).first() or WorkerStatus(user=request.user)
        return Response(WorkerStatusSerializer(status).data)

    @extend_schema(request=PositionInputSerializer, responses={200: WorkerStatusSerializer})
    def post(self, request):
        self._check_role(request.user)
        data = self.PositionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        status = worker_status_update(
            user=request.user,
            location=v.get("location"),
            on_duty=v.get("on_duty"),
            accuracy_m=v.get("accuracy_m"),
            at=v.get("at"),
        )
        return Response(WorkerStatusSerializer(status).data)


class CandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    full_name = serializers.CharField()
    phone = serializers.CharField(help_text=_("the last four digits only, e.g. *******1234"))
    role = serializers.CharField()
    volunteer = serializers.BooleanField()
    position = serializers.JSONField(help_text=_("GeoJSON Point, rounded to 0.001° (about 100 m)"))
    accuracy_m = serializers.FloatField(allow_null=True)
    position_at = serializers.DateTimeField()
    distance_m = serializers.FloatField()
    open_cases = serializers.IntegerField()
    grids = serializers.ListField(child=serializers.CharField())


class IncidentCandidatesApi(APIView):
    """Workers who could take an incident: on duty, recently located, of a grid in the incident's area or the
    caller's, nearest first; volunteers of its area or near it on request. Phones show their last four digits,
    positions are rounded to about 100 m."""

    class InputSerializer(serializers.Serializer):
        limit = serializers.IntegerField(min_value=1, max_value=50, default=10)
        include_volunteers = serializers.BooleanField(default=False)

    @extend_schema(parameters=[InputSerializer], responses={200: CandidateSerializer(many=True)})
    def get(self, request, pk: int):
        user = request.user
        if not (user.is_superuser or user.role in (Role.DISPATCHER, Role.ADMINISTRATOR)):
            raise PermissionDenied(_("Only dispatchers and administrators see dispatch candidates."))
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        incident = get_object_or_404(incidents_for(user).only("pk", "location", "community", "street"), pk=pk)
        rows = worker_candidates(incident=incident, user=user, **data.validated_data)
        return Response(CandidateSerializer(rows, many=True).data)


class ClaimableSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    location = serializers.JSONField()
    distance_m = serializers.FloatField()
    category = serializers.CharField()
    category_name = serializers.CharField()
    note = serializers.CharField()
    created = serializers.DateTimeField()
    deadline = serializers.DateTimeField(allow_null=True)


class IncidentsClaimableApi(APIView):
    """Service requests opened to volunteers, accepted and unassigned, within radius_m of a point, nearest first:
    those of the caller's areas (a grid worker's grids) or within VOLUNTEER_CLAIM_RADIUS_M of the caller's last
    posted position, the only ones the caller may claim.

    Claim one with POST /api/v1/incidents/{id}/transitions/ {"action": "claim"}.
    """

    class InputSerializer(PointQuerySerializer):
        radius_m = FiniteFloatField(min_value=1, max_value=50000, default=3000)

    @extend_schema(parameters=[InputSerializer], responses={200: ClaimableSerializer(many=True)})
    def get(self, request):
        if not _works_in_the_field(request.user):
            raise PermissionDenied(_("Only grid workers and volunteers claim service requests."))
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        rows = incidents_claimable(user=request.user, point=v["point"], radius_m=v["radius_m"])
        return Response(ClaimableSerializer(rows, many=True).data)
