"""GeoPackage: appended chunk by chunk by GDAL."""

from layers.io.exports.writers.base import GdalWriter


class GeoPackageWriter(GdalWriter):
    suffix = ".gpkg"
    driver = "GPKG"
    appendable = True
