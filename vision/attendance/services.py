"""Writes of face attendance: enrolments (consented, encrypted), what a duty-room or meeting camera recognised, and
the no-show sweep.

Rules of attendance:
- A duty day is recorded by the duty room's camera from DUTY_WINDOW_BEFORE before the duty's start to
  DUTY_WINDOW_AFTER after its end; arrival is the first time the cadre is seen that day, leaving the last.
  Duties run within one day (start < end); an overnight duty is two schedules.
- Present if the first sighting is at most LATE_AFTER_MINUTES after the start, else late. Somebody who arrives
  after the no-show sweep marked the day absent becomes late (the notice already sent stays sent).
- A meeting checks in members seen from MEETING_EARLY before its start to its end, each once (the first
  sighting), and keeps the first settings.VISION_MEETING_FRAMES frames (default 3) in which a member was recognised.
- A face that matches no enrolment is a stranger: nothing is written and no frame is kept because of it.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from io import BytesIO
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, override
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps

from grid.models import User
from grid.photos import PHOTO_MAX_BYTES, photo_pixels_max
from grid.services import notify
from layers import crypto
from layers.models import Person
from vision.attendance.hooks import meeting_checkins_recorded
from vision.attendance.models import DutyAttendance, DutySchedule, FaceEnrolment, Meeting, MeetingCheckin
from vision.engine.faces import FaceEngine, NoFace
from vision.models import Camera, Frame
from vision.sources import frame_jpeg

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

ENROL_MAX_PHOTOS = 10
ENROL_MAX_TOTAL_BYTES = 40 * 1024 * 1024
# Photos are scaled down to this longer side as soon as they are decoded; faces are found and encoded at this size.
ENROL_MAX_SIDE = 1600
DUTY_WINDOW_BEFORE = dt.timedelta(minutes=60)
DUTY_WINDOW_AFTER = dt.timedelta(minutes=60)
LATE_AFTER_MINUTES = 5
MEETING_EARLY = dt.timedelta(minutes=30)
NO_SHOW_KIND = "duty_no_show"


def meeting_frames_kept() -> int:
    return settings.VISION_MEETING_FRAMES


# --- enrolment ------------------------------------------------------------------------------------------------------


class FaceEngineMissing(RuntimeError):
    """The face libraries (the `vision` extra) are not installed in this process."""


def enrolment_create(
    *, person: Person, photos: list, consent: bool, recorded_by: User | None, method: str | None = None
) -> FaceEnrolment:
    """Enrol `person` from uploaded photos (1…ENROL_MAX_PHOTOS JPEG/PNG) with recorded consent; template encrypted.

    Raises ValidationError with field messages: no consent, too few/many photos, a photo that is not an image, a
    photo without a face. Only the template is kept, never the photos.
    """
    if consent is not True:
        raise ValidationError({"consent": [_("Face enrolment needs the person's recorded consent (consent=true).")]})
    if not 1 <= len(photos) <= ENROL_MAX_PHOTOS:
        raise ValidationError(
            {"photos": [_("Send 1 to %(max)d photos of the person's face.") % {"max": ENROL_MAX_PHOTOS}]}
        )
    images = photos_read(photos)
    try:
        engine = FaceEngine(method=method)
        template = engine.enrol(images)
    except NoFace as no_face:
        raise ValidationError(
            {
                "photos": [
                    _("No face found in photo %(position)d (%(name)s).")
                    % {"position": index + 1, "name": _display_name(photos[index])}
                    for index in no_face.indexes
                ]
            }
        ) from no_face
    except (ImportError, RuntimeError) as error:
        raise FaceEngineMissing(str(error)) from error
    now = timezone.now()
    return FaceEnrolment.objects.create(
        person=person,
        method=engine.method,
        consent=True,
        consent_at=now,
        consent_recorded_by=recorded_by,
        template_encrypted=template_encrypt(template),
        photos=len(images),
        created=now,
    )


def enrolment_delete(*, enrolment: FaceEnrolment) -> None:
    """Consent withdrawn: the enrolment and its template are deleted (nothing of the face remains)."""
    enrolment.delete()


def template_encrypt(template: bytes) -> str:
    return crypto.encrypt(base64.b64encode(template).decode("ascii"))


def template_decrypt(token: str) -> bytes:
    return base64.b64decode(crypto.decrypt(token))


def _display_name(upload) -> str:
    name = os.path.basename(str(getattr(upload, "name", "") or "")) or "?"
    return name if len(name) <= 80 else name[:77] + "…"


def photos_read(files: list) -> list[np.ndarray]:
    """The uploads as BGR arrays, upright by their EXIF orientation and at most ENROL_MAX_SIDE pixels on their
    longer side; ValidationError naming every bad one.

    Only JPEG and PNG, at most grid's photo size each and ENROL_MAX_TOTAL_BYTES together, at most grid's
    photo_pixels_max() pixels as declared by the header (checked before any decoding). A JPEG is decoded at a reduced
    scale (draft mode) and every photo is scaled down as soon as it is decoded: ten photos never sit in memory at
    full size.
    """
    import numpy as np  # the vision extra's: the web image without it still imports this module

    # enrolment photos are held to incident photos' limits: a face needs far less
    max_pixels = photo_pixels_max()
    too_large_together = _("The photos are larger than %(max)d MB together.") % {
        "max": ENROL_MAX_TOTAL_BYTES // (1024 * 1024)
    }
    declared = sum(max(0, int(getattr(upload, "size", 0) or 0)) for upload in files)
    if declared > ENROL_MAX_TOTAL_BYTES:
        raise ValidationError({"photos": [too_large_together]})
    images, problems, total = [], [], 0
    for position, upload in enumerate(files, start=1):
        label = {"position": position, "name": _display_name(upload)}
        damaged = _("Photo %(position)d (%(name)s) could not be read: it is damaged or incomplete.") % label
        too_many_pixels = _("Photo %(position)d (%(name)s) has too many pixels (at most %(max)d).") % {
            **label,
            "max": max_pixels,
        }
        upload.seek(0)
        raw = upload.read(PHOTO_MAX_BYTES + 1)  # the declared size may lie
        total += len(raw)
        if not raw:
            problems.append(_("Photo %(position)d (%(name)s) is empty.") % label)
            continue
        if len(raw) > PHOTO_MAX_BYTES:
            problems.append(
                _("Photo %(position)d (%(name)s) is larger than %(max)d MB.")
                % {**label, "max": PHOTO_MAX_BYTES // (1024 * 1024)}
            )
            continue
        if total > ENROL_MAX_TOTAL_BYTES:
            problems.append(too_large_together)
            break
        try:
            image = Image.open(BytesIO(raw), formats=["JPEG", "PNG"])
        except Image.DecompressionBombError:
            problems.append(too_many_pixels)
            continue
        except Image.UnidentifiedImageError:
            problems.append(_("Photo %(position)d (%(name)s) is not a JPEG or PNG image.") % label)
            continue
        except Exception:  # noqa: BLE001 - a malformed header raises whatever its parser meets first
            problems.append(damaged)
            continue
        if image.width * image.height > max_pixels:
            problems.append(too_many_pixels)
            continue
        try:
            if image.format == "JPEG":
                # decode at 1/2, 1/4 or 1/8 of the size where that still covers ENROL_MAX_SIDE
                image.draft("RGB", (ENROL_MAX_SIDE, ENROL_MAX_SIDE))
            image.load()
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail((ENROL_MAX_SIDE, ENROL_MAX_SIDE), Image.Resampling.LANCZOS)
            rgb = np.asarray(upright.convert("RGB"))
        except Exception:  # noqa: BLE001 - truncated or corrupt data: OSError, SyntaxError, ValueError…
            problems.append(damaged)
            continue
        images.append(np.ascontiguousarray(rgb[:, :, ::-1]))
    if problems:
        raise ValidationError({"photos": problems})
    return images


# --- recognition ----------------------------------------------------------------------------------------------------


@dataclass
class AttendanceSeen:
    """What one frame changed: people recognised, duty days touched, meetings checked into, frames kept."""

    recognised: set[int] = field(default_factory=set)  # person ids
    duty_days: list[int] = field(default_factory=list)
    checkins: list[int] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)


def duties_due(*, camera: Camera, at: dt.datetime) -> list[DutySchedule]:
    """The active duties at `camera` whose recording window (see the module doc) contains `at`."""
    local = timezone.localtime(at)
    day = local.date()
    duties = []
    for schedule in DutySchedule.objects.filter(camera=camera, active=True, weekdays__contains=[day.weekday()]):
        start, end = _duty_bounds(schedule, day)
        if start - DUTY_WINDOW_BEFORE <= local <= end + DUTY_WINDOW_AFTER:
            duties.append(schedule)
    return duties


def meeting_create(
    *,
    title: str,
    camera: Camera,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    members: list[Person],
    organization=None,
) -> Meeting:
    """A meeting at `camera` that checks in the expected `members` by face in its window."""
    meeting = Meeting.objects.create(
        title=title[:200], camera=camera, organization=organization, starts_at=starts_at, ends_at=ends_at
    )
    meeting.members.set(members)
    return meeting


def meetings_due(*, camera: Camera, at: dt.datetime) -> list[Meeting]:
    return list(Meeting.objects.filter(camera=camera, starts_at__lte=at + MEETING_EARLY, ends_at__gte=at))


def _duty_bounds(schedule: DutySchedule, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_current_timezone()
    return (
        timezone.make_aware(dt.datetime.combine(day, schedule.start), zone),
        timezone.make_aware(dt.datetime.combine(day, schedule.end), zone),
    )


def attendance_observe(*, camera: Camera, frame: np.ndarray, at: dt.datetime | None = None) -> AttendanceSeen:
    """Recognise the faces of one frame (BGR) from `camera` against the enrolled people expected there now, and
    record duty arrival/leaving and meeting check-ins. Frames with nobody expected are not even searched."""
    at = at or timezone.now()
    seen = AttendanceSeen()
    duties, meetings = duties_due(camera=camera, at=at), meetings_due(camera=camera, at=at)
    members: dict[int, set[int]] = {}
    if meetings:
        through = Meeting.members.through.objects.filter(meeting__in=meetings).values_list("meeting_id", "person_id")
        for meeting_id, person_id in through:
            members.setdefault(meeting_id, set()).add(person_id)
    expected = {d.person_id for d in duties} | {p for ids in members.values() for p in ids}
    if not expected:
        return seen

    engine = FaceEngine()
    enrolments = FaceEnrolment.objects.filter(person_id__in=expected, active=True, method=engine.method).only(
        "pk", "person_id", "template_encrypted"
    )
    person_of = {e.pk: e.person_id for e in enrolments}
    if not person_of:
        return seen
    templates = {e.pk: template_decrypt(e.template_encrypted) for e in enrolments}
    matches = engine.identify(frame, templates)
    seen.recognised = {person_of[m.key] for m in matches if m.key is not None}
    if not seen.recognised:
        return seen  # strangers only, or nobody: nothing is written

    with transaction.atomic():
        for schedule in duties:
            if schedule.person_id in seen.recognised:
                seen.duty_days.append(_duty_seen(schedule, at).pk)
        for meeting in meetings:
            present = members.get(meeting.pk, set()) & seen.recognised
            if present:
                _meeting_seen(meeting, present, camera, frame, at, seen)
    if seen.checkins:
        meeting_checkins_recorded(seen.checkins)
    return seen


def _duty_seen(schedule: DutySchedule, at: dt.datetime) -> DutyAttendance:
    day = timezone.localtime(at).date()
    DutyAttendance.objects.get_or_create(schedule=schedule, date=day)
    row = DutyAttendance.objects.select_for_update().get(schedule=schedule, date=day)
    row.arrived_at = min(row.arrived_at, at) if row.arrived_at else at
    row.left_at = max(row.left_at, at) if row.left_at else at
    start, _end = _duty_bounds(schedule, day)
    late = row.arrived_at > start + dt.timedelta(minutes=LATE_AFTER_MINUTES)
    row.status = DutyAttendance.Status.LATE if late else DutyAttendance.Status.PRESENT
    row.save(update_fields=["arrived_at", "left_at", "status"])
    return row


def _meeting_seen(
    meeting: Meeting, present: set[int], camera: Camera, frame: np.ndarray, at: dt.datetime, seen: AttendanceSeen
) -> None:
    Meeting.objects.select_for_update().filter(pk=meeting.pk).first()  # one writer per meeting: frames ≤ N
    already = set(
        MeetingCheckin.objects.filter(meeting=meeting, person_id__in=present).values_list("person_id", flat=True)
    )
    for person_id in sorted(present - already):
        seen.checkins.append(MeetingCheckin.objects.create(meeting=meeting, person_id=person_id, at=at).pk)
    if meeting.frames.count() < meeting_frames_kept():
        kept = Frame(camera=camera, at=at, purpose=Frame.Purpose.MEETING)
        kept.image.save(f"meeting-{meeting.pk}-{at:%Y%m%d%H%M%S}.jpg", ContentFile(frame_jpeg(frame)), save=False)
        kept.save()
        meeting.frames.add(kept)
        seen.frames.append(kept.pk)


# --- no-shows -------------------------------------------------------------------------------------------------------


def duty_no_shows(now: dt.datetime | None = None) -> list[int]:
    """Mark today's duties whose start + no-show minutes passed without an arrival as absent, and tell each
    duty's responsible person once. Returns the ids of the duty days marked; a second run marks nothing."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    day = local.date()
    marked = []
    schedules = DutySchedule.objects.filter(active=True, weekdays__contains=[day.weekday()]).select_related(
        "person", "camera", "responsible"
    )
    for schedule in schedules:
        start, _end = _duty_bounds(schedule, day)
        if local < start + dt.timedelta(minutes=schedule.no_show_after_minutes):
            continue
        with transaction.atomic():
            DutyAttendance.objects.get_or_create(schedule=schedule, date=day)
            row = DutyAttendance.objects.select_for_update().get(schedule=schedule, date=day)
            if row.arrived_at is not None or row.no_show_notified_at is not None:
                continue
            notifiable = schedule.responsible_id is not None and schedule.responsible.is_active
            if row.status == DutyAttendance.Status.ABSENT and not notifiable:
                continue  # marked by an earlier run, and still nobody to tell
            row.status = DutyAttendance.Status.ABSENT
            if notifiable:
                _no_show_notify(schedule, start)
                row.no_show_notified_at = now
            row.save(update_fields=["status", "no_show_notified_at"])
            marked.append(row.pk)
    return marked


def _no_show_notify(schedule: DutySchedule, start: dt.datetime) -> None:
    # Stored text: written in the site's language, as grid's notifications are.
    with override(settings.LANGUAGE_CODE):
        message = gettext("%(person)s has not arrived for duty at %(camera)s (from %(start)s).") % {
            "person": schedule.person.name,
            "camera": schedule.camera.name,
            "start": timezone.localtime(start).strftime("%H:%M"),
        }
    notify(recipients=[schedule.responsible], incident=None, kind=NO_SHOW_KIND, message=message)
