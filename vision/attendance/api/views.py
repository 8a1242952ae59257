"""Thin views of face attendance: enrol (multipart) and withdraw, the summaries, meetings with their check-ins and
the frames kept of them. Every row comes through the scoped selectors; frames only through this API."""

from django.http import FileResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import pagination, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from grid.access import scope_loaded
from grid.api.common import JsonErrorsNegotiation
from vision.attendance.api.serializers import (
    EnrolmentInputSerializer,
    EnrolmentSerializer,
    MeetingDetailSerializer,
    MeetingSerializer,
    SummaryQuerySerializer,
    SummarySerializer,
)
from vision.attendance.selectors import (
    attendance_summary,
    enrolments_for,
    may_enrol,
    meetings_for,
    people_enrollable,
)
from vision.attendance.services import FaceEngineMissing, enrolment_create, enrolment_delete


class FaceEngineUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _("Face recognition is not installed on this server.")
    default_code = "face_engine_unavailable"


class Pagination(pagination.PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class EnrolmentsApi(APIView):
    """GET: face enrolments of people in your scope (never their templates). POST (multipart): enrol a person from
    1–10 JPEG/PNG photos with recorded consent; dispatchers and administrators, for people in their scope."""

    parser_classes = [MultiPartParser, FormParser]
    pagination_class = Pagination  # paged by hand in get(); named so that the schema documents the page

    @extend_schema(responses={200: EnrolmentSerializer(many=True)})
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(enrolments_for(scope_loaded(request.user)), request, view=self)
        return paginator.get_paginated_response(EnrolmentSerializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": EnrolmentInputSerializer},
        responses={201: EnrolmentSerializer, 400: OpenApiResponse(description=_("bad input, or no face in a photo"))},
    )
    def post(self, request):
        user = scope_loaded(request.user)
        if not may_enrol(user):
            raise PermissionDenied(_("Only dispatchers and administrators enrol faces."))
        data = {
            "person": request.data.get("person"),
            "consent": request.data.get("consent", False),
            "photos": request.FILES.getlist("photos"),
        }
        if "method" in request.data:
            data["method"] = request.data.get("method")
        payload = EnrolmentInputSerializer(data=data)
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        person = people_enrollable(user).filter(pk=values["person"]).first()
        if person is None:
            # as for every read of a person: one answer for "none" and "not yours", which tells nothing
            raise NotFound(_("No person with this id is in your scope."))
        try:
            enrolment = enrolment_create(
                person=person,
                photos=values["photos"],
                consent=values["consent"],
                recorded_by=user,
                method=values.get("method"),
            )
        except FaceEngineMissing as error:
            raise FaceEngineUnavailable() from error
        return Response(EnrolmentSerializer(enrolment).data, status=status.HTTP_201_CREATED)


class EnrolmentDetailApi(APIView):
    """GET one enrolment; DELETE it when consent is withdrawn (its template goes with it)."""

    def _enrolment(self, request, pk: int):
        enrolment = enrolments_for(scope_loaded(request.user)).filter(pk=pk).first()
        if enrolment is None:
            raise NotFound(_("No such face enrolment in your scope."))
        return enrolment

    @extend_schema(responses={200: EnrolmentSerializer})
    def get(self, request, pk: int):
        return Response(EnrolmentSerializer(self._enrolment(request, pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        enrolment = self._enrolment(request, pk)
        if not may_enrol(request.user):
            raise PermissionDenied(_("Only dispatchers and administrators enrol faces."))
        enrolment_delete(enrolment=enrolment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SummaryApi(APIView):
    """Duty attendance per person and per village for the week, month or quarter containing `date` (default
    today), optionally within an area (code); only duties of people in your scope."""

    @extend_schema(parameters=[SummaryQuerySerializer], responses={200: SummarySerializer})
    def get(self, request):
        # a plain dict: DRF reads a blank form value as absent, and `?period=` is an error here
        query = SummaryQuerySerializer(data={key: request.query_params[key] for key in request.query_params})
        query.is_valid(raise_exception=True)
        values = query.validated_data
        summary = attendance_summary(
            user=scope_loaded(request.user), period=values["period"], day=values["date"], area=values.get("area")
        )
        return Response(SummarySerializer(summary).data)


class MeetingsApi(APIView):
    """Meetings at cameras in your scope, newest first, with how many members are expected and checked in."""

    pagination_class = Pagination  # paged by hand in get(); named so that the schema documents the page

    @extend_schema(responses={200: MeetingSerializer(many=True)})
    def get(self, request):
        paginator = self.pagination_class()
        qs = meetings_for(scope_loaded(request.user))
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(MeetingSerializer(page, many=True).data)


class MeetingDetailApi(APIView):
    """One meeting: who checked in when, and the URLs of the frames kept as its photo record."""

    @extend_schema(responses={200: MeetingDetailSerializer})
    def get(self, request, pk: int):
        meeting = meetings_for(scope_loaded(request.user)).prefetch_related("frames").filter(pk=pk).first()
        if meeting is None:
            raise NotFound(_("No such meeting in your scope."))
        return Response(MeetingDetailSerializer(meeting, context={"request": request}).data)


class MeetingFrameApi(APIView):
    """A frame kept of a meeting in your scope (JPEG); there is no public media URL for it."""

    content_negotiation_class = JsonErrorsNegotiation  # an <img> asks for image/*

    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY),
            404: OpenApiResponse(description=_("no such frame in your scope")),
        }
    )
    def get(self, request, pk: int, frame_id: int):
        meeting = meetings_for(scope_loaded(request.user)).filter(pk=pk).first()
        frame = meeting.frames.filter(pk=frame_id).first() if meeting is not None else None
        if frame is None:
            raise NotFound(_("No such frame."))
        try:
            stream = frame.image.open("rb")
        except (FileNotFoundError, ValueError) as error:
            raise NotFound(_("No such frame.")) from error
        response = FileResponse(stream, content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response
