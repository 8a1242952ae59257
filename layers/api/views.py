"""Thin views over the layer registry: the legend, GeoJSON per layer, figures, unmasked reads, the audit log.

No view knows a particular layer (except two that only one layer has: people's unmasked read and the gig-worker
profile); every row comes from `Layer.queryset(user)` through layers.selectors.
"""

from django.contrib.gis.db.models.functions import AsGeoJSON
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import pagination, permissions
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from grid.access import may_see_sensitive, scope_loaded
from grid.api.pagination import FeaturePagination
from layers.api.serializers import (
    GEOJSON_ANNOTATION,
    AuditEntrySerializer,
    AuditQuerySerializer,
    BBoxQuerySerializer,
    GigWorkerProfileSerializer,
    LayerFeatureSerializer,
    LayerFeaturesQuerySerializer,
    LayerQuerySerializer,
    LayerSerializer,
    LayerStatsQuerySerializer,
    PersonSensitiveSerializer,
    SensitiveReasonSerializer,
    StatsSerializer,
)
from layers.registry import LAYERS, Layer
from layers.selectors import (
    audit_entries,
    gig_worker_profile,
    layer_counts,
    layer_rows,
    layer_stats,
    layer_visible_to,
    may_read_audit_log,
)
from layers.services import person_sensitive_read


class AuditPagination(pagination.PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class LayerApiMixin:
    """Resolves `<name>` to a layer the caller may open: 404 for no such layer, 401/403 for a closed one."""

    permission_classes = [permissions.AllowAny]  # per layer, below: public layers are open to anonymous callers

    def open_layer(self, request, name: str) -> Layer:
        layer = LAYERS.get(name)
        if layer is None:
            raise NotFound(_("There is no layer named “%(name)s”.") % {"name": name})
        if not layer_visible_to(layer=layer, user=request.user):
            # 401 (with the Token challenge) for anonymous callers, 403 for signed-in ones
            self.permission_denied(request, message=_("This layer is not open to this account."))
        return layer

    def query(self, request, layer: Layer, serializer_class: type[LayerQuerySerializer], user):
        data = serializer_class(data=request.query_params, context={"layer": layer, "user": user})
        data.is_valid(raise_exception=True)
        return data


class LayerListApi(APIView):
    """The layer registry for the console legend: the layers the caller may open, with how many rows it sees."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(parameters=[BBoxQuerySerializer], responses={200: LayerSerializer(many=True)})
    def get(self, request):
        data = BBoxQuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        user = scope_loaded(request.user)
        layers = [layer for layer in LAYERS.values() if layer_visible_to(layer=layer, user=user)]
        counts = layer_counts(layers=layers, user=user, bbox=data.validated_data.get("in_bbox"))
        return Response(LayerSerializer(layers, many=True, context={"counts": counts, "user": user}).data)


class LayerFeaturesApi(LayerApiMixin, APIView):
    """The rows of one layer the caller may see, as a paginated GeoJSON FeatureCollection (personal values masked)."""

    @extend_schema(parameters=[LayerFeaturesQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request, name: str):
        layer = self.open_layer(request, name)
        user = scope_loaded(request.user)
        data = self.query(request, layer, LayerFeaturesQuerySerializer, user)
        geometry = layer.model._meta.get_field(layer.geometry_field)
        # PostGIS writes each geometry's GeoJSON (no GEOS object per row); points to ~1 cm, shapes to ~10 cm
        precision = 7 if geometry.geom_type == "POINT" else 6
        rows = (
            layer_rows(layer=layer, user=user, filters=data.filters)
            .defer(layer.geometry_field)
            .annotate(**{GEOJSON_ANNOTATION: AsGeoJSON(layer.geometry_field, precision=precision)})
        )
        ordering = [*(layer.model._meta.ordering or []), "pk"]  # a total order: pages neither skip nor repeat
        paginator = FeaturePagination()
        page = paginator.paginate_queryset(rows.order_by(*ordering), request, view=self)
        features = LayerFeatureSerializer(page, many=True, context={"layer": layer}).data
        return paginator.get_paginated_response({"features": features})


class LayerStatsApi(LayerApiMixin, APIView):
    """Counts of one layer's visible rows by category, kind, grid or community, for dashboards."""

    @extend_schema(parameters=[LayerStatsQuerySerializer], responses={200: StatsSerializer})
    def get(self, request, name: str):
        layer = self.open_layer(request, name)
        user = scope_loaded(request.user)
        data = self.query(request, layer, LayerStatsQuerySerializer, user)
        figures = layer_stats(layer=layer, user=user, by=data.validated_data["by"], filters=data.filters)
        return Response(StatsSerializer(figures).data)


class GigWorkerProfileApi(LayerApiMixin, APIView):
    """Gig workers in the caller's scope by platform, work kind and age band, and the party members among them."""

    @extend_schema(parameters=[LayerQuerySerializer], responses={200: GigWorkerProfileSerializer})
    def get(self, request):
        layer = self.open_layer(request, "gig_workers")
        user = scope_loaded(request.user)
        data = self.query(request, layer, LayerQuerySerializer, user)
        return Response(GigWorkerProfileSerializer(gig_worker_profile(user=user, filters=data.filters)).data)


class PersonSensitiveApi(LayerApiMixin, APIView):
    """A person's unmasked ID-card number, phone and birth date, for an account with clearance and a reason; audited.

    A POST, with the reason in its body: a query string would carry the reason (and that a read happened) into
    access logs and browser history, and a GET may be repeated by prefetchers without anyone asking."""

    @extend_schema(request=SensitiveReasonSerializer, responses={200: PersonSensitiveSerializer})
    def post(self, request, pk: int):
        layer = self.open_layer(request, "people")
        if not may_see_sensitive(request.user):
            raise PermissionDenied(_("This account may not see unmasked personal fields."))
        data = SensitiveReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        person = layer.queryset(scope_loaded(request.user)).filter(pk=pk).first()
        if person is None:
            raise NotFound(_("No person with this id is in your scope."))
        values = person_sensitive_read(person=person, user=request.user, reason=data.validated_data["reason"])
        response = Response(PersonSensitiveSerializer({"id": person.pk, **values}).data)
        response["Cache-Control"] = "no-store, private"  # never kept by a browser or proxy
        return response


class MayReadAuditLog(permissions.BasePermission):
    message = _("Only auditors read the audit log.")

    def has_permission(self, request, view):
        return may_read_audit_log(request.user)


class AuditListApi(APIView):
    """The append-only audit log (unmasked reads, exports, imports), newest first: superusers all of it, auditors
    the entries of their areas."""

    permission_classes = [permissions.IsAuthenticated, MayReadAuditLog]
    pagination_class = AuditPagination  # paged by hand in get(); named so that the schema documents the page

    @extend_schema(parameters=[AuditQuerySerializer], responses={200: AuditEntrySerializer(many=True)})
    def get(self, request):
        data = AuditQuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        entries = audit_entries(
            user=scope_loaded(request.user),
            since=v.get("from"),
            until=v.get("to"),
            actor=v.get("actor"),
            action=v.get("action"),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(AuditEntrySerializer(page, many=True).data)
