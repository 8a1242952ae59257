"""Import and export jobs: files that run as Celery work, with status and progress the client polls."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from grid.models import TimeStampedModel


class JobStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class ImportJob(TimeStampedModel):
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )
    layer = models.CharField(_("layer"), max_length=40)
    source = models.FileField(_("source file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    preset = models.CharField(_("column mapping preset"), max_length=40, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    crs = models.CharField(_("coordinate system"), max_length=8, default="wgs84")
    dry_run = models.BooleanField(_("dry run"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    progress = models.FloatField(_("progress"), default=0.0, help_text=_("0 to 1"))
    rows_total = models.PositiveIntegerField(_("rows in the file"), default=0)
    rows_done = models.PositiveIntegerField(_("rows done"), default=0)
    created_count = models.PositiveIntegerField(_("rows created"), default=0)
    updated_count = models.PositiveIntegerField(_("rows updated"), default=0)
    report = models.JSONField(
        _("validation report"),
        default=list,
        blank=True,
        help_text=_('[{"row": 3, "column": "身份证号", "problem": "…"}, …]'),
    )
    error = models.TextField(_("error"), blank=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")


class ExportJob(TimeStampedModel):
    class Format(models.TextChoices):
        SHP = "shp", _("Shapefile (zipped)")
        GPKG = "gpkg", _("GeoPackage")
        GEOJSON = "geojson", _("GeoJSON")
        KML = "kml", _("KML")
        CSV = "csv", _("CSV")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )
    layer = models.CharField(_("layer"), max_length=40)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    filters = models.JSONField(
        _("filters"), default=dict, blank=True, help_text=_("area, bbox, from, to, category as given")
    )
    status = models.CharField(_("status"), max_length=10, choices=JobStatus.choices, default=JobStatus.PENDING)
    progress = models.FloatField(_("progress"), default=0.0, help_text=_("0 to 1"))
    feature_count = models.PositiveIntegerField(_("features"), default=0)
    file = models.FileField(_("file"), upload_to="exports/%Y/%m/", blank=True)
    error = models.TextField(_("error"), blank=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("export job")
        verbose_name_plural = _("export jobs")
