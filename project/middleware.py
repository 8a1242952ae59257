from django.conf import settings
from django.http import JsonResponse


class RequestSizeLimitMiddleware:
    """Refuse a non-multipart body larger than DATA_UPLOAD_MAX_MEMORY_SIZE before anything reads it.

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
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        if limit is not None and length > limit and not request.content_type.startswith("multipart/"):
            return JsonResponse(
                {"detail": f"The request body is too large ({length} bytes; the limit is {limit})."}, status=400
            )
        return self.get_response(request)
