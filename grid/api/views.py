"""Thin views over grid's services and selectors."""

import re
from types import SimpleNamespace

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, permissions, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.filters import InBBoxFilter

from grid.access import incidents_for
from grid.api.detail import INCIDENT_RELATED, incident_detail, incident_in_scope
from grid.api.errors import Conflict
from grid.api.pagination import FeaturePagination
from grid.api.params import MomentFilter, PointQuerySerializer
from grid.api.serializers import (
    AreaFeatureSerializer,
    AreaRefSerializer,
    CategorySerializer,
    GridFeatureSerializer,
    GridRefSerializer,
    IncidentFeatureSerializer,
    ReportInputSerializer,
    duplicate_of_visible,
)
from grid.crs import CRS, to_wgs84
from grid.models import AdminArea, Category, Grid, Incident, Role, Station
from grid.photos import photos_decode, photos_of_request
from grid.selectors import (
    categories_active,
    incidents_possible_duplicates,
    placement_of,
    stations_nearest_geojson,
)
from grid.services import ClientUUIDConflict, incident_report
from grid.services.deadlines import live_warning


class StationNearestApi(APIView):
    """The nearest stations to a point, by true (geodesic) distance. Open to anonymous gig workers."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []  # public: skip session and token look-ups on this hot path

    class InputSerializer(PointQuerySerializer):
        limit = serializers.IntegerField(min_value=1, max_value=50, default=5)
        kind = serializers.ChoiceField(choices=Station.Kind.choices, required=False)
        amenity = serializers.ListField(
            child=serializers.ChoiceField(choices=Station.Amenity.choices),
            required=False,
            help_text=_("repeat or comma-separate; all must be present"),
        )
        open_now = serializers.BooleanField(required=False, default=False)

    # Gig workers' phones ask this all day, nearly always as plain `lon`, `lat` and maybe `limit`, `crs`,
    # `kind`. For such a query, dispatch() skips DRF's request wrapper, content negotiation and input
    # serializer, ~0.7 ms of CPU per request, more than the query costs PostgreSQL (bench/README.md): it
    # reads the few fields with the same rules the serializer applies. Anything else (other fields,
    # numbers not written plainly, values out of range, an Accept header or a method DRF might refuse)
    # takes the full DRF path, so every error and every answer is exactly what that path gives.
    _PLAIN_FIELDS = frozenset({"lon", "lat", "limit", "crs", "kind"})
    _PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,3}(?:\.[0-9]{1,15})?")
    _PLAIN_LIMIT = re.compile(r"[0-9]{1,2}")
    _CRS_VALUES = frozenset(c.value for c in CRS)
    _KIND_VALUES = frozenset(Station.Kind.values)

    @classmethod
    def plain_query(cls, request) -> dict | None:
        """The selector's arguments for a plain, valid GET query; None for anything the serializer must judge."""
        if request.method != "GET" or request.META.get("HTTP_ACCEPT", "*/*") not in ("*/*", "application/json"):
            return None
        query = request.GET
        if not query.keys() <= cls._PLAIN_FIELDS or any(len(values) != 1 for _, values in query.lists()):
            return None
        lon, lat = query.get("lon"), query.get("lat")
        limit, crs, kind = query.get("limit", "5"), query.get("crs", CRS.WGS84.value), query.get("kind")
        if (
            lon is None
            or lat is None
            or not cls._PLAIN_DECIMAL.fullmatch(lon)
            or not cls._PLAIN_DECIMAL.fullmatch(lat)
            or not cls._PLAIN_LIMIT.fullmatch(limit)
            or crs not in cls._CRS_VALUES
            or (kind is not None and kind not in cls._KIND_VALUES)
        ):
            return None
        lon_f, lat_f, limit_i = float(lon), float(lat), int(limit)
        if not (-180 <= lon_f <= 180 and -90 <= lat_f <= 90 and 1 <= limit_i <= 50):
            return None
        lon_f, lat_f = to_wgs84(lon_f, lat_f, crs)
        return {"lon": lon_f, "lat": lat_f, "limit": limit_i, "kind": kind}

    def plain_throttles_allow(self, request) -> bool:
        """The DRF path's throttles, counted here once; a refusal takes the DRF path, which answers it (429)."""
        # this view authenticates nobody: the caller counts as anonymous, as on the DRF path
        caller = SimpleNamespace(user=AnonymousUser(), META=request.META, method=request.method)
        return all(throttle.allow_request(caller, self) for throttle in self.get_throttles())

    def dispatch(self, request, *args, **kwargs):
        query = self.plain_query(request)
        if query is None or not self.plain_throttles_allow(request):
            return super().dispatch(request, *args, **kwargs)
        self.args, self.kwargs, self.request = args, kwargs, request
        self.headers = self.default_response_headers  # Allow and Vary, as DRF's dispatch() sets them
        response = HttpResponse(stations_nearest_geojson(**query), content_type="application/json")
        return self.finalize_response(request, response, *args, **kwargs)

    @extend_schema(parameters=[InputSerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        params = request.query_params.copy()
        if "amenity" in params:
            params.setlist("amenity", [a for v in params.getlist("amenity") for a in v.split(",") if a])
        data = self.InputSerializer(data=params)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        text = stations_nearest_geojson(
            lon=v["point"].x,
            lat=v["point"].y,
            limit=v["limit"],
            kind=v.get("kind"),
            amenities=v.get("amenity"),
            open_at=timezone.now() if v["open_now"] else None,
        )
        return HttpResponse(text, content_type="application/json")


class AreaLocateApi(APIView):
    """The grid, community, street/town and county that contain a point."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(parameters=[PointQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        data = PointQuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        point = data.validated_data["point"]
        placement = placement_of(point=point)
        if placement.grid is None:
            raise NotFound(_("No grid contains this point."))
        return Response(
            {
                "location": {"type": "Point", "coordinates": [round(point.x, 7), round(point.y, 7)]},
                "grid": GridRefSerializer(placement.grid).data,
                "community": AreaRefSerializer(placement.community).data if placement.community else None,
                "street": AreaRefSerializer(placement.street).data if placement.street else None,
                "county": AreaRefSerializer(placement.county).data if placement.county else None,
            }
        )


class AreaFilter(filters.FilterSet):
    level = filters.ChoiceFilter(
        method="filter_level",
        choices=[(name.lower(), name.lower()) for name in AdminArea.Level.names]
        + [(str(value), str(value)) for value in AdminArea.Level.values],
    )
    parent = filters.CharFilter(field_name="parent__code")

    class Meta:
        model = AdminArea
        fields = ["level", "parent"]

    def filter_level(self, queryset, name, value):
        level = int(value) if value.isdigit() else AdminArea.Level[value.upper()].value
        return queryset.filter(level=level)


class AreaListApi(generics.ListAPIView):
    """Administrative boundaries (public), filtered by level (county, street, community…) and bbox."""

    permission_classes = [permissions.AllowAny]
    queryset = AdminArea.objects.select_related("parent").order_by("code")
    serializer_class = AreaFeatureSerializer
    filter_backends = [filters.DjangoFilterBackend, InBBoxFilter]
    filterset_class = AreaFilter
    bbox_filter_field = "boundary"
    bbox_filter_include_overlapping = True
    pagination_class = FeaturePagination


class GridListApi(generics.ListAPIView):
    """Grid boundaries (public), optionally within a bbox (in_bbox=min_lon,min_lat,max_lon,max_lat)."""

    permission_classes = [permissions.AllowAny]
    queryset = Grid.objects.select_related("community").order_by("code")
    serializer_class = GridFeatureSerializer
    filter_backends = [filters.DjangoFilterBackend, InBBoxFilter]
    filterset_fields = {"community__code": ["exact"]}
    bbox_filter_field = "boundary"
    bbox_filter_include_overlapping = True
    pagination_class = FeaturePagination


class IncidentFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Incident.Status.choices)
    kind = filters.ChoiceFilter(choices=Incident.Kind.choices)
    category = filters.ModelChoiceFilter(queryset=Category.objects.all(), to_field_name="code")
    warning = filters.ChoiceFilter(choices=Incident.Warning.choices, method="filter_warning")
    area = filters.ModelChoiceFilter(
        queryset=AdminArea.objects.all(), to_field_name="code", method="filter_area", label=_("area code")
    )
    assignee = filters.CharFilter(method="filter_assignee", help_text=_("a username, or “me”"))
    created_from = MomentFilter(field_name="created", lookup_expr="gte", label=_("created from"))
    created_to = MomentFilter(field_name="created", lookup_expr="lt", label=_("created before"))
    modified_since = MomentFilter(
        field_name="modified", lookup_expr="gte", label=_("changed at or after (for polling)")
    )
    reporter = filters.CharFilter(method="filter_reporter", help_text=_("a username, or “me”"))

    class Meta:
        model = Incident
        fields = [
            "status",
            "kind",
            "category",
            "warning",
            "area",
            "assignee",
            "reporter",
            "created_from",
            "created_to",
            "modified_since",
        ]

    def filter_warning(self, queryset, name, value):
        return queryset.annotate(live_warning=live_warning(timezone.now())).filter(
            status__in=Incident.OPEN_STATUSES, live_warning=value
        )

    @extend_schema_field(OpenApiTypes.STR)  # the area's code: the filter resolves it to an AdminArea
    def filter_area(self, queryset, name, area):
        field = {AdminArea.Level.COMMUNITY: "community", AdminArea.Level.STREET: "street"}.get(area.level, "county")
        if area.level < AdminArea.Level.COUNTY:
            return queryset.filter(Q(county__parent=area) | Q(county__parent__parent=area))
        return queryset.filter(**{field: area})

    def filter_reporter(self, queryset, name, value):
        return queryset.filter(reporter__username=self.request.user.username if value == "me" else value)

    def filter_assignee(self, queryset, name, value):
        return queryset.filter(assignee__username=self.request.user.username if value == "me" else value)


class IncidentsApi(generics.ListAPIView):
    """GET: the incidents in the caller's scope (filters: status, kind, category, warning, area, assignee, dates).
    POST: report one (idempotent by client_uuid); multipart with `photos` files (up to 9)."""

    serializer_class = IncidentFeatureSerializer
    filter_backends = [filters.DjangoFilterBackend, InBBoxFilter]
    filterset_class = IncidentFilter
    bbox_filter_field = "location"
    pagination_class = FeaturePagination
    InputSerializer = ReportInputSerializer

    def get_queryset(self):
        user = self.request.user
        return duplicate_of_visible(incidents_for(user), user).select_related(*INCIDENT_RELATED, "handling_unit")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(request=ReportInputSerializer, responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT})
    def post(self, request):
        if request.user.role == Role.AUDITOR and not request.user.is_superuser:
            raise PermissionDenied(_("Auditors read; they do not report."))
        photos = photos_decode(photos_of_request(request.FILES, "photos")) if request.FILES else []
        data = self.InputSerializer(data=request.data, context={"photos": photos})
        data.is_valid(raise_exception=True)
        try:
            incident, created = incident_report(reporter=request.user, photos=photos, **data.validated_data)
        except ClientUUIDConflict as conflict:
            raise Conflict({"client_uuid": [_("This client_uuid belongs to another account's report.")]}) from conflict
        body = incident_detail(incident_in_scope(request.user, incident.pk), request)
        # the reporter is told of open reports nearby of the same kind that he may open himself, whatever his role
        body["properties"].setdefault(
            "possible_duplicates", incidents_possible_duplicates(incident=incident, user=request.user)
        )
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class CategoryListApi(APIView):
    """Active incident categories: [{"code", "name", …}]."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: CategorySerializer(many=True)})
    def get(self, request):
        return Response(CategorySerializer(categories_active(), many=True).data)
