"""One writer per export format, each behind the interface of `base.ExportWriter`."""

from layers.io.exports.writers.base import ExportWriter
from layers.io.exports.writers.csv import CSVWriter
from layers.io.exports.writers.geojson import GeoJSONWriter
from layers.io.exports.writers.geopackage import GeoPackageWriter
from layers.io.exports.writers.kml import KMLWriter
from layers.io.exports.writers.shapefile import ZippedShapefileWriter
from layers.models import ExportJob

FORMATS: dict[str, type[ExportWriter]] = {
    ExportJob.Format.SHP: ZippedShapefileWriter,
    ExportJob.Format.GPKG: GeoPackageWriter,
    ExportJob.Format.GEOJSON: GeoJSONWriter,
    ExportJob.Format.KML: KMLWriter,
    ExportJob.Format.CSV: CSVWriter,
}

__all__ = ["FORMATS", "ExportWriter"]
