"""Writes of activities: create, change and cancel them (by the branches' runners), their record (minutes, photos,
short videos, a face check-in meeting's frames) and the organizer's points once an activity with a record ended.

An activity's venue is always a point (check-ins measure from it): given as one, or copied once from a station,
place or organization of the register, which stays linked. Its grid is grid's placement of that point; a venue in
no grid is refused, so that every activity sits in somebody's area.
"""

import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Point
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from engagement.access import person_of
from engagement.models import Activity, ActivityMedia, BranchCadre
from engagement.selectors.activities import (
    ORGANIZED_RULE,
    activities_organized_due,
    activity_expected_people,
    activity_key,
)
from engagement.services.points import points_award
from grid.models import Station, User
from grid.photos import PHOTO_MAX_BYTES, photos_decode
from grid.selectors import grid_containing
from layers.models import Organization, Person, Place
from vision.attendance.models import Meeting
from vision.attendance.services import meeting_create
from vision.models import Camera

logger = logging.getLogger(__name__)


class ClientUUIDConflict(Exception):
    """The client_uuid names an activity that another account created."""


@dataclass(frozen=True)
class Venue:
    """Where an activity takes place: a point (WGS 84), or a station, place or organization of the register."""

    point: Point | None = None
    station: Station | None = None
    place: Place | None = None
    organization: Organization | None = None
    name: str = ""


def _venue_point(geometry: GEOSGeometry | None) -> Point | None:
    if geometry is None or geometry.empty:
        return None
    point = geometry if geometry.geom_type == "Point" else geometry.point_on_surface
    return Point(point.x, point.y, srid=4326)


def _venue_fields(venue: Venue) -> dict:
    """The activity's location, venue name and venue links for `venue` (ValidationError on "venue" if unusable)."""
    source = venue.station or venue.place or venue.organization
    if source is not None:
        point = _venue_point(getattr(source, "location", None) or getattr(source, "geometry", None))
        if point is None:
            raise ValidationError({"venue": [_("This venue has no position on the map.")]})
        name = venue.name or source.name
    elif venue.point is not None:
        point, name = venue.point, venue.name
    else:
        raise ValidationError({"venue": [_("Give the venue as a point, a station, a place or an organization.")]})
    grid = grid_containing(point=point)
    if grid is None:
        raise ValidationError({"venue": [_("The venue lies outside every grid of the territory.")]})
    return {
        "location": point,
        "venue_name": name[:200],
        "venue_station": venue.station,
        "venue_place": venue.place,
        "venue_organization": venue.organization,
        "grid": grid,
    }


