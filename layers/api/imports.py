"""Imports over the API: upload a file as a job, then poll it."""

import zipfile

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from layers.io.imports import max_bytes, may_import
from layers.io.mapping import PRESETS, mapping_problems_for_targets
from layers.io.readers import FORMATS, zip_problem
from layers.io.specs import IMPORTABLE
from layers.models import ImportJob
from layers.tasks import import_run_task


class ImportJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportJob
        fields = [
            "id",
            "layer",
            "original_name",
            "preset",
            "mapping",
            "crs",
            "dry_run",
            "status",
            "progress",
            "rows_total",
            "rows_done",
            "created_count",
            "updated_count",
            "report",
            "error",
            "created",
            "finished",
        ]
        read_only_fields = fields


class ImportsApi(APIView):
    """POST a file (multipart: file, layer, preset or mapping, crs, dry_run): 201 with the job, run by a worker."""

    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField()
        layer = serializers.ChoiceField(choices=IMPORTABLE)
        preset = serializers.ChoiceField(choices=sorted(PRESETS), required=False, allow_blank=True, default="")
        mapping = serializers.JSONField(
            required=False, default=dict, binary=True, help_text=_('{"source column": "field"}, as JSON text')
        )
        crs = serializers.ChoiceField(
            choices=["wgs84", "gcj02", "bd09"],
            required=False,
            allow_blank=True,
            default="",
            help_text=_("empty: the file's own, else WGS 84"),
        )
        dry_run = serializers.BooleanField(required=False, default=False)

        def validate_file(self, value):
            suffix = "." + value.name.rsplit(".", 1)[-1].lower() if "." in value.name else ""
            if suffix not in FORMATS:
                raise serializers.ValidationError(
                    _("Use .csv, .xlsx, a zipped Shapefile (.zip), .gpkg, .geojson or .kml.")
                )
            if value.size > max_bytes():
                raise serializers.ValidationError(
                    _("The file is %(size).1f MB; imports take at most %(limit).1f MB.")
                    % {"size": value.size / 1e6, "limit": max_bytes() / 1e6}
                )
            if suffix in (".zip", ".xlsx"):
                # a zip's members judged from its central directory, before the file is kept (the worker's
                # reader judges it again, and reports a file that is no zip at all)
                try:
                    with zipfile.ZipFile(value) as archive:
                        problem = zip_problem(archive)
                except (zipfile.BadZipFile, OSError, EOFError):
                    problem = None
                finally:
                    value.seek(0)
                if problem:
                    raise serializers.ValidationError(problem)
            return value

        def validate(self, data):
            mapping, preset = data.get("mapping") or {}, data.get("preset")
            if mapping and preset:
                raise serializers.ValidationError({"mapping": _("Give a preset or a mapping, not both.")})
            if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
                raise serializers.ValidationError({"mapping": _('A JSON object {"source column": "field"}.')})
            unknown = mapping_problems_for_targets(data["layer"], mapping)
            if unknown:
                raise serializers.ValidationError(
                    {
                        "mapping": _("Not fields of %(layer)s: %(fields)s")
                        % {"layer": data["layer"], "fields": ", ".join(unknown)}
                    }
                )
            if preset and PRESETS[preset].layer != data["layer"]:
                raise serializers.ValidationError(
                    {
                        "preset": _("Preset %(preset)s imports %(layer)s.")
                        % {"preset": preset, "layer": PRESETS[preset].layer}
                    }
                )
            return data

    @extend_schema(request={"multipart/form-data": InputSerializer}, responses={201: ImportJobSerializer})
    def post(self, request):
        if not may_import(request.user):
            raise PermissionDenied(_("Only administrators and dispatchers may import."))
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        upload = values["file"]
        job = ImportJob(
            created_by=request.user,
            layer=values["layer"],
            original_name=upload.name[:255],
            preset=values.get("preset") or "",
            mapping=values.get("mapping") or {},
            crs=values.get("crs") or "",
            dry_run=values["dry_run"],
        )
        job.source.save(upload.name, upload, save=False)
        job.save()
        transaction.on_commit(lambda: import_run_task.delay(job_id=job.pk))
        return Response(ImportJobSerializer(job).data, status=201)


class ImportJobApi(APIView):
    """An import job: status, progress, counts and the validation report. Its importer's (and superusers')."""

    @extend_schema(responses={200: ImportJobSerializer})
    def get(self, request, pk: int):
        jobs = (
            ImportJob.objects.all() if request.user.is_superuser else ImportJob.objects.filter(created_by=request.user)
        )
        job = jobs.filter(pk=pk).first()
        if job is None:
            raise NotFound()
        return Response(ImportJobSerializer(job).data)
