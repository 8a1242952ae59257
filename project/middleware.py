import re
import uuid

from django.conf import settings
from django.core.handlers.wsgi import get_bytes_from_wsgi
from django.http import HttpResponseBadRequest, JsonResponse

from grid.api.errors import BAD_CONTENT_LENGTH, BODY_TOO_LARGE, is_api_path
from grid.api.parsers import ENCODING_MESSAGE, urlencoded_problem
from project.logs import request_id

# An id a proxy or client sent is kept only when it cannot forge or break a log line.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")


class RequestIdMiddleware:
    """Give each request an id: in the answer's X-Request-ID header and in every log record it causes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


class QueryStringHygieneMiddleware:
    """Refuse a query string with a NUL character or invalid UTF-8 before any view or filter reads it.

    Django would decode bad bytes to replacement characters and pass NUL on, which PostgreSQL refuses
    in text (a 500 from whichever filter used it first).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw = get_bytes_from_wsgi(request.META, "QUERY_STRING", "")
        if raw:
            try:
                found = urlencoded_problem(raw.decode("utf-8"))
            except UnicodeDecodeError:
                found = ("non_field_errors", ENCODING_MESSAGE)
            if found:
                field, message = found
                if is_api_path(request):
                    return JsonResponse({field: [str(message)]}, status=400)
                return HttpResponseBadRequest(f"{field}: {message}", content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class RequestSizeLimitMiddleware:
    """Refuse (413) a non-multipart body larger than DATA_UPLOAD_MAX_MEMORY_SIZE before anything reads it.

    Django enforces that limit only through request.body; DRF's parsers read the stream directly and
    would otherwise load any size into memory. Multipart uploads are limited per file by their views.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": str(BAD_CONTENT_LENGTH)}, status=400)
        if limit is not None and length > limit and not request.content_type.startswith("multipart/"):
            return JsonResponse({"detail": BODY_TOO_LARGE % {"length": length, "limit": limit}}, status=413)
        return self.get_response(request)
