"""Thin views over vision's selectors: cameras as GeoJSON (scoped to the caller's grids) and their time series."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import pagination
from rest_framework.response import Response
from rest_framework.views import APIView

from grid.api.pagination import FeaturePagination
from vision.api.serializers import (
    OBSERVATIONS_MAX_PAGE_SIZE,
    OBSERVATIONS_PAGE_SIZE,
    CameraDetailSerializer,
    CameraFeatureSerializer,
    CameraListQuerySerializer,
    ObservationQuerySerializer,
    ObservationSerializer,
)
from vision.models import Rule
from vision.selectors import camera_observations, cameras_for


class ObservationPagination(pagination.PageNumberPagination):
    page_size = OBSERVATIONS_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = OBSERVATIONS_MAX_PAGE_SIZE


class CameraListApi(APIView):
    """The cameras in the caller's grids as a GeoJSON FeatureCollection, with their latest counts and health;
    `in_bbox=min_lon,min_lat,max_lon,max_lat` keeps those within a box. Signed-in accounts only."""

    pagination_class = FeaturePagination  # paged by hand in get(); named so that the schema documents the page

    @extend_schema(parameters=[CameraListQuerySerializer], responses={200: CameraFeatureSerializer(many=True)})
    def get(self, request):
        data = CameraListQuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        cameras = cameras_for(request.user).select_related("grid").order_by("code", "pk")
        if "in_bbox" in data.validated_data:
            cameras = cameras.filter(location__intersects=data.validated_data["in_bbox"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(cameras, request, view=self)
        return paginator.get_paginated_response(CameraFeatureSerializer(page, many=True).data)


class CameraDetailApi(APIView):
    """One camera in the caller's grids, as a GeoJSON Feature with its line, zone, schedule and rules."""

    @extend_schema(responses={200: CameraDetailSerializer})
    def get(self, request, pk: int):
        rules = Prefetch("rules", queryset=Rule.objects.select_related("category").order_by("pk"))
        camera = get_object_or_404(cameras_for(request.user).select_related("grid").prefetch_related(rules), pk=pk)
        return Response(CameraDetailSerializer(camera).data)


class CameraObservationsApi(APIView):
    """A camera's observations from `from` to `to` (both included), oldest first, paged (1,000 a page by default):
    counts per class, in the zone, and line crossings. By default the last 24 hours; at most 31 days a request."""

    @extend_schema(parameters=[ObservationQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        camera = get_object_or_404(cameras_for(request.user), pk=pk)
        data = ObservationQuerySerializer(data=request.query_params, context={"now": timezone.now()})
        data.is_valid(raise_exception=True)
        since, until = data.validated_data["since"], data.validated_data["until"]
        paginator = ObservationPagination()
        page = paginator.paginate_queryset(camera_observations(camera=camera, since=since, until=until), request, self)
        response = paginator.get_paginated_response(ObservationSerializer(page, many=True).data)
        response.data = {"camera": camera.pk, "from": since, "to": until, **response.data}
        return response
