"""Incident statistics of an area, for the dispatcher's and the administrator's dashboards."""

import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from grid.models import AdminArea
from grid.selectors_stats import AreaOutOfScope, incident_stats

DEFAULT_PERIOD = dt.timedelta(days=30)


@extend_schema_field({"oneOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]})
class MomentField(serializers.Field):
    """An ISO 8601 date or date and time; without an offset, in the server's time zone. A bare date is the start
    of that day, or with `end_of_day`, the start of the next (so that a period "to" a date includes it)."""

    default_error_messages = {
        "invalid": _("Give a date (2025-01-31) or a date and time (2025-01-31T08:00:00+08:00)."),
        "range": _("Give a moment between the years 1900 and 2999."),
    }

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = str(data).strip()
        try:
            # a bare date first: parse_datetime would read it as midnight
            day = parse_date(text)
            moment = None if day is not None else parse_datetime(text)
        except ValueError:  # well formed but impossible, e.g. 2025-02-30
            self.fail("invalid")
        if moment is None and day is None:
            self.fail("invalid")
        if not 1900 <= (moment or day).year <= 2999:  # and no overflow in the arithmetic that follows
            self.fail("range")
        if moment is None:
            day += dt.timedelta(days=1 if self.end_of_day else 0)
            moment = dt.datetime.combine(day, dt.time.min)
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment

    def to_representation(self, value):
        return value.isoformat()


class IncidentStatsApi(APIView):
    """GET: per area one level below `area` (county → streets, street → communities, community → grids) and per
    category: incidents received in [from, to), closed, closure rate, median minutes to accept and to resolve,
    and the open ones yellow and red now. `area` defaults to the caller's highest area (a superuser's: every
    county), `to` to now, `from` to 30 days before `to`."""

    class InputSerializer(serializers.Serializer):
        area = serializers.CharField(
            required=False, max_length=12, help_text=_("code of an administrative area in your scope")
        )
        to = MomentField(
            required=False, end_of_day=True, help_text=_("end of the period (excluded); a date includes that day")
        )

        def get_fields(self):
            fields = super().get_fields()
            # "from" is a Python keyword: the field is declared here rather than as a class attribute.
            fields["from"] = MomentField(required=False, help_text=_("start of the period (included)"))
            return fields

        def validate_area(self, code):
            area = AdminArea.objects.select_related("parent__parent__parent__parent").filter(code=code).first()
            if area is None:
                raise serializers.ValidationError(_("No administrative area has this code."))
            return area

    @extend_schema(parameters=[InputSerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        data = self.InputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        now = timezone.now()
        end = data.validated_data.get("to", now)
        start = data.validated_data.get("from", end - DEFAULT_PERIOD)
        if start >= end:
            raise serializers.ValidationError({"from": [_("The start of the period must lie before its end.")]})
        try:
            stats = incident_stats(
                user=request.user, area=data.validated_data.get("area"), start=start, end=end, now=now
            )
        except AreaOutOfScope as refused:
            message = (
                _("This area lies outside your scope.")
                if "area" in data.validated_data
                else _("Your account is responsible for no area.")
            )
            raise PermissionDenied(message) from refused
        return Response(stats)
