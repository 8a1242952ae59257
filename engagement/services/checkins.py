"""Check-ins at activities: by position (geofence), by the rotating code, by the organizer (audited) and by face
(meetings of vision.attendance linked to an activity). Each is idempotent: a resend of the same client_uuid, or the
same member checking in again, answers the check-in made the first time and writes nothing.

Who may check in: the members the activity expects (its branch, its invited branches, or every member), and members
of other branches where the activity lets them (cross_branch). A gig worker who is not a party member may check in
only to volunteer services and trainings open to all: those are the activities a platform's riders are asked to
join; the branch's own meetings (三会一课) are for members.
"""

import datetime as dt
import logging
import uuid
from typing import Any

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from engagement.models import Activity, CheckIn
from engagement.selectors.checkins import activity_code_valid, activity_distance_m, checkin_existing, checkin_window
from engagement.services.points import points_award
from grid.crs import CRS, to_wgs84
from grid.models import User
from layers.models import Person, PersonCategory
from layers.services import audit_record
from vision.attendance.models import MeetingCheckin

logger = logging.getLogger(__name__)

CHECKIN_RULE = "activity_checkin"
# The audit log's action for a check-in that an organizer made for a member.
AUDIT_ORGANIZER_CHECKIN = "organizer_checkin"
# A phone that was offline sends its queued check-ins with the time it made them, up to this long after.
QUEUED_MAX_AGE = dt.timedelta(hours=24)
# How far ahead of the server's clock a phone's clock may be before its time counts as "in the future".
CLOCK_AHEAD = dt.timedelta(minutes=2)
GIG_WORKER_KINDS = frozenset({Activity.Kind.VOLUNTEER, Activity.Kind.TRAINING})
# uuid5 of a face check-in's MeetingCheckin: the sweep and the hook make the same check-in once.
FACE_NAMESPACE = uuid.UUID("6f7c2f36-2b0e-5d1c-9a57-3c1c8a0e5f12")


class CheckInNotAllowed(Exception):
    """The member may not check in to this activity (not expected, not a member): answered 403."""


class CheckInUUIDConflict(Exception):
    """The client_uuid belongs to another member's or another activity's check-in: answered 409."""


def face_client_uuid(meeting_checkin_id: int) -> uuid.UUID:
    return uuid.uuid5(FACE_NAMESPACE, f"attendance.meetingcheckin:{meeting_checkin_id}")


def _local(moment: dt.datetime) -> str:
    return date_format(timezone.localtime(moment), "Y-m-d H:i")


def _expected_branch_ids(activity: Activity) -> set[int]:
    ids = {activity.branch_id}
    if activity.audience == Activity.Audience.BRANCHES:
        ids |= set(activity.invited_branches.values_list("pk", flat=True))
    return ids


def checkin_refusal(*, activity: Activity, person: Person) -> str | None:
    """Why `person` may not check in to `activity`; None when it may."""
    categories = set(person.categories)
    if PersonCategory.PARTY_MEMBER in categories:
        if activity.audience == Activity.Audience.ALL or activity.cross_branch:
            return None
        if person.branch_id is not None and person.branch_id in _expected_branch_ids(activity):
            return None
        return _("This activity is for the members of its branches; members of other branches may not check in.")
    if (
        PersonCategory.GIG_WORKER in categories
        and activity.audience == Activity.Audience.ALL
        and activity.kind in GIG_WORKER_KINDS
    ):
        return None
    return _(
        "Only party members may check in to this activity (gig workers: to volunteer services and trainings "
        "open to all)."
    )


