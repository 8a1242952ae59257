"""Export jobs: request one, poll it, download its file. Only the job's creator (or a superuser) reads a job.

Anonymous callers cannot export (401): a job and its file belong to an account, which is what keeps one
caller's file from another and what the audit log names. Public layers stay open to them as GeoJSON pages.
"""

from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from grid.api.errors import Conflict
from layers.io.exports import FORMATS, export_filename, export_job_for, export_request
from layers.models import ExportJob, JobStatus
from layers.registry import LAYERS


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
            "download_url",
        ]

    def get_download_url(self, job: ExportJob) -> str | None:
        if job.status != JobStatus.DONE or not job.file:
            return None
        url = reverse("exports:export-download", kwargs={"pk": job.pk})
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


class ExportDownloadApi(ExportJobMixin, APIView):
    """The export's file, streamed, under its own name; for the job's creator only (no public media URL)."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, pk: int):
        job = self.job(request, pk)
        if job.status != JobStatus.DONE or not job.file:
            raise Conflict(_("This export is not ready."))
        return FileResponse(job.file.open("rb"), as_attachment=True, filename=export_filename(job))
