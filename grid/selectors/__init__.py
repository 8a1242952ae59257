"""Reads of grid: the territory and placement, stations, incidents, statistics and dispatch."""

from grid.selectors.dispatch import (
    LOAD_STATUSES,
    incidents_claimable,
    incidents_in_reach,
    worker_candidates,
    workers_assignable,
)
from grid.selectors.incidents import categories_active, incidents_possible_duplicates
from grid.selectors.stations import stations_nearest, stations_nearest_geojson, value_prepared
from grid.selectors.stats import AreaOutOfScope, areas_in_scope, incident_stats
from grid.selectors.territory import GridContaining, Placement, grid_containing, placement_of

__all__ = [
    "LOAD_STATUSES",
    "AreaOutOfScope",
    "GridContaining",
    "Placement",
    "areas_in_scope",
    "categories_active",
    "grid_containing",
    "incident_stats",
    "incidents_claimable",
    "incidents_in_reach",
    "incidents_possible_duplicates",
    "placement_of",
    "stations_nearest",
    "stations_nearest_geojson",
    "value_prepared",
    "worker_candidates",
    "workers_assignable",
]
