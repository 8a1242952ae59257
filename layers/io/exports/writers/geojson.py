"""GeoJSON: GDAL's driver cannot append without rewriting the whole file, so the chunks' columns (numpy arrays, not
rows) are gathered and written once at the end."""

from layers.io.exports.writers.base import GdalWriter


class GeoJSONWriter(GdalWriter):
    suffix = ".geojson"
    driver = "GeoJSON"
    appendable = False
