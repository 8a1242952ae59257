"""One incident as every incident endpoint answers it: looked up in the caller's scope, then shown with its photos,
the actions the caller may take and possible duplicates."""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import NotFound

from grid.access import incidents_for
from grid.api.serializers import IncidentFeatureSerializer, IncidentPhotoSerializer, duplicate_of_visible
from grid.models import Incident
from grid.selectors import incidents_possible_duplicates
from grid.workflow import Capacity, actions_allowed, capacities_of

# What IncidentFeatureSerializer reads of an incident's relations, besides its handling unit.
INCIDENT_RELATED = ("category", "grid", "community", "street", "county", "reporter", "assignee", "handling_area")


def incident_in_scope(user, pk: int) -> Incident:
    """The incident if `user` may open it; otherwise NotFound, the same answer as for an id nobody has."""
    incident = (
        duplicate_of_visible(incidents_for(user), user)
        .select_related(*INCIDENT_RELATED, "handling_unit")
        .filter(pk=pk)
        .first()
    )
    if incident is None:
        raise NotFound(_("No incident with this id in your area."))
    return incident


def incident_detail(incident: Incident, request) -> dict:
    """The incident as a GeoJSON feature, with its photos, what the caller may do, and possible duplicates."""
    context = {"request": request, "now": timezone.now()}
    body = IncidentFeatureSerializer(incident, context=context).data
    capacities = capacities_of(request.user, incident, in_scope=True)
    props = body["properties"]
    props["feedback"] = incident.feedback
    props["photos"] = IncidentPhotoSerializer(incident.photos.all(), many=True, context=context).data
    props["allowed_actions"] = actions_allowed(incident, capacities)
    if Capacity.HANDLER in capacities and incident.is_open:
        props["possible_duplicates"] = incidents_possible_duplicates(incident=incident, user=request.user)
    return body
