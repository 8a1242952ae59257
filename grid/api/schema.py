"""The OpenAPI schema is the API's contract: every operation documents the error answers it can give.

drf-spectacular documents only what a view declares, so an API that answers 400, 403 or 429 by design (bad input,
a foreign object, a throttle) would seem to break its own schema. `AutoSchema` adds the error answers that our
handlers give (grid.api.errors), all with one error body, to every operation; a view that declares an error code
itself keeps its own description.
"""

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

ERROR_BODY = {
    "type": "object",
    "description": (
        "An error. `detail` explains a refusal of the whole request; a refused input names its fields instead, "
        "each with a list of messages (`non_field_errors` for the input as a whole)."
    ),
    "properties": {
        "detail": {"type": "string"},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
        "request_id": {"type": "string", "nullable": True, "description": "quote it when reporting a server error"},
    },
    "additionalProperties": {
        "description": "a field's messages: a list of strings, or of such objects for nested fields and list items",
    },
}

# The error body, for a view that documents an error code of its own (e.g. 410): @extend_schema(responses={410:
# OpenApiResponse(ERROR_RESPONSE, description=…)}). Every operation registers the component.
ERROR_RESPONSE = {"$ref": "#/components/schemas/Error"}

ERROR_DESCRIPTIONS = {
    "400": "Bad input: a field-level message for each refused field.",
    "401": "Not signed in, or the token is invalid or expired.",
    "403": "Signed in, but this account may not do this.",
    "404": "No such object, or none that this account may open (the two are not told apart).",
    "409": "The object's state does not allow this now (the message names what is allowed).",
    "413": "The request or one of its files is too large.",
    "414": "The URL is too long: answered by the HTTP server in front of Gridline (gunicorn, nginx), as a page.",
    "415": "The body's media type is not one that this operation reads.",
    "429": "Too many requests: retry after the number of seconds in `Retry-After`.",
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _source_is_nullable(field: serializers.Field) -> bool:
    """Whether a read-only field's dotted source crosses a nullable model field: DRF then sends null (it stops at
    the first None of a nested lookup), although the field itself never says so."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or field.source in (None, "*"):
        return False
    for name in field.source.split("."):
        try:
            model_field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        if getattr(model_field, "null", False):
            return True
        model = model_field.related_model
        if model is None:
            return False
    return False


class AutoSchema(SpectacularAutoSchema):
    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if direction == "response" and isinstance(field, serializers.Field) and field.read_only:
            if _source_is_nullable(field):
                meta["nullable"] = True
        return meta

    def _error_codes(self) -> list[str]:
        """The error answers this operation can give: any request can be malformed (400), carry a bad token (401),
        be refused (403), have too long a URL for the HTTP server in front (414) or be throttled (429); a path that
        names an object, or a list (its page, its area filter), can find nothing (404); writes can conflict with the
        state (409), be too large (413) or come in a media type the operation does not read (415)."""
        codes = ["400", "401", "403", "414"]
        has_path_parameter = "{" in self.path
        if has_path_parameter or self.method == "GET":
            codes.append("404")
        if self.method in WRITE_METHODS:
            codes += ["409", "413", "415"]
        codes.append("429")
        return codes

    def _error_body_ref(self) -> dict:
        component = ResolvedComponent(name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_BODY)
        self.registry.register_on_missing(component)
        return component.ref

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code in responses:
                continue
            body = (
                {"text/html": {"schema": {"type": "string"}}}
                if code == "414"
                else {"application/json": {"schema": self._error_body_ref()}}
            )
            response = {"description": ERROR_DESCRIPTIONS[code], "content": body}
            if code == "429":
                response["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait before retrying"}
                }
            responses[code] = response
        return responses
