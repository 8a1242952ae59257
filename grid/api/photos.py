"""Incident photos leave the server only here: there is no public media URL, and every read is scoped."""

from django.http import FileResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

from grid.access import incidents_for
from grid.api.common import JsonErrorsNegotiation
from grid.models import IncidentPhoto


class IncidentPhotoApi(APIView):
    """GET: a photo of an incident in the caller's scope, without metadata; `?size=thumb` for its thumbnail."""

    content_negotiation_class = JsonErrorsNegotiation  # an <img> asks for image/*

    class InputSerializer(serializers.Serializer):
        size = serializers.ChoiceField(choices=["full", "thumb"], required=False, default="full")

    @extend_schema(
        parameters=[OpenApiParameter("size", OpenApiTypes.STR, enum=["full", "thumb"], default="full")],
        responses={
            (200, "image/*"): OpenApiResponse(OpenApiTypes.BINARY, description=_("JPEG, PNG or WebP bytes")),
            400: OpenApiResponse(description=_("bad size")),
            404: OpenApiResponse(description=_("no such photo in your scope")),
        },
    )
    def get(self, request, pk: int, photo_id: int):
        # A plain dict, not the QueryDict: DRF reads a blank form value as "absent", and `?size=` is an error.
        params = self.InputSerializer(data={key: request.query_params[key] for key in request.query_params})
        params.is_valid(raise_exception=True)
        # One query: the photo, if its incident is one the caller may see.
        photo = (
            IncidentPhoto.objects.filter(pk=photo_id, incident_id=pk, incident__in=incidents_for(request.user))
            .only("pk", "image", "thumbnail", "content_type")
            .first()
        )
        if photo is None:
            raise NotFound(_("No such photo."))
        field = photo.thumbnail if params.validated_data["size"] == "thumb" else photo.image
        try:
            stream = field.open("rb")
        except (FileNotFoundError, ValueError) as error:
            raise NotFound(_("No such photo.")) from error
        response = FileResponse(stream, content_type=photo.content_type)
        # The bytes behind an id never change, but access can be taken away: private, and not for long.
        response["Cache-Control"] = "private, max-age=3600"
        response["X-Content-Type-Options"] = "nosniff"
        return response
