"""Reads of face attendance, every one scoped: enrolments and duties by the person's grid, meetings by the
camera's grid (grid.access.grids_for), and the weekly/monthly/quarterly summaries built from them.

Summary rules: a duty day counts once it is due (a past day, or today after start + no-show minutes) or once the
cadre arrived; present and late are days with an arrival, every other due day is absent (whether or not the
no-show sweep ran); minutes on duty are from first to last sighting. The attendance rate is (present + late) /
scheduled, None with nothing scheduled. A schedule's village is its own, else its person's grid's community.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from grid.access import grids_for
from grid.models import AdminArea, Role, User
from layers.models import Person
from layers.selectors import people_for
from vision.attendance.models import DutyAttendance, DutySchedule, FaceEnrolment, Meeting, MeetingCheckin

PERIODS = ("week", "month", "quarter")
# Who may enrol faces (and delete enrolments): the people who answer for an area, in their scope.
ENROL_ROLES = frozenset({Role.DISPATCHER, Role.ADMINISTRATOR})


def may_enrol(user: User | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.is_superuser or user.role in ENROL_ROLES))


def _in_scope(user: User | AnonymousUser, grid_field: str) -> Q:
    if user.is_authenticated and user.is_active and user.is_superuser:
        return Q()
    return Q(**{f"{grid_field}__in": grids_for(user).values("pk")})


def people_enrollable(user: User | AnonymousUser) -> QuerySet[Person]:
    """The people `user` may enrol: those `user` may see, for dispatchers and administrators."""
    if not may_enrol(user):
        return Person.objects.none()
    return people_for(user)


def enrolments_for(user: User | AnonymousUser) -> QuerySet[FaceEnrolment]:
    return FaceEnrolment.objects.filter(person__in=people_for(user).values("pk")).select_related("person")


def schedules_for(user: User | AnonymousUser) -> QuerySet[DutySchedule]:
    # a hidden person's duties count nowhere, not even in a village's totals (which would give them away)
    return DutySchedule.objects.filter(person__in=people_for(user).values("pk"))


def meetings_for(user: User | AnonymousUser) -> QuerySet[Meeting]:
    """Meetings at cameras in the user's scope, with their members and check-ins limited to the people the user
    may see (`members_visible`, `checkins_visible`, prefetched)."""
    visible = people_for(user)
    return (
        Meeting.objects.filter(_in_scope(user, "camera__grid"))
        .select_related("camera")
        .prefetch_related(
            Prefetch("members", queryset=visible.order_by("pk"), to_attr="members_visible"),
            Prefetch(
                "checkins",
                queryset=MeetingCheckin.objects.filter(person__in=visible.values("pk"))
                .select_related("person")
                .order_by("at", "pk"),
                to_attr="checkins_visible",
            ),
        )
    )


def period_bounds(period: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) of the calendar week (Monday first), month or quarter containing `day`."""
    if period == "week":
        first = day - dt.timedelta(days=day.weekday())
        return first, first + dt.timedelta(days=6)
    if period == "month":
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if period == "quarter":
        month = 3 * ((day.month - 1) // 3) + 1
        last_month = month + 2
        return dt.date(day.year, month, 1), dt.date(day.year, last_month, calendar.monthrange(day.year, last_month)[1])
    raise ValueError(f"unknown period {period!r}")


def area_q(area: AdminArea, *, village_field: str = "village") -> Q:
    """Schedules whose village is `area` or lies under it (at most four levels down: province → village)."""
    q = Q()
    path = village_field
    for _level in range(5):
        q |= Q(**{f"{path}_id": area.pk})
        path += "__parent"
    return q


@dataclass
class Tally:
    scheduled: int = 0
    present: int = 0
    late: int = 0
    absent: int = 0
    minutes: int = 0

    @property
    def rate(self) -> float | None:
        return round((self.present + self.late) / self.scheduled, 4) if self.scheduled else None

    def as_dict(self) -> dict:
        return {
            "scheduled": self.scheduled,
            "present": self.present,
            "late": self.late,
            "absent": self.absent,
            "rate": self.rate,
            "minutes": self.minutes,
        }


def attendance_summary(
    *,
    user: User | AnonymousUser,
    period: str,
    day: dt.date,
    area: AdminArea | None = None,
    now: dt.datetime | None = None,
) -> dict:
    """Duty days scheduled, present, late, absent, rate and minutes on duty per person and per village."""
    now = timezone.localtime(now or timezone.now())
    first, last = period_bounds(period, day)
    schedules = schedules_for(user).select_related("person", "village", "person__grid__community")
    if area is not None:
        # a schedule without a village of its own belongs to its person's grid's community
        schedules = schedules.filter(
            area_q(area) | (Q(village__isnull=True) & area_q(area, village_field="person__grid__community"))
        )
    schedules = list(schedules)
    rows: dict[int, dict[dt.date, DutyAttendance]] = defaultdict(dict)
    for row in DutyAttendance.objects.filter(schedule__in=[s.pk for s in schedules], date__range=(first, last)):
        rows[row.schedule_id][row.date] = row
    people: dict[int, tuple[object, Tally]] = {}
    villages: dict[int | None, tuple[AdminArea | None, Tally]] = {}
    for schedule in schedules:
        village = schedule.village or (schedule.person.grid.community if schedule.person.grid_id else None)
        person_tally = people.setdefault(schedule.person_id, (schedule.person, Tally()))[1]
        village_tally = villages.setdefault(village.pk if village else None, (village, Tally()))[1]
        for tally in (person_tally, village_tally):
            _count(tally, schedule, first, min(last, now.date()), rows[schedule.pk], now)
    return {
        "period": period,
        "from": first,
        "to": last,
        "area": area.code if area else None,
        "people": [
            {"person": person.pk, "name": person.name, **tally.as_dict()}
            for person, tally in sorted(people.values(), key=lambda pt: (pt[0].name, pt[0].pk))
        ],
        "villages": [
            {"code": village.code if village else None, "name": village.name if village else None, **tally.as_dict()}
            for village, tally in sorted(villages.values(), key=lambda vt: vt[0].code if vt[0] else "")
        ],
    }


def _count(
    tally: Tally,
    schedule: DutySchedule,
    first: dt.date,
    last: dt.date,
    rows: dict[dt.date, DutyAttendance],
    now: dt.datetime,
) -> None:
    """Add one schedule's duty days from `first` to `last` (both inclusive) to `tally`."""
    days = {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}
    # the schedule's weekdays, and any day recorded (a weekday since dropped from the schedule still happened)
    for day in sorted({d for d in days if d.weekday() in schedule.weekdays} | {d for d in rows if d in days}):
        row = rows.get(day)
        if row is not None and row.arrived_at is not None:
            tally.scheduled += 1
            if row.status == DutyAttendance.Status.LATE:
                tally.late += 1
            else:
                tally.present += 1
            if row.left_at is not None:
                tally.minutes += int((row.left_at - row.arrived_at).total_seconds() // 60)
        elif _due(schedule, day, now):
            tally.scheduled += 1
            tally.absent += 1


def _due(schedule: DutySchedule, day: dt.date, now: dt.datetime) -> bool:
    if day < now.date():
        return True
    if day > now.date():
        return False
    start = timezone.make_aware(dt.datetime.combine(day, schedule.start), now.tzinfo)
    return now >= start + dt.timedelta(minutes=schedule.no_show_after_minutes)
