"""The admin's map widget: Django's OpenLayers widget with a vendored OpenLayers and our own basemap.

Django's OpenLayersWidget loads OpenLayers from cdn.jsdelivr.net and OSMWidget draws OpenStreetMap
tiles; neither may be reached from here. This widget loads the same OpenLayers version from our
static files (grid/static/grid/vendor/ol/) and uses settings.TILE_URL as its basemap, or no basemap
at all when it is empty: the geometry stays editable on a plain background.
"""

from django.conf import settings
from django.contrib.gis.forms import OSMWidget


class GridlineMapWidget(OSMWidget):
    template_name = "grid/widgets/openlayers.html"
    # Somewhere in China until the admin passes the territory's centre (see grid/admin.py).
    default_lon = 104.0
    default_lat = 35.0
    default_zoom = 4

    class Media:
        extend = False  # drop the CDN files of OpenLayersWidget.Media; keep Django's own widget JS/CSS
        css = {"all": ("grid/vendor/ol/ol.css", "gis/css/ol3.css")}
        js = ("grid/vendor/ol/ol.js", "gis/js/OLMapWidget.js")

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        # Read at render time (not import time) so that a changed setting takes effect.
        context["tile_url"] = ol_tile_url(settings.TILE_URL)
        context["tile_attribution"] = settings.TILE_ATTRIBUTION
        return context


def ol_tile_url(url: str) -> str:
    """TILE_URL is written for Leaflet ({s} = subdomain a, b or c); OpenLayers spells that {a-c}."""
    return url.replace("{s}", "{a-c}").replace("{r}", "")
