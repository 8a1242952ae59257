"""KML: GDAL's driver cannot append without rewriting the whole file, so the chunks' columns are gathered and
written once at the end."""

from layers.io.exports.writers.base import GdalWriter


class KMLWriter(GdalWriter):
    suffix = ".kml"
    driver = "KML"
    appendable = False

    def dataset_options(self) -> dict:
        # the placemark's label: the feature's (Chinese) name
        return {"NameField": "name"} if "name" in self.field_names else {}
