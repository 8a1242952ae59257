"""Vector tiles of the registry's layers: `GET /tiles/<layer>/<z>/<x>/<y>.mvt`.

The view resolves the layer and the tile and answers bytes; which rows and attributes a tile holds, and the cache,
are layers.tiles'. An empty tile is 204 No Content; a layer the caller may not open is 404, as if it did not exist.
"""

from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

from grid.api.common import JsonErrorsNegotiation
from layers.registry import LAYERS
from layers.selectors import layer_visible_to
from layers.tiles import BROWSER_MAX_AGE, MAX_ZOOM, tile_for

MVT = "application/vnd.mapbox-vector-tile"


class TileAddressSerializer(serializers.Serializer):
    z = serializers.IntegerField(min_value=0, max_value=MAX_ZOOM, label=_("zoom"))
    x = serializers.IntegerField(min_value=0, label=_("column"))
    y = serializers.IntegerField(min_value=0, label=_("row"))

    def validate(self, data):
        last = 2 ** data["z"] - 1
        errors = {
            axis: [
                _("At zoom %(z)s a tile's %(axis)s runs from 0 to %(last)s.")
                % {"z": data["z"], "axis": axis, "last": last}
            ]
            for axis in ("x", "y")
            if data[axis] > last
        }
        if errors:
            raise serializers.ValidationError(errors)
        return data


class TileApi(APIView):
    """One Mapbox vector tile of a layer, with the rows the caller may see and their non-personal attributes."""

    permission_classes = [permissions.AllowAny]  # per layer, below
    content_negotiation_class = JsonErrorsNegotiation  # a tile client asks for the MVT type

    @extend_schema(
        responses={
            (200, MVT): OpenApiResponse(OpenApiTypes.BINARY, description=_("a Mapbox vector tile")),
            204: OpenApiResponse(description=_("no feature in this tile")),
            304: OpenApiResponse(description=_("not modified since the tile with this ETag")),
        }
    )
    def get(self, request, layer: str, z: str, x: str, y: str):
        found = LAYERS.get(layer)
        if found is None or not layer_visible_to(layer=found, user=request.user):
            raise NotFound(_("There is no layer named “%(name)s”.") % {"name": layer})
        address = TileAddressSerializer(data={"z": z, "x": x, "y": y})
        address.is_valid(raise_exception=True)
        tile = tile_for(layer=found, user=request.user, **address.validated_data)
        if tile.etag is not None and tile.etag in _etags(request.headers.get("If-None-Match", "")):
            response = HttpResponse(status=304)
        elif tile.body:
            response = HttpResponse(tile.body, content_type=MVT)
        else:
            response = HttpResponse(status=204)
        if tile.cached:
            response["Cache-Control"] = f"public, max-age={BROWSER_MAX_AGE}"
            response["ETag"] = tile.etag
        else:
            # rows chosen by the caller's scope and clearance: kept by no cache on the way, nor on disk
            response["Cache-Control"] = "private, no-store"
            patch_vary_headers(response, ("Authorization", "Cookie"))
        return response


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
