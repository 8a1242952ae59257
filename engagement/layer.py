"""The activities layer of the registry (group "events"): this week's activities, today's marked, by kind.

Imported from EngagementConfig.ready(): layers may not import engagement, so engagement declares its layer itself.
What an activity is (title, kind, branch, time, venue) is public, as its notice on a branch's board would be; its
record and attendance never reach the layer.
"""

import datetime as dt

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from engagement.models import Activity
from grid.models import User
from layers.registry import LAYERS, Attribute, Layer, Sensitivity, attribute, register

ACTIVITIES_LAYER = "activities"


def week_bounds(now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """Monday 00:00 of the current week and of the next, in the display time zone."""
    local = timezone.localtime(now or timezone.now())
    monday = (local - dt.timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday, monday + dt.timedelta(days=7)


def activities_this_week(user: User | AnonymousUser) -> QuerySet[Activity]:
    """Activities planned for this week (running at some time of it), for everybody alike."""
    start, end = week_bounds()
    return Activity.objects.filter(status=Activity.Status.PLANNED, ends_at__gte=start, starts_at__lt=end)


def _today(row: Activity) -> bool:
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return row.starts_at < start + dt.timedelta(days=1) and row.ends_at >= start


if ACTIVITIES_LAYER not in LAYERS:
    register(
        Layer(
            name=ACTIVITIES_LAYER,
            group="events",
            title=_("activities"),
            model=Activity,
            geometry_field="location",
            base_queryset=activities_this_week,
            sensitivity=Sensitivity.PUBLIC,
            style={"color": "#c62828", "radius": 6},
            attributes=(
                attribute("id", "ID"),
                attribute("title", _("title")),
                attribute("kind", _("kind")),
                attribute("branch", _("organizing branch"), "branch__name"),
                attribute("venue_name", _("venue name")),
                attribute("starts_at", _("starts")),
                attribute("ends_at", _("ends")),
                attribute("radius_m", _("check-in radius (m)")),
                Attribute("today", _("today"), _today),
                attribute("grid", _("grid"), "grid__code"),
            ),
            kind_lookup="kind",
            time_field="starts_at",
            related=("branch", "grid"),
        )
    )