def _window_check(starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": [_("An activity ends after it starts.")]})
    if ends_at - starts_at > dt.timedelta(days=7):
        raise ValidationError({"ends_at": [_("An activity lasts at most 7 days.")]})


def _audience_check(audience: str, invited: list[Organization] | None) -> None:
    if audience == Activity.Audience.BRANCHES and not invited:
        raise ValidationError({"invited_branches": [_("Name the invited branches of an activity for several.")]})


def _meeting_link(activity: Activity, *, camera: Camera | None, meeting: Meeting | None) -> Meeting | None:
    """The meeting to link: an existing one (not linked to another activity), or one made at `camera` with the
    activity's window and expected members."""
    if meeting is not None:
        linked = Activity.objects.filter(meeting=meeting).exclude(pk=activity.pk).exists()
        if linked:
            raise ValidationError({"meeting": [_("This meeting belongs to another activity.")]})
        return meeting
    if camera is None:
        return None
    return meeting_create(
        title=activity.title,
        camera=camera,
        organization=activity.branch,
        starts_at=activity.starts_at,
        ends_at=activity.ends_at,
        members=list(activity_expected_people(activity)),
    )


def activity_create(
    *,
    by: User,
    branch: Organization,
    kind: str,
    title: str,
    venue: Venue,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    client_uuid: uuid.UUID,
    description: str = "",
    radius_m: int = 200,
    grace_minutes: int = 15,
    audience: str = Activity.Audience.BRANCH,
    invited_branches: list[Organization] | None = None,
    cross_branch: bool = True,
    camera: Camera | None = None,
    meeting: Meeting | None = None,
) -> tuple[Activity, bool]:
    """Create an activity of `branch` once per client_uuid; (activity, created). The caller checked that `by`
    runs `branch` and may use `camera` or `meeting`."""
    existing = Activity.objects.filter(client_uuid=client_uuid).first()
    if existing is not None:
        if existing.created_by_id != by.pk:
            raise ClientUUIDConflict
        return existing, False
    _window_check(starts_at, ends_at)
    _audience_check(audience, invited_branches)
    fields = _venue_fields(venue)
    try:
        with transaction.atomic():
            activity = Activity.objects.create(
                kind=kind,
                branch=branch,
                title=title,
                description=description,
                starts_at=starts_at,
                ends_at=ends_at,
                radius_m=radius_m,
                grace_minutes=grace_minutes,
                audience=audience,
                cross_branch=cross_branch,
                created_by=by,
                client_uuid=client_uuid,
                **fields,
            )
            if invited_branches:
                activity.invited_branches.set(invited_branches)
            linked = _meeting_link(activity, camera=camera, meeting=meeting)
            if linked is not None:
                activity.meeting = linked
                activity.save(update_fields=["meeting", "modified"])
    except IntegrityError:
        # the same create, resent while the first was being written
        existing = Activity.objects.filter(client_uuid=client_uuid).first()
        if existing is None:
            raise
        if existing.created_by_id != by.pk:
            raise ClientUUIDConflict from None
        return existing, False
    return activity, True


UPDATABLE = frozenset(
    {
        "kind",
        "title",
        "description",
        "starts_at",
        "ends_at",
        "radius_m",
        "grace_minutes",
        "audience",
        "cross_branch",
    }
)


def activity_update(
    *,
    activity: Activity,
    by: User,
    venue: Venue | None = None,
    invited_branches: list[Organization] | None = None,
    camera: Camera | None = None,
    meeting: Meeting | None = None,
    **changes,
) -> Activity:
    """Change an activity's fields (the venue converted and placed again); a linked meeting made with the same
    window follows a new window."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    with transaction.atomic():
        locked = Activity.objects.select_for_update().get(pk=activity.pk)
        old_window = (locked.starts_at, locked.ends_at)
        for name, value in changes.items():
            setattr(locked, name, value)
        _window_check(locked.starts_at, locked.ends_at)
        invited = invited_branches if invited_branches is not None else list(locked.invited_branches.all())
        _audience_check(locked.audience, invited)
        if venue is not None:
            for name, value in _venue_fields(venue).items():
                setattr(locked, name, value)
        if camera is not None or meeting is not None:
            locked.meeting = _meeting_link(locked, camera=camera, meeting=meeting)
        locked.save()
        if invited_branches is not None:
            locked.invited_branches.set(invited_branches)
        linked = locked.meeting
        if linked is not None and (linked.starts_at, linked.ends_at) == old_window:
            linked.starts_at, linked.ends_at = locked.starts_at, locked.ends_at
            linked.save(update_fields=["starts_at", "ends_at"])
    return locked


def activity_cancel(*, activity: Activity, by: User) -> Activity:
    """Cancel an activity (again: nothing changes). Its check-ins and record stay."""
    Activity.objects.filter(pk=activity.pk).exclude(status=Activity.Status.CANCELLED).update(
        status=Activity.Status.CANCELLED, modified=timezone.now()
    )
    activity.refresh_from_db()
    return activity


def activity_minutes_set(*, activity: Activity, minutes: str, by: User) -> Activity:
    """Write the activity's minutes."""
    Activity.objects.filter(pk=activity.pk).update(minutes=minutes, modified=timezone.now())
    activity.refresh_from_db(fields=["minutes", "modified"])
    return activity


# --- the record's files ---------------------------------------------------------------------------------------


class MediaRefused(Exception):
    """A file the record does not take, with the HTTP status that says why (400, 413 or 415)."""

    def __init__(self, status: int, message) -> None:
        super().__init__(str(message))
        self.status, self.message = status, message


# What a video's first bytes are: ISO base media (MP4, QuickTime) starts with an `ftyp` box, WebM with an EBML
# header whose DocType is "webm". The client's content type and file name are never asked.
_QUICKTIME_BRANDS = {b"qt  "}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE = b"\x42\x82"
_MATROSKA_SEGMENT = b"\x18\x53\x80\x67"
_BOX_TYPE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_\xa9")
_MAX_BOXES = 4096


def _not_a_video_or_photo() -> MediaRefused:
    return MediaRefused(415, _("Only JPEG, PNG or WebP photos and MP4, WebM or QuickTime videos are taken."))


def _damaged_video() -> MediaRefused:
    return MediaRefused(400, _("The video could not be read: it is damaged or incomplete."))


def video_sniff(upload: UploadedFile, *, head: bytes, size: int, limit: int) -> tuple[str, str]:
    """(content type, extension) of a video upload, by its bytes; MediaRefused when it is of another type (415),
    larger than `limit` (413) or not a whole file of its type (400: its structure is walked, nothing decoded, so
    no duration is needed or read)."""
    if head[4:8] == b"ftyp":
        quicktime = head[8:12] in _QUICKTIME_BRANDS
        found = ("video/quicktime", ".mov") if quicktime else ("video/mp4", ".mp4")
        check = _iso_boxes_whole
    elif head.startswith(_EBML_MAGIC):
        found, check = ("video/webm", ".webm"), _webm_whole
    else:
        raise _not_a_video_or_photo()
    if size > limit:
        raise MediaRefused(413, _("A video may be at most %(max)d MB.") % {"max": limit // (1024 * 1024)})
    upload.seek(0)
    try:
        whole = check(upload, size)
    finally:
        upload.seek(0)
    if whole is None:
        raise _not_a_video_or_photo()
    if not whole:
        raise _damaged_video()
    return found


def _iso_boxes_whole(upload: UploadedFile, size: int) -> bool:
    """Whether the top-level boxes tile the file exactly, the first is `ftyp` and a `moov` (the movie's index)
    is among them."""
    offset, kinds = 0, []
    while offset < size and len(kinds) < _MAX_BOXES:
        upload.seek(offset)
        header = upload.read(16)
        if len(header) < 8:
            return False
        length, kind = int.from_bytes(header[:4], "big"), header[4:8]
        if not set(kind) <= _BOX_TYPE:
            return False
        if length == 1:
            if len(header) < 16:
                return False
            length = int.from_bytes(header[8:16], "big")
        elif length == 0:
            length = size - offset  # the last box runs to the end of the file
        if length < 8 or offset + length > size:
            return False
        kinds.append(kind)
        offset += length
    return offset == size and kinds[:1] == [b"ftyp"] and b"moov" in kinds


def _vint(data: bytes, at: int, *, marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at `at`: (value, its length); the ID form keeps its marker bit."""
    if at >= len(data) or data[at] == 0:
        return None
    first = data[at]
    length = 8 - first.bit_length() + 1
    if at + length > len(data):
        return None
    value = first if marker else first & (0xFF >> length)
    for byte in data[at + 1 : at + length]:
        value = (value << 8) | byte
    return value, length


def _webm_whole(upload: UploadedFile, size: int) -> bool | None:
    """Whether the EBML header says "webm" and a Segment follows it; None for another EBML type (Matroska)."""
    data = upload.read(4096)
    header_size = _vint(data, 4, marker=False)
    if header_size is None:
        return False
    value, length = header_size
    body_start = 4 + length
    body_end = body_start + value
    if body_end + 4 > len(data) or body_end + 4 > size:
        return False
    body = data[body_start:body_end]
    at = body.find(_EBML_DOCTYPE)
    doc_size = _vint(body, at + 2, marker=False) if at >= 0 else None
    if doc_size is None:
        return False
    doctype = body[at + 2 + doc_size[1] : at + 2 + doc_size[1] + doc_size[0]]
    if doctype != b"webm":
        return None
    return data[body_end : body_end + 4] == _MATROSKA_SEGMENT


_PHOTO_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def _is_photo(head: bytes) -> bool:
    return head.startswith(_PHOTO_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def video_max_bytes() -> int:
    return settings.ENGAGEMENT_VIDEO_MAX_BYTES


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _existing_media(activity: Activity, sha256: str) -> ActivityMedia | None:
    return ActivityMedia.objects.filter(activity=activity, sha256=sha256).first()


def activity_media_add(*, activity: Activity, upload: UploadedFile, by: User) -> tuple[ActivityMedia, bool]:
    """Add a photo (checked, stripped and thumbnailed as incident photos are) or a short video (MP4, WebM or
    QuickTime, by its bytes) to the record; the same file again answers the one stored. Raises MediaRefused
    (with the HTTP status that says why) and stores nothing for a file that is empty, too large or of another
    type, or damaged."""
    size = upload.size or 0
    if size == 0:
        raise MediaRefused(400, _("The file is empty."))
    upload.seek(0)
    head = upload.read(64)
    upload.seek(0)
    if _is_photo(head):
        if size > PHOTO_MAX_BYTES:
            raise MediaRefused(413, _("A photo may be at most %(max)d MB.") % {"max": PHOTO_MAX_BYTES // (1024 * 1024)})
        try:
            (photo,) = photos_decode([upload])
        except ValidationError as error:
            raise MediaRefused(400, " ".join(error.message_dict.get("photos", error.messages))) from error
        existing = _existing_media(activity, photo.sha256)
        if existing is not None:
            return existing, False
        name = uuid.uuid4().hex
        fields = {
            "kind": ActivityMedia.Kind.PHOTO,
            "content_type": photo.content_type,
            "size": len(photo.image),
            "sha256": photo.sha256,
        }
        files = {
            "file": ContentFile(photo.image, name=name + photo.extension),
            "thumbnail": ContentFile(photo.thumbnail, name=f"{name}-t{photo.extension}"),
        }
    else:
        content_type, extension = video_sniff(upload, head=head, size=size, limit=video_max_bytes())
        sha256 = _sha256(upload)
        existing = _existing_media(activity, sha256)
        if existing is not None:
            return existing, False
        fields = {"kind": ActivityMedia.Kind.VIDEO, "content_type": content_type, "size": size, "sha256": sha256}
        upload.seek(0)
        files = {"file": _renamed(upload, uuid.uuid4().hex + extension)}
    return _media_store(activity, by, fields, files)


def _renamed(upload: UploadedFile, name: str) -> UploadedFile:
    upload.name = name  # never the client's name: it would choose the stored path's extension
    return upload


def _media_store(activity: Activity, by: User, fields: dict, files: dict) -> tuple[ActivityMedia, bool]:
    media = ActivityMedia(activity=activity, uploaded_by=by, **fields)
    try:
        with transaction.atomic():
            for name, content in files.items():
                getattr(media, name).save(content.name, content, save=False)
            media.save()
    except IntegrityError:
        # the same file sent twice at once: the first one stored wins; the second's files go
        for name in files:
            getattr(media, name).delete(save=False)
        existing = _existing_media(activity, fields["sha256"])
        if existing is None:
            raise
        return existing, False
    return media, True


# --- points ----------------------------------------------------------------------------------------------------


def activity_organizer(activity: Activity) -> Person | None:
    """Who organized an activity: the member who created it, else the branch's secretary."""
    if activity.created_by_id is not None:
        person = person_of(activity.created_by)
        if person is not None:
            return person
    cadre = (
        BranchCadre.objects.filter(branch_id=activity.branch_id, title=BranchCadre.Title.SECRETARY)
        .select_related("person")
        .order_by("pk")
        .first()
    )
    return cadre.person if cadre is not None else None


def activities_organized_award(*, now: dt.datetime | None = None) -> int:
    """Award "activity organized" for each activity that has ended with a record, once; the number awarded."""
    awarded = 0
    for activity in activities_organized_due(now=now).select_related("created_by")[:1000]:
        person = activity_organizer(activity)
        if person is None:
            continue
        entry = points_award(
            person=person,
            rule_code=ORGANIZED_RULE,
            source=f"engagement.activity:{activity.pk}",
            key=activity_key(ORGANIZED_RULE, activity.pk),
        )
        awarded += entry is not None
    return awarded


__all__ = [
    "ClientUUIDConflict",
    "MediaRefused",
    "Venue",
    "activities_organized_award",
    "activity_cancel",
    "activity_create",
    "activity_media_add",
    "activity_minutes_set",
    "activity_update",
]
