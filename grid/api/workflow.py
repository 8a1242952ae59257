"""The incident workflow over HTTP: one incident, its transitions, timeline and feedback; offline batches;
notifications."""

import json

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from grid.access import incidents_for
from grid.api.detail import incident_detail, incident_in_scope
from grid.api.errors import Conflict
from grid.api.serializers import (
    EVENT_INCIDENT_KEYS,
    IncidentEventSerializer,
    NotificationSerializer,
    ReportInputSerializer,
)
from grid.models import IncidentEvent, Notification
from grid.photos import photos_decode, photos_of_request
from grid.selectors.dispatch import incidents_in_reach
from grid.services import (
    ClientUUIDConflict,
    TransitionDenied,
    TransitionInput,
    TransitionRefused,
    incident_feedback,
    incident_report,
    incident_transition,
)
from grid.workflow import ACTIONS

# The largest values of PostgreSQL's integer and bigint columns: a larger number is a client's error, not a lookup.
INTEGER_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


class IncidentDetailApi(APIView):
    """One incident in the caller's scope, with photos, the actions the caller may take and possible duplicates."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        return Response(incident_detail(incident_in_scope(request.user, pk), request))


class TransitionInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=ACTIONS)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    # A username, looked up by the service within what the caller may dispatch to: a name outside that and a
    # name nobody has get the same answer.
    assignee = serializers.CharField(max_length=150, required=False, help_text=_("username of the worker"))
    duplicate_of = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, required=False)
    version = serializers.IntegerField(
        min_value=1,
        max_value=INTEGER_MAX,
        required=False,
        help_text=_("the version you saw: refused with 409 if the incident changed since"),
    )
    rating = serializers.IntegerField(min_value=1, max_value=5, required=False, help_text=_("reporter, on close"))
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs["action"] == "dispatch" and "assignee" not in attrs:
            raise serializers.ValidationError({"assignee": _("Name the worker to dispatch to.")})
        if attrs["action"] == "merge" and "duplicate_of" not in attrs:
            raise serializers.ValidationError({"duplicate_of": _("Name the original incident.")})
        return attrs


def transition_errors(call):
    """Run a workflow service call, turning its refusals into 409 and 403 answers."""
    try:
        return call()
    except TransitionRefused as refused:
        raise Conflict({"detail": refused.message, "allowed": refused.allowed}) from refused
    except TransitionDenied as denied:
        raise PermissionDenied(_("Your role cannot take this action on this incident.")) from denied


class IncidentTransitionApi(APIView):
    """Take a workflow action: {"action", "note", "assignee", "duplicate_of", "version"}; photos as multipart."""

    @extend_schema(request=TransitionInputSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, pk: int):
        data = TransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if not incidents_for(request.user).filter(pk=pk).exists():
            # volunteers claim service requests outside their own scope: those opened to volunteers in their reach
            if not (
                v["action"] == "claim"
                and incidents_in_reach(user=request.user).filter(pk=pk, open_to_volunteers=True).exists()
            ):
                raise NotFound(_("No incident with this id in your area."))
        photos = photos_decode(photos_of_request(request.FILES, "photos")) if request.FILES else []
        move = TransitionInput(
            action=v["action"],
            note=v["note"],
            assignee_username=v.get("assignee", ""),
            duplicate_of=v.get("duplicate_of"),
            version=v.get("version"),
            rating=v.get("rating"),
            comment=v["comment"],
        )
        incident = transition_errors(
            lambda: incident_transition(incident_id=pk, actor=request.user, move=move, photos=photos)
        )
        return Response(incident_detail(incident_in_scope(request.user, incident.pk), request))


class IncidentTimelineApi(APIView):
    """The incident's timeline, oldest first: every transition, routing, warning, escalation and feedback."""

    @extend_schema(responses={200: IncidentEventSerializer(many=True)})
    def get(self, request, pk: int):
        incident = incident_in_scope(request.user, pk)
        events = list(
            IncidentEvent.objects.filter(incident=incident).select_related("actor").prefetch_related("photos")
        )
        named = {e.data.get(key) for e in events for key in EVENT_INCIDENT_KEYS if isinstance(e.data, dict)}
        named = {pk for pk in named if isinstance(pk, int)}
        visible = set(incidents_for(request.user).filter(pk__in=named).values_list("pk", flat=True)) if named else set()
        context = {"request": request, "visible_incidents": visible}
        return Response(IncidentEventSerializer(events, many=True, context=context).data)


class IncidentFeedbackApi(APIView):
    """The reporter's rating (1–5) and comment: closes a resolved case; once per case."""

    class FeedbackInputSerializer(serializers.Serializer):
        rating = serializers.IntegerField(min_value=1, max_value=5)
        comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    @extend_schema(request=FeedbackInputSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, pk: int):
        incident_in_scope(request.user, pk)
        data = self.FeedbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        incident = transition_errors(
            lambda: incident_feedback(incident_id=pk, reporter=request.user, **data.validated_data)
        )
        return Response(incident_detail(incident_in_scope(request.user, incident.pk), request))


