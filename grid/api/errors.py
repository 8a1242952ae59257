"""Every error leaves the API as JSON with a status in the 4xx range when the client caused it.

The handler400/403/404/500 views (wired in project.urls) answer Django's own errors the same way on API
paths, with the request's id, and keep Django's HTML pages elsewhere.
"""

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import JsonResponse
from django.utils.log import log_response
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

API_PATH_PREFIXES = ("/api/", "/open311/", "/tiles/")

logger = logging.getLogger(__name__)


# Answered by project.middleware before a view runs; kept here, with the API's other messages, for the catalogue.
BAD_CONTENT_LENGTH = _("Invalid Content-Length header.")
BODY_TOO_LARGE = _("The request body is too large (%(length)d bytes; the limit is %(limit)d).")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("Conflict.")
    default_code = "conflict"


def is_api_path(request) -> bool:
    return request.path.startswith(API_PATH_PREFIXES)


def _unstorable_value(exc: DataError) -> bool:
    """A value the database refused for its content (a NUL byte, a number out of range), not for a bug of ours
    in SQL: such input should have been refused by validation, and is the client's error all the same."""
    cause = exc.__cause__
    code = getattr(cause, "sqlstate", None) or getattr(getattr(cause, "diag", None), "sqlstate", None)
    return "NUL" in str(exc) or code in {"22001", "22003", "22007", "22008", "22009", "22021", "22P05"}


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, RequestDataTooBig):
        return Response({"detail": str(exc)}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    elif isinstance(exc, SuspiciousOperation):
        return Response({"detail": str(exc) or _("Bad request.")}, status=status.HTTP_400_BAD_REQUEST)
    elif isinstance(exc, DataError) and _unstorable_value(exc):
        # Logged with its traceback: the validation that should have caught the value is missing.
        logger.error("database refused a value from the request", exc_info=exc)
        set_rollback()
        return Response(
            {"detail": _("A value is out of range or holds a character that cannot be stored.")},
            status=status.HTTP_400_BAD_REQUEST,
        )
    response = drf_exception_handler(exc, context)
    request = context.get("request")
    if response is not None and response.status_code >= 500 and request is not None:
        if isinstance(response.data, dict):
            response.data["request_id"] = getattr(request, "request_id", None)
        log_response(
            "%s: %s",
            response.reason_phrase,
            request.path,
            response=response,
            request=getattr(request, "_request", request),
            exception=exc,
        )
    return response


def _json(request, status_code: int, detail) -> JsonResponse:
    return JsonResponse({"detail": str(detail), "request_id": getattr(request, "request_id", None)}, status=status_code)


def bad_request(request, exception):
    if is_api_path(request):
        if isinstance(exception, RequestDataTooBig):
            return _json(request, 413, exception)
        return _json(request, 400, _("Bad request."))
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if is_api_path(request):
        return _json(request, 403, _("You do not have permission to perform this action."))
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if is_api_path(request):
        return _json(request, 404, _("Not found."))
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api_path(request):
        return _json(request, 500, _("Server error. Quote the request id when reporting it."))
    return defaults.server_error(request)
