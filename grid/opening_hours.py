"""Weekly opening hours: {"mon": [["08:00", "12:00"], ["14:00", "20:00"]], …}; a missing day is closed."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")


def validate_opening_hours(hours: object) -> None:
    """Raise ValidationError naming the day and span that is malformed."""
    if not isinstance(hours, dict):
        raise ValidationError({"opening_hours": _("Opening hours must be an object keyed by day (mon … sun).")})
    for day, spans in hours.items():
        if day not in DAYS:
            raise ValidationError({"opening_hours": _("Unknown day %(day)s; use mon … sun.") % {"day": day}})
        if not isinstance(spans, list):
            raise ValidationError({"opening_hours": _("%(day)s must be a list of [open, close] pairs.") % {"day": day}})
        for span in spans:
            ok = isinstance(span, list) and len(span) == 2 and all(isinstance(t, str) and _TIME.match(t) for t in span)
            if not ok or span[0] >= span[1]:
                raise ValidationError(
                    {
                        "opening_hours": _(
                            '%(day)s: %(span)s is not an ["HH:MM", "HH:MM"] pair that closes after it opens.'
                        )
                        % {"day": day, "span": span}
                    }
                )


def local_day_and_time(moment: dt.datetime) -> tuple[str, str]:
    """The weekday key and "HH:MM" of a moment in the display time zone (Asia/Shanghai by default)."""
    local = moment.astimezone(ZoneInfo(settings.TIME_ZONE))
    return DAYS[local.weekday()], local.strftime("%H:%M")


def is_open_at(hours: dict, moment: dt.datetime) -> bool:
    day, clock = local_day_and_time(moment)
    return any(open_ <= clock < close for open_, close in hours.get(day, []))
