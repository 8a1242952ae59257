"""grid's models: the territory, stations, incidents with their workflow, and the workforce."""

from grid.models.incidents import (
    Category,
    HandlingUnit,
    Incident,
    IncidentEvent,
    IncidentPhoto,
    Notification,
    RoutingRule,
    WebhookDelivery,
)
from grid.models.stations import Station
from grid.models.territory import AdminArea, Grid, Role, TimeStampedModel, User
from grid.models.workforce import WorkerStatus

__all__ = [
    "AdminArea",
    "Category",
    "Grid",
    "HandlingUnit",
    "Incident",
    "IncidentEvent",
    "IncidentPhoto",
    "Notification",
    "Role",
    "RoutingRule",
    "Station",
    "TimeStampedModel",
    "User",
    "WebhookDelivery",
    "WorkerStatus",
]
