"""The organizations nearest to a point, for the public station finder: party and community organizations a gig
worker can walk into. Public and anonymous, like the stations' search; rows come only from the public
`organizations` layer of the registry, and only its public, non-personal attributes leave.
"""

import json

from django.contrib.auth.models import AnonymousUser
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import AsGeoJSON
from django.contrib.gis.geos import Point
from django.db.models import F, FloatField, Func, QuerySet, Value
from django.db.models.functions import Cast
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from grid.api.params import PointQuerySerializer
from layers.models import Organization
from layers.registry import LAYERS, Layer
from layers.selectors import layer_rows, layer_visible_to

LAYER_NAME = "organizations"
# What a phone is told about an organization: never its code, parent or grid, and no personal attribute at all.
PUBLIC_FIELDS = ("name", "kind", "address", "phone")
_GEOGRAPHY = GeometryField(srid=4326, geography=True)


def _public_layer() -> Layer:
    """The registry's organizations layer, if it is open to anonymous callers; 404 otherwise."""
    layer = LAYERS.get(LAYER_NAME)
    if layer is None or not layer_visible_to(layer=layer, user=AnonymousUser()):
        raise NotFound(_("The organizations layer is not public."))
    return layer


def organizations_nearest(*, layer: Layer, point: Point, limit: int = 5, kinds: list[str] | None = None) -> QuerySet:
    """The `limit` organizations of `layer` nearest to a WGS 84 point, by geodesic distance in metres
    (`distance_m`; 0 inside a polygon), nearest first, with their GeoJSON (`geojson_text`).

    The distance is on the spheroid: the geometry column is cast to geography, so the ranking cannot walk the
    planar GIST index. Organizations number in the hundreds per county (the demo: ~150), so ranking every
    candidate costs less than the index walk with a geodesic bound that the stations' search needs.
    """
    distance = Func(
        Cast(layer.geometry_field, _GEOGRAPHY),
        Value(point, output_field=_GEOGRAPHY),
        function="ST_Distance",  # geography: spheroid distance, the nearest point of a polygon's boundary
        output_field=FloatField(),
    )
    rows = layer_rows(layer=layer, user=AnonymousUser()).filter(**{f"{layer.geometry_field}__isnull": False})
    if kinds:
        rows = rows.filter(kind__in=kinds)
    return (
        rows.defer(layer.geometry_field)
        .annotate(distance_m=distance, geojson_text=AsGeoJSON(F(layer.geometry_field), precision=6))
        .filter(distance_m__isnull=False)  # an empty geometry has no distance
        .order_by("distance_m", "pk")[:limit]
    )


class OrganizationNearestApi(APIView):
    """The nearest organizations (party committees and branches, associations…) to a point, by true distance."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []  # public: the answer is the same for everyone

    class InputSerializer(PointQuerySerializer):
        limit = serializers.IntegerField(min_value=1, max_value=50, default=5)
        kind = serializers.ListField(
            child=serializers.ChoiceField(choices=Organization.Kind.choices),
            required=False,
            help_text=_("repeat or comma-separate; any of them"),
        )

    @extend_schema(parameters=[InputSerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        params = request.query_params.copy()
        if "kind" in params:
            params.setlist("kind", [k for v in params.getlist("kind") for k in v.split(",") if k])
        data = self.InputSerializer(data=params)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        layer = _public_layer()
        rows = organizations_nearest(layer=layer, point=v["point"], limit=v["limit"], kinds=v.get("kind"))
        attributes = [a for a in layer.attributes if a.name in PUBLIC_FIELDS and not a.personal]
        features = [
            {
                "type": "Feature",
                "id": row.pk,
                "geometry": json.loads(row.geojson_text),
                "properties": {
                    "id": row.pk,
                    **{a.name: a.read(row) for a in attributes},
                    "distance_m": round(row.distance_m, 1),
                },
            }
            for row in rows
        ]
        return Response({"type": "FeatureCollection", "features": features})
