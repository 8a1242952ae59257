"""The map_ui pages: each view hands its template the API addresses and display names its script needs."""

from map_ui.views.console import ConsoleView
from map_ui.views.finder import StationFinderView
from map_ui.views.map import MapView
from map_ui.views.phone import PhoneReportView, PhoneServiceWorkerView

__all__ = ["ConsoleView", "MapView", "PhoneReportView", "PhoneServiceWorkerView", "StationFinderView"]
