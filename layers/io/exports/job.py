"""An export job: requested, run (its rows fetched part by part and chunk by chunk, handed to the format's writer),
audited, downloaded while it is kept and while its creator may still see what it holds, then purged."""

import datetime as dt
import hashlib
import logging
import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grid.access import grids_for, may_see_sensitive, scope_loaded
from grid.models import User
from layers.filters import LayerQuerySerializer
from layers.io.exports import fetch
from layers.io.exports.columns import column_arrays, layer_columns
from layers.io.exports.writers import FORMATS
from layers.models import AuditEntry, ExportJob, JobStatus
from layers.registry import LAYERS, Layer, Sensitivity
from layers.selectors import LayerFilters, layer_rows, layer_visible_to
from layers.services import audit_record

logger = logging.getLogger(__name__)

DEFAULT_RETENTION_HOURS = 24
FILTER_NAMES = ("area", "bbox", "from", "to", "category", "kind")


# --- filters ----------------------------------------------------------------------------------------------------------


def export_filters_parse(*, layer: Layer, filters: dict, user: User | AnonymousUser) -> LayerFilters:
    """The export's filters ({"area", "bbox", "from", "to", "category", "kind"} as given) checked against `layer`.

    The same rules as the layer endpoints' query (one serializer); errors are a ValidationError keyed by the
    export's own names (`bbox`, not the endpoints' `in_bbox`).
    """
    data = {
        ("in_bbox" if name == "bbox" else name): value
        for name, value in filters.items()
        if name in FILTER_NAMES and value not in (None, "")
    }
    query = LayerQuerySerializer(data=data, context={"layer": layer, "user": user})
    if not query.is_valid():
        raise ValidationError(
            {
                ("bbox" if name == "in_bbox" else name): [str(m) for m in messages]
                for name, messages in query.errors.items()
            }
        )
    return query.filters


def export_request(*, user: User, layer_name: str, format: str, filters: dict) -> ExportJob:
    """Check and record an export job for `user`, pending: the caller enqueues its run after commit."""
    errors: dict[str, str] = {}
    layer = LAYERS.get(layer_name)
    if layer is None:
        errors["layer"] = _("There is no layer named “%(name)s”.") % {"name": layer_name}
    if format not in FORMATS:
        errors["format"] = _("Choose one of: %(formats)s.") % {"formats": ", ".join(FORMATS)}
    if errors:
        raise ValidationError(errors)
    if not user.is_authenticated or not layer_visible_to(layer=layer, user=user):
        raise PermissionDenied(_("This layer is not open to this account."))
    export_filters_parse(layer=layer, filters=filters, user=user)
    given = {name: str(filters[name]) for name in FILTER_NAMES if filters.get(name) not in (None, "")}
    return ExportJob.objects.create(created_by=user, layer=layer.name, format=format, filters=given)


def export_job_for(*, user: User | AnonymousUser, pk: int) -> ExportJob | None:
    """The job, if `user` made it: nobody else (superusers neither) sees its filters or its file."""
    if not user.is_authenticated or not user.is_active:
        return None
    return ExportJob.objects.filter(pk=pk, created_by=user).first()


# --- what a file may be given to ------------------------------------------------------------------------------------


def retention() -> dt.timedelta:
    return dt.timedelta(hours=float(getattr(settings, "EXPORT_RETENTION_HOURS", DEFAULT_RETENTION_HOURS)))


def export_expires(job: ExportJob) -> dt.datetime | None:
    """When the job's file is deleted (EXPORT_RETENTION_HOURS after it was written); None before it is."""
    return job.finished + retention() if job.finished and job.status == JobStatus.DONE else None


def export_expired(job: ExportJob, *, now: dt.datetime | None = None) -> bool:
    expires = export_expires(job)
    return expires is not None and expires <= (now or timezone.now())


def export_file_delete(*, job: ExportJob) -> None:
    """Delete the job's file (the job stays, as the record of what was exported)."""
    if job.file:
        try:
            job.file.delete(save=False)
        except OSError:  # storage trouble: the next purge tries again
            logger.warning("export %s: file not deleted", job.pk, exc_info=True)
            return
        ExportJob.objects.filter(pk=job.pk).update(file="")


def exports_purge(*, now: dt.datetime | None = None) -> int:
    """Delete the files of expired exports; how many."""
    cutoff = (now or timezone.now()) - retention()
    count = 0
    for job in ExportJob.objects.filter(status=JobStatus.DONE, finished__lte=cutoff).exclude(file=""):
        export_file_delete(job=job)
        count += not job.file
    return count


def _scope_key(user: User | AnonymousUser, layer: Layer) -> str:
    """What bounds the rows `user` gets of `layer`: a public layer's are everybody's; otherwise the account's role
    and areas and the grids they give. The same key at download time means the same rows may be handed over."""
    if layer.sensitivity == Sensitivity.PUBLIC:
        return "public"
    areas = sorted(user.areas.values_list("pk", flat=True)) if user.is_authenticated else []
    grids = sorted(grids_for(user).values_list("pk", flat=True))
    text = f"{user.is_superuser}|{getattr(user, 'role', '')}|{areas}|{grids}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _cleared(user: User | AnonymousUser, layer: Layer) -> bool:
    """Whether the account's clearance shapes the file: personal layers, unmasked and with sensitive categories."""
    return layer.sensitivity == Sensitivity.PERSONAL and may_see_sensitive(user)


