"""Writes of grid: the territory and stations (territory.py), incidents' intake (incidents.py) and workflow
(transitions.py), the deadline sweep (deadlines.py), notifications (notifications.py), photos (photos.py) and
workers' positions (workforce.py)."""

from grid.services.deadlines import incidents_sweep
from grid.services.incidents import ClientUUIDConflict, incident_report, incident_route, incidents_route_unrouted
from grid.services.notifications import notify
from grid.services.territory import (
    grid_save,
    grids_delete,
    incidents_place,
    places_refresh,
    station_save,
    stations_place,
)
from grid.services.transitions import (
    TransitionDenied,
    TransitionInput,
    TransitionRefused,
    incident_feedback,
    incident_transition,
)

__all__ = [
    "ClientUUIDConflict",
    "TransitionDenied",
    "TransitionInput",
    "TransitionRefused",
    "grid_save",
    "grids_delete",
    "incident_feedback",
    "incident_report",
    "incident_route",
    "incident_transition",
    "incidents_place",
    "incidents_route_unrouted",
    "incidents_sweep",
    "notify",
    "places_refresh",
    "station_save",
    "stations_place",
]
