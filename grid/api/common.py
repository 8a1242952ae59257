"""Helpers that the API views of every app share."""

from rest_framework.negotiation import BaseContentNegotiation


class JsonErrorsNegotiation(BaseContentNegotiation):
    """For views whose success is not JSON (a photo, a vector tile, a frame): whatever the Accept header says
    (image/*, the MVT type), an error is answered by the view's first renderer, JSON, never with a 406. The
    success itself leaves as a plain or file response, which no renderer touches."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