def export_download_problem(*, job: ExportJob, user: User | AnonymousUser) -> str | None:
    """Why `user` may not be given the job's file now, though they made it (None: they may): the layer is closed
    to them, their scope is not what it was when the file was written, or the file holds what needs a clearance
    they no longer have. Judged against the export's audit entry, which records what the file was written for."""
    layer = LAYERS.get(job.layer)
    user = scope_loaded(user)
    if layer is None or not layer_visible_to(layer=layer, user=user):
        return _("This layer is not open to this account.")
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT, details__job=job.pk).order_by("-id").first()
    if entry is None:  # written before files were checked at download: nothing to check it against
        return _("This export cannot be checked against this account. Request a new export.")
    written_for = entry.details
    if written_for.get("clearance") and not _cleared(user, layer):
        return _("This export holds personal data that this account may no longer see. Request a new export.")
    if written_for.get("scope") != _scope_key(user, layer):
        return _("This account's area or role has changed since the export was written. Request a new export.")
    return None


# --- the run ----------------------------------------------------------------------------------------------------------


def _set_progress(job: ExportJob, value: float) -> None:
    # an UPDATE of its own, committed at once outside a transaction, so a poller sees it while the job runs
    ExportJob.objects.filter(pk=job.pk).update(progress=round(min(value, 1.0), 3))


def _export(
    *, job: ExportJob, layer: Layer, user: User | AnonymousUser, filters: LayerFilters, workdir: Path
) -> tuple[Path, int, list[str]]:
    """The job's file, written in `workdir`; how many features it holds; the personal fields it holds in full."""
    columns = layer_columns(layer)
    unmasked = may_see_sensitive(user)
    writer = FORMATS[job.format](layer=layer, columns=columns, workdir=workdir)
    paths = fetch.value_paths(columns)
    rows, parts = fetch.parts(
        layer, layer_rows(layer=layer, user=user, filters=filters), one_geometry_type=writer.one_geometry_type
    )
    total = rows.count()
    done = 0
    for part in parts:
        writer.begin(part)
        for chunk in fetch.chunks(rows, columns, paths, part, xy=writer.xy(part)):
            data, masks = column_arrays(columns, chunk.values, unmasked=unmasked)
            writer.add(chunk, data, masks)
            done += chunk.size
            _set_progress(job, writer.progress_share * done / max(total, 1))
    personal = [c.name for c in columns if c.kind == "personal"]
    return writer.finish(), done, personal if unmasked else []


def _finish(job: ExportJob, *, status: str, error: str = "") -> ExportJob:
    job.status, job.error, job.finished = status, error[:2000], timezone.now()
    if status == JobStatus.DONE:
        job.progress = 1.0
    job.save(update_fields=["status", "error", "finished", "progress", "feature_count", "file", "modified"])
    return job


def export_run(*, job: ExportJob) -> ExportJob:
    """Write the job's file, as its creator may see the layer now; audited. A finished job is left as it is."""
    claimed = ExportJob.objects.filter(pk=job.pk, status__in=[JobStatus.PENDING, JobStatus.RUNNING]).update(
        status=JobStatus.RUNNING, progress=0.0, error=""
    )
    job.refresh_from_db()
    if not claimed:
        return job
    user = scope_loaded(job.created_by or AnonymousUser())
    layer = LAYERS.get(job.layer)
    # access is judged again at run time: a role or scope may have changed since the request
    if layer is None or not user.is_authenticated or not layer_visible_to(layer=layer, user=user):
        return _finish(job, status=JobStatus.FAILED, error=_("This layer is not open to this account."))
    try:
        filters = export_filters_parse(layer=layer, filters=job.filters, user=user)
    except ValidationError as exc:
        return _finish(
            job,
            status=JobStatus.FAILED,
            error="; ".join(f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items()),
        )
    try:
        with tempfile.TemporaryDirectory(prefix="gridline-export-") as tmp:
            path, count, unmasked = _export(job=job, layer=layer, user=user, filters=filters, workdir=Path(tmp))
            stamp = timezone.localtime().strftime("%Y%m%d")
            with path.open("rb") as produced:
                job.file.save(f"{layer.name}-{stamp}-{job.pk}{path.suffix}", File(produced), save=False)
    except OperationalError:
        raise  # the database went away: the task retries, and the job (still running) is claimed again
    except Exception as exc:
        logger.exception("export %s failed", job.pk)
        return _finish(job, status=JobStatus.FAILED, error=str(exc) or exc.__class__.__name__)
    job.feature_count = count
    with transaction.atomic():
        details = {
            "job": job.pk,
            "format": job.format,
            "filters": job.filters,
            "count": count,
            # what the file was written for, judged again at each download (export_download_problem)
            "scope": _scope_key(user, layer),
            "clearance": _cleared(user, layer),
        }
        if unmasked:
            details["unmasked"] = unmasked  # the file holds these personal fields in full
        audit_record(actor=user, action=AuditEntry.Action.EXPORT, target=layer.name, details=details)
        return _finish(job, status=JobStatus.DONE)


def export_filename(job: ExportJob) -> str:
    """The name a download is saved under: layer, day and job, e.g. places-20240501-12.zip."""
    return Path(job.file.name).name if job.file else f"{job.layer}-{job.pk}"
