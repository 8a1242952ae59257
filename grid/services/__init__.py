"""Writes of grid: the territory and stations (territory.py), incidents and their workflow (incidents.py)."""

from grid.services.territory import (
    ClientUUIDConflict,
    grid_save,
    grids_delete,
    incident_report,
    incidents_place,
    places_refresh,
    station_save,
    stations_place,
)

__all__ = [
    "ClientUUIDConflict",
    "grid_save",
    "grids_delete",
    "incident_report",
    "incidents_place",
    "places_refresh",
    "station_save",
    "stations_place",
]
