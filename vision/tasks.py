"""Celery tasks of vision, all on the `vision` queue (CELERY_TASK_ROUTES): the beat's due-camera sweep, one
camera's analysis, and the retention purge. Tasks take primary keys and re-read everything."""

import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError
from django.utils import timezone
from django.utils.translation import gettext as _

from grid.tasking import db_task
from vision.models import Camera
from vision.services import camera_analyse, camera_source_failed, cameras_claim_due, frames_purge

logger = logging.getLogger(__name__)


@db_task(soft_time_limit=30, max_retries=3)
def cameras_due_task() -> int:
    """Enqueue an analysis of every enabled camera that is due (interval, schedule, backoff); returns how many."""
    due = cameras_claim_due(now=timezone.now())
    for camera_id in due:
        camera_analyse_task.delay(camera_id=camera_id)
    return len(due)


@db_task(soft_time_limit=120, time_limit=150, max_retries=3)
def camera_analyse_task(camera_id: int) -> int | None:
    """Analyse one camera; returns the observation's id, or None when the source gave no frame.

    A source that fails is recorded on the camera (services). Any other failure of the analysis (a detector that
    cannot load, a time limit) is recorded the same way and retried with the same backoff, so that one broken
    camera neither crashes the worker nor hammers it every few seconds; only a database error is retried by Celery.
    """
    try:
        observation = camera_analyse(camera_id=camera_id)
    except OperationalError:
        raise
    except SoftTimeLimitExceeded:
        _failed(camera_id, _("The analysis took longer than its time limit."))
        return None
    except Exception:
        logger.exception("analysis of camera %s failed", camera_id)
        # the error's text is in the log above; the camera's health, which grid workers read, names no internals
        _failed(camera_id, _("analysis failed"))
        return None
    return observation.pk if observation is not None else None


def _failed(camera_id: int, message: str) -> None:
    camera = Camera.objects.filter(pk=camera_id).first()
    if camera is not None:
        camera_source_failed(camera=camera, error=message, now=timezone.now())


@db_task(soft_time_limit=None, max_retries=3)
def frames_purge_task() -> dict[str, int]:
    """Delete frames and observations past their retention (hourly, from beat)."""
    frames, observations = frames_purge()
    return {"frames": frames, "observations": observations}
