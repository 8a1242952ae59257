"""Export jobs: request one, poll it, download its file. Only the job's creator reads a job (404 for anyone else).

Anonymous callers cannot export (401): a job and its file belong to an account, which is what keeps one
caller's file from another and what the audit log names. Public layers stay open to them as GeoJSON pages.
A file is kept EXPORT_RETENTION_HOURS (then 410), and each download judges the account again as it is now:
the layer still open to it, the same scope, and the clearance the file was written with (else 403).
"""

from django.db import transaction
from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from grid.api.errors import Conflict
from grid.api.schema import ERROR_RESPONSE
from layers.io.exports import (
    FORMATS,
    export_download_problem,
    export_expired,
    export_expires,
    export_file_delete,
    export_filename,
    export_job_for,
    export_request,
)
from layers.models import ExportJob, JobStatus
from layers.registry import LAYERS
from layers.tasks import export_run_task


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_detail = _("This export has expired and its file is deleted. Request a new export.")
    default_code = "gone"


class ExportInputSerializer(serializers.Serializer):
    """The job's layer and format; its filters are judged against the layer by the service (400 per field)."""

    layer = serializers.CharField(max_length=40, help_text="a layer's name: " + ", ".join(LAYERS))
    format = serializers.CharField(max_length=8, help_text="one of: " + ", ".join(FORMATS))
    area = serializers.CharField(required=False, allow_blank=True, max_length=20)
    bbox = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text=_("min_lon,min_lat,max_lon,max_lat")
    )
    category = serializers.CharField(required=False, allow_blank=True, max_length=60)
    kind = serializers.CharField(required=False, allow_blank=True, max_length=60)

    def get_fields(self):
        fields = super().get_fields()  # `from` is a Python keyword
        fields["from"] = serializers.CharField(required=False, allow_blank=True, max_length=40)
        fields["to"] = serializers.CharField(required=False, allow_blank=True, max_length=40)
        return fields


class ExportJobSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()
    expires = serializers.SerializerMethodField(help_text=_("when the file is deleted; null until it is written"))

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "layer",
            "format",
            "filters",
            "status",
            "progress",
            "feature_count",
            "error",
            "created",
            "finished",
            "expires",
            "download_url",
        ]

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_expires(self, job: ExportJob) -> str | None:
        expires = export_expires(job)
        return serializers.DateTimeField().to_representation(expires) if expires else None

    def get_download_url(self, job: ExportJob) -> str | None:
        if job.status != JobStatus.DONE or not job.file or export_expired(job):
            return None
        url = reverse("export-download", kwargs={"pk": job.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class ExportsApi(APIView):
    """Request an export of a layer, as the caller may see it; 201 {"id"}, then poll the job."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=ExportInputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = ExportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        job = export_request(user=request.user, layer_name=v.pop("layer"), format=v.pop("format"), filters=v)
        transaction.on_commit(lambda: export_run_task.delay(job_id=job.pk))
        return Response({"id": job.pk}, status=201)


class ExportJobMixin:
    permission_classes = [permissions.IsAuthenticated]

    def job(self, request, pk: int) -> ExportJob:
        job = export_job_for(user=request.user, pk=pk)
        if job is None:  # someone else's job is as good as absent
            raise NotFound(_("No such export job."))
        return job


class ExportJobApi(ExportJobMixin, APIView):
    """An export job's status and progress; `download_url` once it is done."""

    @extend_schema(responses={200: ExportJobSerializer})
    def get(self, request, pk: int):
        return Response(ExportJobSerializer(self.job(request, pk), context={"request": request}).data)


# The media type of each export format, sent as the download's Content-Type and documented in the schema.
MEDIA_TYPES = {
    ExportJob.Format.SHP: "application/zip",
    ExportJob.Format.GPKG: "application/geopackage+sqlite3",
    ExportJob.Format.GEOJSON: "application/geo+json",
    ExportJob.Format.KML: "application/vnd.google-earth.kml+xml",
    ExportJob.Format.CSV: "text/csv",
}


class ExportDownloadApi(ExportJobMixin, APIView):
    """The export's file, streamed, under its own name; for the job's creator only (no public media URL), while it
    is kept, and while the account may still see what it holds."""

    @extend_schema(
        responses={
            **{(200, media_type): OpenApiTypes.BINARY for media_type in MEDIA_TYPES.values()},
            410: OpenApiResponse(ERROR_RESPONSE, description="The export has expired and its file is deleted."),
        }
    )
    def get(self, request, pk: int):
        job = self.job(request, pk)
        if export_expired(job):
            export_file_delete(job=job)  # the purge task's work, done now if it has not run yet
            raise Gone()
        if job.status != JobStatus.DONE or not job.file:
            raise Conflict(_("This export is not ready."))
        problem = export_download_problem(job=job, user=request.user)
        if problem:
            raise PermissionDenied(problem)
        return FileResponse(
            job.file.open("rb"),
            as_attachment=True,
            filename=export_filename(job),
            content_type=MEDIA_TYPES.get(job.format, "application/octet-stream"),
        )
