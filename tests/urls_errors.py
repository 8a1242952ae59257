"""The project's URLconf plus views that fail on purpose, for the error-handling tests."""

from django.db import connection
from django.http import HttpResponse
from django.urls import path
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from grid.models import Incident
from project.urls import handler400, handler403, handler404, handler500
from project.urls import urlpatterns as project_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def boom(request):
    raise RuntimeError(request.GET.get("message", "boom"))


class BoomApi(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError(request.query_params.get("message", "boom"))


class ServiceUnavailable(APIException):
    status_code = 503


class ServiceDownApi(APIView):
    """A 5xx that DRF answers itself, not an unhandled exception."""

    permission_classes = [AllowAny]

    def get(self, request):
        raise ServiceUnavailable(request.query_params.get("message", "down"))


class UnvalidatedNulApi(APIView):
    """A view that forgot to validate its input and hands a NUL to PostgreSQL."""

    permission_classes = [AllowAny]

    def post(self, request):
        # the parsers refuse NUL in a body, so this view builds its bad values itself, as a buggy view might
        if request.query_params.get("case") == "overflow":
            with connection.cursor() as cursor:
                cursor.execute("SELECT %s::integer", [2**40])
        return Response({"found": Incident.objects.filter(note="a\x00b").exists()})


def fine(request):
    return HttpResponse("ok")


urlpatterns = [
    path("api/v1/test/boom/", boom),
    path("api/v1/test/boom-drf/", BoomApi.as_view()),
    path("api/v1/test/down/", ServiceDownApi.as_view()),
    path("api/v1/test/nul/", UnvalidatedNulApi.as_view()),
    path("test/boom/", boom),
    path("test/fine/", fine),
    *project_urlpatterns,
]
