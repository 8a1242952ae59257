"""Exports of any layer, as the requesting account may see it, to zipped Shapefile, GeoPackage, GeoJSON, KML or CSV.

By step: `job` (request, run, audit, download checks, purge), `columns` (what each layer exports, with masks),
`fetch` (the rows, CHUNK at a time, as columns) and `writers` (one per format).
"""

from layers.io.exports.columns import Column, layer_columns
from layers.io.exports.job import (
    export_download_problem,
    export_expired,
    export_expires,
    export_file_delete,
    export_filename,
    export_filters_parse,
    export_job_for,
    export_request,
    export_run,
    exports_purge,
)
from layers.io.exports.writers import FORMATS
from layers.io.exports.writers.shapefile import shapefile_field_names

__all__ = [
    "FORMATS",
    "Column",
    "export_download_problem",
    "export_expired",
    "export_expires",
    "export_file_delete",
    "export_filename",
    "export_filters_parse",
    "export_job_for",
    "export_request",
    "export_run",
    "exports_purge",
    "layer_columns",
    "shapefile_field_names",
]