def _moment(at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When the check-in happened: `at` from a phone that queued it offline, else now."""
    if at is None:
        return now
    if at > now + CLOCK_AHEAD:
        raise ValidationError({"at": _("The check-in time is in the future: check the phone's clock.")})
    if now - at > QUEUED_MAX_AGE:
        raise ValidationError(
            {"at": _("This check-in waited on the phone for more than 24 hours and can no longer be accepted.")}
        )
    return min(at, now)


def _check_window(activity: Activity, moment: dt.datetime) -> None:
    opens, closes = checkin_window(activity)
    if not opens <= moment <= closes:
        raise ValidationError(
            {
                "at": _("Check-in is open from %(opens)s to %(closes)s (%(zone)s); the check-in was at %(at)s.")
                % {
                    "opens": _local(opens),
                    "closes": _local(closes),
                    "zone": timezone.get_current_timezone_name(),
                    "at": _local(moment),
                }
            }
        )


def _geofence(activity: Activity, lon: float | None, lat: float | None, crs: str, accuracy_m: float | None) -> dict:
    if lon is None or lat is None:
        raise ValidationError({"position": _("A check-in by position needs lon and lat.")})
    if accuracy_m is None:
        raise ValidationError({"accuracy": _("A check-in by position needs the position's accuracy in metres.")})
    if accuracy_m > activity.radius_m:
        raise ValidationError(
            {
                "accuracy": _(
                    "The position is accurate to %(accuracy)d m only, worse than the check-in radius of %(radius)d m:"
                    " wait for a better fix outdoors and try again."
                )
                % {"accuracy": round(accuracy_m), "radius": activity.radius_m}
            }
        )
    point = Point(*to_wgs84(lon, lat, crs), srid=4326)
    distance = activity_distance_m(activity=activity, point=point)
    if distance > activity.radius_m:
        raise ValidationError(
            {
                "position": _("You are %(distance)d m from the venue; check-in is accepted within %(radius)d m.")
                % {"distance": round(distance), "radius": activity.radius_m}
            }
        )
    return {"location": point, "accuracy_m": accuracy_m, "distance_m": distance}


def _write(
    *, activity: Activity, person: Person, client_uuid, audit_by: User | None = None, **fields: Any
) -> tuple[CheckIn, bool]:
    """Insert the check-in and award its points in one transaction; a concurrent writer of the same uuid or the
    same member that committed first wins, and its check-in is answered (the unique constraints decide)."""
    try:
        with transaction.atomic():
            checkin = CheckIn.objects.create(
                activity=activity, person=person, home_branch_id=person.branch_id, client_uuid=client_uuid, **fields
            )
            points_award(
                person=person,
                rule_code=CHECKIN_RULE,
                source=f"engagement.checkin:{checkin.pk}",
                key=f"{CHECKIN_RULE}:engagement.checkin:{checkin.pk}",
                at=checkin.at,
            )
            if audit_by is not None:
                audit_record(
                    actor=audit_by,
                    action=AUDIT_ORGANIZER_CHECKIN,
                    target=f"engagement.checkin:{checkin.pk}",
                    reason=checkin.reason,
                    details={"activity": activity.pk, "person": person.pk},
                    area=activity.grid.community if activity.grid_id else None,
                )
    except IntegrityError:
        found = _answered(activity, person, client_uuid)
        if found is None:
            raise
        return found, False
    return checkin, True


def _answered(activity: Activity, person: Person, client_uuid) -> CheckIn | None:
    """The check-in that already answers this request, if any; CheckInUUIDConflict for another's uuid."""
    by_uuid, mine = checkin_existing(activity=activity, person_id=person.pk, client_uuid=client_uuid)
    if by_uuid is not None and by_uuid != mine:
        raise CheckInUUIDConflict(str(client_uuid))
    return mine


def checkin_record(
    *,
    activity: Activity,
    person: Person,
    method: str,
    client_uuid: uuid.UUID,
    at: dt.datetime | None = None,
    lon: float | None = None,
    lat: float | None = None,
    crs: str = CRS.WGS84,
    accuracy: float | None = None,
    code: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[CheckIn, bool]:
    """A member's own check-in, by position or by the rotating code, once; (check-in, created)."""
    existing = _answered(activity, person, client_uuid)
    if existing is not None:
        return existing, False
    if activity.status == Activity.Status.CANCELLED:
        raise ValidationError(_("This activity was cancelled."))
    refusal = checkin_refusal(activity=activity, person=person)
    if refusal:
        raise CheckInNotAllowed(refusal)
    now = now or timezone.now()
    moment = _moment(at, now)
    _check_window(activity, moment)
    fields: dict[str, Any] = {}
    if method == CheckIn.Method.GEOFENCE:
        fields = _geofence(activity, lon, lat, crs, accuracy)
    elif method == CheckIn.Method.CODE:
        if not code or not activity_code_valid(activity=activity, code=code, at=moment):
            raise ValidationError(
                {"code": _("This code is stale or wrong: type the code that the organizer's screen shows now.")}
            )
    else:
        raise ValidationError({"method": _("A member checks in by position or by code.")})
    return _write(activity=activity, person=person, client_uuid=client_uuid, method=method, at=moment, **fields)


def checkin_by_organizer(
    *, activity: Activity, person: Person, reason: str, client_uuid: uuid.UUID, by: User, now: dt.datetime | None = None
) -> tuple[CheckIn, bool]:
    """An organizer checks a member in (a phone left at home, no signal), with a reason; audited. Allowed from the
    window's opening on, also after the activity, so that its attendance list can be completed."""
    existing = _answered(activity, person, client_uuid)
    if existing is not None:
        return existing, False
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the member is checked in by the organizer.")})
    if activity.status == Activity.Status.CANCELLED:
        raise ValidationError(_("This activity was cancelled."))
    refusal = checkin_refusal(activity=activity, person=person)
    if refusal:
        raise ValidationError({"person": refusal})
    now = now or timezone.now()
    opens, _closes = checkin_window(activity)
    if now < opens:
        raise ValidationError({"at": _("Check-in opens at %(opens)s.") % {"opens": _local(opens)}})
    return _write(
        activity=activity,
        person=person,
        client_uuid=client_uuid,
        audit_by=by,
        method=CheckIn.Method.ORGANIZER,
        at=now,
        reason=reason[:300],
        recorded_by=by,
    )


def checkins_from_meetings(*, meeting_checkin_ids: list[int] | None = None) -> list[int]:
    """Turn the face check-ins of meetings linked to an activity into check-ins (method face), once each; all not
    yet turned, or those of `meeting_checkin_ids`. Returns the ids of the check-ins made."""
    pending = (
        MeetingCheckin.objects.filter(meeting__activity__isnull=False)
        .exclude(
            Exists(
                CheckIn.objects.filter(activity_id=OuterRef("meeting__activity__pk"), person_id=OuterRef("person_id"))
            )
        )
        .select_related("person", "meeting__activity")
        .order_by("pk")
    )
    if meeting_checkin_ids is not None:
        pending = pending.filter(pk__in=meeting_checkin_ids)
    made = []
    for row in pending.iterator(chunk_size=500):
        activity = row.meeting.activity
        if activity.status == Activity.Status.CANCELLED:
            continue
        refusal = checkin_refusal(activity=activity, person=row.person)
        if refusal:
            logger.info("face check-in %s not counted at activity %s: %s", row.pk, activity.pk, refusal)
            continue
        try:
            checkin, created = _write(
                activity=activity,
                person=row.person,
                client_uuid=face_client_uuid(row.pk),
                method=CheckIn.Method.FACE,
                at=row.at,
            )
        except CheckInUUIDConflict:
            continue
        if created:
            made.append(checkin.pk)
    return made
