"""Reads of check-ins: an activity's window and rotating code, the distance to its venue, and the check-ins that
count for a branch (those of its members, wherever they checked in) or show at it (those plus the check-ins at its
own activities)."""

import base64
import datetime as dt
import hmac
from dataclasses import dataclass

import pyotp
from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import Point
from django.db.models import Q, QuerySet
from django.utils import timezone

from engagement.models import Activity, CheckIn
from layers.models import Organization

CODE_STEP_S = 30
CODE_DIGITS = 6


def checkin_window(activity: Activity) -> tuple[dt.datetime, dt.datetime]:
    """When check-ins are accepted: the activity's time with its grace period on either side."""
    grace = dt.timedelta(minutes=activity.grace_minutes)
    return activity.starts_at - grace, activity.ends_at + grace


def activity_distance_m(*, activity: Activity, point: Point) -> float:
    """Geodesic metres from the venue to `point` (PostGIS geography: on the spheroid)."""
    distance = Activity.objects.filter(pk=activity.pk).annotate(d=Distance("location", point)).values_list("d")
    return distance.get()[0].m


def _totp(activity: Activity) -> pyotp.TOTP:
    # code_secret is hex; TOTP's key is the same bytes in base32
    key = base64.b32encode(bytes.fromhex(activity.code_secret)).decode()
    return pyotp.TOTP(key, digits=CODE_DIGITS, interval=CODE_STEP_S)


@dataclass(frozen=True)
class RotatingCode:
    code: str
    step: int  # the 30 s step since the epoch that the code belongs to
    valid_for_s: int  # until the next step begins


def activity_code(*, activity: Activity, at: dt.datetime | None = None) -> RotatingCode:
    """The code that the organizer's screen shows at `at` (now)."""
    at = at or timezone.now()
    seconds = at.timestamp()
    step = int(seconds // CODE_STEP_S)
    valid_for = max(1, round((step + 1) * CODE_STEP_S - seconds))
    return RotatingCode(code=_totp(activity).at(at), step=step, valid_for_s=valid_for)


def activity_code_valid(*, activity: Activity, code: str, at: dt.datetime) -> bool:
    """Whether `code` is the code of the step of `at` or of the step before (a clock a little behind, a member who
    typed it as it changed); compared in constant time."""
    totp = _totp(activity)
    expected = (totp.at(at), totp.at(at - dt.timedelta(seconds=CODE_STEP_S)))
    return any(hmac.compare_digest(code.encode(), e.encode()) for e in expected)


def checkin_existing(*, activity: Activity, person_id: int, client_uuid) -> tuple[CheckIn | None, CheckIn | None]:
    """The check-in that carries `client_uuid` (whoever's), and the member's check-in at the activity, in one
    query."""
    by_uuid = mine = None
    for row in CheckIn.objects.filter(Q(client_uuid=client_uuid) | Q(activity=activity, person_id=person_id)):
        if row.client_uuid == client_uuid:
            by_uuid = row
        if row.activity_id == activity.pk and row.person_id == person_id:
            mine = row
    return by_uuid, mine


def checkins_counted_for(*, branch: Organization) -> QuerySet[CheckIn]:
    """The check-ins that count for `branch`: its members' (home branch at the time), at any branch's activity."""
    return CheckIn.objects.filter(home_branch=branch).select_related("activity", "person")


def checkins_shown_at(*, branch: Organization) -> QuerySet[CheckIn]:
    """The check-ins a branch shows: those at its own activities and those of its members elsewhere."""
    return CheckIn.objects.filter(Q(activity__branch=branch) | Q(home_branch=branch)).select_related(
        "activity", "person", "home_branch"
    )


def checkins_of_activity(*, activity: Activity) -> QuerySet[CheckIn]:
    """An activity's attendance list, in the order members arrived."""
    return CheckIn.objects.filter(activity=activity).select_related("person", "home_branch").order_by("at", "pk")
