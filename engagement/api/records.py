"""The engagement API: an activity's record (minutes, photos, short videos, a face check-in meeting's frames) and its
attendance list (names, for those who know the branch)."""

from django.http import FileResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from engagement.api.activities import BranchRefSerializer, activity_public_or_404, activity_run_by_or_refuse
from engagement.models import Activity, ActivityMedia, CheckIn
from engagement.selectors.activities import (
    activities_with_record_for,
    activity_attendance_for,
    activity_expected_count,
    activity_media_of,
)
from engagement.services.activities import (
    MediaRefused,
    activity_media_add,
    activity_minutes_set,
)
from grid.api.common import JsonErrorsNegotiation


class MediaSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = ActivityMedia
        fields = ["id", "kind", "content_type", "size", "sha256", "created", "url", "thumbnail_url"]
        read_only_fields = fields

    def _url(self, media: ActivityMedia, **query) -> str:
        path = reverse("engagement:activity-media-file", kwargs={"pk": media.activity_id, "mid": media.pk})
        suffix = "".join(f"?{k}={v}" for k, v in query.items())
        request = self.context.get("request")
        return request.build_absolute_uri(path + suffix) if request else path + suffix

    def get_url(self, media: ActivityMedia) -> str:
        return self._url(media)

    def get_thumbnail_url(self, media: ActivityMedia) -> str | None:
        return self._url(media, size="thumb") if media.thumbnail else None


class FrameSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    url = serializers.URLField(help_text=_("the face check-in meeting's frame endpoint"))


class RecordSerializer(serializers.Serializer):
    minutes = serializers.CharField()
    results = MediaSerializer(many=True, help_text=_("photos and videos"))
    frames = FrameSerializer(many=True, help_text=_("frames kept by the face check-in meeting's camera"))


class AttendanceRowSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="person.name", read_only=True)
    home_branch = BranchRefSerializer(read_only=True, allow_null=True)
    cross_branch = serializers.BooleanField(read_only=True)

    class Meta:
        model = CheckIn
        fields = ["id", "person", "name", "method", "at", "home_branch", "cross_branch"]
        read_only_fields = fields


class AttendanceSerializer(serializers.Serializer):
    activity = serializers.IntegerField()
    expected = serializers.IntegerField(allow_null=True, help_text=_("null: open to all members"))
    count = serializers.IntegerField()
    cross_branch = serializers.IntegerField(help_text=_("check-ins of members of other branches"))
    complete = serializers.BooleanField(help_text=_("false: only your branch's members are listed"))
    results = AttendanceRowSerializer(many=True)


# --- input --------------------------------------------------------------------------------------------------------


class RecordInputSerializer(serializers.Serializer):
    minutes = serializers.CharField(max_length=100_000, allow_blank=True)


class MediaInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("a JPEG, PNG or WebP photo, or an MP4, WebM or QuickTime video"))


def _record_or_404(user, pk: int) -> Activity:
    activity = activities_with_record_for(user).filter(pk=pk).first()
    if activity is None:
        raise NotFound(_("No such activity."))
    return activity


class ActivityRecordApi(APIView):
    """PATCH: the minutes of an activity you run."""

    @extend_schema(request=RecordInputSerializer, responses={200: RecordSerializer})
    def patch(self, request, pk: int):
        activity = activity_run_by_or_refuse(request.user, pk, record=True)
        data = RecordInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activity_minutes_set(activity=activity, by=request.user, **data.validated_data)
        return Response(_record(request, activity))


def _frames(request, activity: Activity) -> list[dict]:
    if activity.meeting_id is None:
        return []
    frames = []
    for frame in activity.meeting.frames.order_by("at", "pk"):
        path = reverse("attendance-meeting-frame", kwargs={"pk": activity.meeting_id, "frame_id": frame.pk})
        at = serializers.DateTimeField().to_representation(frame.at)
        frames.append({"id": frame.pk, "at": at, "url": request.build_absolute_uri(path)})
    return frames


