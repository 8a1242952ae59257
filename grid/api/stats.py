"""Incident statistics of an area, for the dispatcher's and the administrator's dashboards."""

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from grid.api.params import MomentField
from grid.models import AdminArea
from grid.selectors.stats import AreaOutOfScope, incident_stats

DEFAULT_PERIOD = dt.timedelta(days=30)


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
            required=False, end=True, help_text=_("end of the period (excluded); a date includes that day")
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