class IncidentBatchApi(APIView):
    """An offline phone's queue: {"reports": [report, …], "reporter": username?} (JSON, or multipart with `reports`
    as a JSON string and each report's photos as files named `photos:<client_uuid>`). One result per item, in
    order; a resend of the whole batch creates nothing new. With `reporter`, a caller logged in as somebody
    else is refused (409) and nothing is created."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        if request.user.role == "auditor" and not request.user.is_superuser:
            raise PermissionDenied(_("Auditors read; they do not report."))
        if not isinstance(request.data, dict):
            raise serializers.ValidationError(
                {"reports": [_('Send an object, {"reports": [report, …]}, not a bare list or value.')]}
            )
        # A phone's queue belongs to whoever filled it: after a re-login as somebody else, it must not be sent
        # in that other account's name.
        expected = request.data.get("reporter")
        if expected not in (None, "") and not (isinstance(expected, str) and len(expected) <= 150):
            raise serializers.ValidationError({"reporter": [_("Give the reporter's username as text.")]})
        if expected not in (None, "") and expected != request.user.get_username():
            raise Conflict(
                {
                    "reporter": [
                        _("These reports were made by %(expected)s; log in as %(expected)s to send them.")
                        % {"expected": expected}
                    ]
                }
            )
        reports = request.data.get("reports")
        if isinstance(reports, str):
            try:
                reports = json.loads(reports)
            except ValueError:
                raise serializers.ValidationError({"reports": [_("Not valid JSON.")]}) from None
        if not isinstance(reports, list) or not reports:
            raise serializers.ValidationError({"reports": [_("Give a non-empty list of reports.")]})
        most = settings.INCIDENT_BATCH_MAX_REPORTS
        if len(reports) > most:
            raise serializers.ValidationError({"reports": [_("At most %(n)s reports per batch.") % {"n": most}]})
        # Every file of the request is parsed and held until the answer: bound them all, whatever their names.
        if request.FILES:
            photos_of_request(request.FILES, "photos", most=settings.INCIDENT_BATCH_MAX_PHOTOS)
        results = [self._one(request, item) for item in reports]
        return Response({"results": results})

    def _one(self, request, item) -> dict:
        client_uuid = item.get("client_uuid") if isinstance(item, dict) else None
        # echoed back and used as a file name: only ever text
        client_uuid = client_uuid if isinstance(client_uuid, str) and len(client_uuid) <= 64 else None
        result = {"client_uuid": client_uuid}
        if not isinstance(item, dict):
            return {**result, "result": "invalid", "errors": {"non_field_errors": [_("Each report is an object.")]}}
        try:
            photos = (
                photos_decode(request.FILES.getlist(f"photos:{client_uuid}")) if request.FILES and client_uuid else []
            )
            data = ReportInputSerializer(data=item, context={"photos": photos})
            data.is_valid(raise_exception=True)
            with transaction.atomic():  # one bad item never takes the others with it
                incident, created = incident_report(reporter=request.user, photos=photos, **data.validated_data)
        except ClientUUIDConflict:
            return {**result, "result": "conflict", "errors": {"client_uuid": [_("Used by another account.")]}}
        except serializers.ValidationError as invalid:
            return {**result, "result": "invalid", "errors": invalid.detail}
        except DjangoValidationError as error:
            detail = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
            return {**result, "result": "invalid", "errors": detail}
        return {**result, "result": "created" if created else "existing", "id": incident.pk, "status": incident.status}


class NotificationsApi(APIView):
    """The caller's notifications, newest first (`?unread=true` for unread ones only); POST marks read."""

    class NotificationsReadSerializer(serializers.Serializer):
        ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=1000)
        all = serializers.BooleanField(required=False, default=False)

    @extend_schema(responses={200: NotificationSerializer(many=True)})
    def get(self, request):
        unread = request.query_params.get("unread", "").lower()
        if unread not in ("", "true", "false", "1", "0"):
            raise serializers.ValidationError({"unread": [_("Must be true or false.")]})
        qs = Notification.objects.filter(recipient=request.user)
        if unread in ("true", "1"):
            qs = qs.filter(read_at__isnull=True)
        return Response(NotificationSerializer(qs[:200], many=True).data)

    @extend_schema(request=NotificationsReadSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        data = self.NotificationsReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        qs = Notification.objects.filter(recipient=request.user, read_at__isnull=True)
        if not data.validated_data["all"]:
            if not data.validated_data.get("ids"):
                raise serializers.ValidationError({"ids": [_("Give ids, or all: true.")]})
            qs = qs.filter(pk__in=data.validated_data["ids"])
        return Response({"marked_read": qs.update(read_at=timezone.now())}, status=status.HTTP_200_OK)