def _record(request, activity: Activity) -> dict:
    media = MediaSerializer(activity_media_of(activity), many=True, context={"request": request}).data
    return {"minutes": activity.minutes, "results": media, "frames": _frames(request, activity)}


class ActivityMediaApi(APIView):
    """GET: the record (minutes, photos and videos, the face check-in meeting's frames). POST: add a photo or
    video (multipart `file`); the same file again answers the one stored."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses={200: RecordSerializer})
    def get(self, request, pk: int):
        return Response(_record(request, _record_or_404(request.user, pk)))

    @extend_schema(
        request={"multipart/form-data": MediaInputSerializer},
        responses={201: MediaSerializer, 200: MediaSerializer},
    )
    def post(self, request, pk: int):
        activity = activity_run_by_or_refuse(request.user, pk, record=True)
        count = sum(len(request.FILES.getlist(name)) for name in request.FILES)
        if count > 1:
            raise serializers.ValidationError({"file": [_("Send one file per request.")]})
        data = MediaInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            media, created = activity_media_add(activity=activity, upload=data.validated_data["file"], by=request.user)
        except MediaRefused as refused:
            return Response({"file": [str(refused.message)], "detail": str(refused.message)}, status=refused.status)
        body = MediaSerializer(media, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ActivityMediaFileApi(APIView):
    """GET: a photo or video of an activity's record, for those who may read it; `?size=thumb` for a photo's
    thumbnail."""

    content_negotiation_class = JsonErrorsNegotiation

    class InputSerializer(serializers.Serializer):
        size = serializers.ChoiceField(choices=["full", "thumb"], required=False, default="full")

    @extend_schema(
        operation_id="api_v1_engagement_activities_media_file",
        parameters=[OpenApiParameter("size", OpenApiTypes.STR, enum=["full", "thumb"], default="full")],
        responses={
            (200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description=_("the photo or video's bytes")),
            404: OpenApiResponse(description=_("no such file in a record you may read")),
        },
    )
    def get(self, request, pk: int, mid: int):
        params = self.InputSerializer(data={key: request.query_params[key] for key in request.query_params})
        params.is_valid(raise_exception=True)
        media = (
            ActivityMedia.objects.filter(
                pk=mid, activity_id=pk, activity__in=activities_with_record_for(request.user).values("pk")
            )
            .only("pk", "file", "thumbnail", "content_type", "kind")
            .first()
        )
        if media is None:
            raise NotFound(_("No such file."))
        thumb = params.validated_data["size"] == "thumb" and media.thumbnail
        field = media.thumbnail if thumb else media.file
        try:
            stream = field.open("rb")
        except (FileNotFoundError, ValueError) as error:
            raise NotFound(_("No such file.")) from error
        response = FileResponse(stream, content_type=media.content_type)
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ActivityAttendanceApi(APIView):
    """GET: who checked in, how and when, from which home branch: all of them for those who know the organizing
    branch, a branch's own members for that branch."""

    @extend_schema(responses={200: AttendanceSerializer})
    def get(self, request, pk: int):
        activity = activity_public_or_404(pk)
        checkins = activity_attendance_for(user=request.user, activity=activity)
        if checkins is None:
            raise NotFound(_("No such activity."))
        rows = list(checkins)
        complete = activities_with_record_for(request.user).filter(pk=pk).exists()
        for row in rows:
            row.activity = activity  # cross_branch compares with the activity's branch: no query per row
        return Response(
            {
                "activity": activity.pk,
                "expected": activity_expected_count(activity),
                "count": len(rows),
                "cross_branch": sum(row.cross_branch for row in rows),
                "complete": complete,
                "results": AttendanceRowSerializer(rows, many=True).data,
            }
        )


urlpatterns = [
    path("activities/<int:pk>/record/", ActivityRecordApi.as_view(), name="activity-record"),
    path("activities/<int:pk>/media/", ActivityMediaApi.as_view(), name="activity-media"),
    path("activities/<int:pk>/media/<int:mid>/", ActivityMediaFileApi.as_view(), name="activity-media-file"),
    path("activities/<int:pk>/attendance/", ActivityAttendanceApi.as_view(), name="activity-attendance"),
]
