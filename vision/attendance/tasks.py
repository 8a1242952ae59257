"""Background work of face attendance. The no-show sweep reads and writes the database only (no OpenCV), so it
may run on the default queue; CELERY_BEAT_SCHEDULE runs it every few minutes."""

from grid.tasking import db_task
from vision.attendance.services import duty_no_shows


@db_task(soft_time_limit=120, max_retries=3, name="vision.attendance.tasks.duty_no_shows_task")
def duty_no_shows_task() -> int:
    """Mark today's no-shows absent and tell each duty's responsible person once. Running it twice changes nothing."""
    return len(duty_no_shows())
