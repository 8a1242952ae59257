"""The one GeoJSON page of every paged layer, map and camera list."""

from rest_framework_gis.pagination import GeoJsonPagination


class FeaturePagination(GeoJsonPagination):
    """GeoJSON pages (a FeatureCollection with `count`, `next`, `previous`), documented as they are sent.

    rest_framework_gis documents the page with the list's FeatureCollection in place of its features and still
    requires DRF's `results`, so every paged layer would break its own schema.
    """

    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000

    def get_paginated_response_schema(self, schema: dict) -> dict:
        ref = schema.get("$ref", "")
        # drf-spectacular names a GeoJSON list `<Feature>List` and its features `<Feature>`.
        feature = {"$ref": ref.removesuffix("List")} if ref.endswith("List") else {"type": "object"}
        return {
            "type": "object",
            "required": ["type", "count", "features"],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "count": {"type": "integer", "example": 123},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "features": {"type": "array", "items": feature},
            },
        }
