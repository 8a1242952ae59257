"""Service hours for grid's service requests: the engagement sweep (grid never calls engagement) records the hours of
a request a volunteer resolved, with volunteer_hour points, and report_resolved points for the reporter of a resolved
report; a second run changes nothing."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.utils import timezone

from engagement.models import PointsEntry, ServiceHours
from engagement.services.volunteering import service_requests_sweep
from engagement.tasks import service_requests_sweep_task
from grid.models import Category, Incident, Role
from grid.services import TransitionInput, incident_report, incident_transition, incidents_place
from layers.models import Person
from tests.engagement import test_community as community_fixtures
from tests.engagement.test_community import IN_A
from tests.factories import UserFactory

# the fixtures of the community tests, shared
members = community_fixtures.members
rules = community_fixtures.rules


def _request_resolved_by(volunteer, people, *, kind=Incident.Kind.REQUEST, claim=True) -> Incident:
    category = Category.objects.get_or_create(code="litter", defaults={"name": "垃圾"})[0]
    incident, _ = incident_report(
        reporter=people["resident"],
        location=Point(*IN_A, srid=4326),
        category=category,
        client_uuid=uuid.uuid4(),
        kind=kind,
    )
    incidents_place()
    dispatcher = people["dispatcher_a"]
    incident_transition(incident_id=incident.pk, actor=dispatcher, move=TransitionInput(action="accept"))
    if claim:
        incident_transition(incident_id=incident.pk, actor=dispatcher, move=TransitionInput(action="open"))
        incident_transition(incident_id=incident.pk, actor=volunteer, move=TransitionInput(action="claim"))
    else:
        incident_transition(
            incident_id=incident.pk, actor=dispatcher, move=TransitionInput(action="dispatch", assignee=volunteer)
        )
    incident_transition(incident_id=incident.pk, actor=volunteer, move=TransitionInput(action="resolve"))
    return Incident.objects.get(pk=incident.pk)


@pytest.fixture
def volunteer(members, territory):
    account = members.account
    account.volunteer = True
    account.save()
    account.areas.add(territory.community_a)
    return account


def test_a_resolved_request_earns_its_volunteer_hours_and_points_once(volunteer, members, people):
    incident = _request_resolved_by(volunteer, people)
    assert settings.ENGAGEMENT_REQUEST_DEFAULT_HOURS == 1.0
    assert service_requests_sweep() == {"service_hours": 1, "reports_awarded": 0}
    hours = ServiceHours.objects.get(incident=incident)
    assert (hours.person, hours.hours) == (members.member, Decimal("1.0"))
    assert hours.served_on == timezone.localdate(incident.resolved_at)
    entry = PointsEntry.objects.get(person=members.member)
    assert (entry.reason, entry.amount, entry.created) == ("volunteer_hour", 5, incident.resolved_at)
    assert entry.idempotency_key == f"volunteer_hour:engagement.servicehours:{hours.pk}"
    # a second sweep: nothing new
    assert service_requests_sweep() == {"service_hours": 0, "reports_awarded": 0}
    assert ServiceHours.objects.count() == 1 and PointsEntry.objects.count() == 1


def test_the_default_hours_come_from_the_setting(volunteer, members, people, settings):
    settings.ENGAGEMENT_REQUEST_DEFAULT_HOURS = 2.5
    _request_resolved_by(volunteer, people)
    service_requests_sweep()
    assert ServiceHours.objects.get().hours == Decimal("2.5")
    assert PointsEntry.objects.get().amount == 15  # 2.5 h counts as 3 whole hours × 5


def test_a_request_dispatched_to_a_volunteer_counts_too_and_a_grid_workers_does_not(volunteer, members, people):
    dispatched = _request_resolved_by(volunteer, people, claim=False)
    by_worker = _request_resolved_by(people["worker"], people, claim=False)  # a grid worker has no person
    service_requests_sweep()
    assert list(ServiceHours.objects.values_list("incident_id", flat=True)) == [dispatched.pk]
    assert not ServiceHours.objects.filter(incident=by_worker).exists()


def test_an_assignee_without_a_person_or_a_request_not_yet_resolved_earns_nothing(members, people, territory):
    lone = UserFactory(username="lone-volunteer", role=Role.RESIDENT, volunteer=True, areas=[territory.community_a])
    _request_resolved_by(lone, people)
    assert service_requests_sweep()["service_hours"] == 0
    assert ServiceHours.objects.count() == 0


def test_the_reporter_of_a_resolved_report_earns_report_resolved_once(members, people, territory):
    reporter = people["resident"]
    person = Person.objects.create(name="居民", grid=territory.grids["A-S"], account=reporter)
    report = _request_resolved_by(people["worker"], people, kind=Incident.Kind.REPORT, claim=False)
    assert service_requests_sweep()["reports_awarded"] == 1
    entry = PointsEntry.objects.get(person=person)
    assert (entry.reason, entry.amount) == ("report_resolved", 3)
    assert entry.idempotency_key == f"report_resolved:grid.incident:{report.pk}"
    assert service_requests_sweep()["reports_awarded"] == 0
    assert PointsEntry.objects.filter(person=person).count() == 1


def test_the_beat_task_looks_back_a_bounded_window_every_minute(volunteer, members, people, settings):
    old = _request_resolved_by(volunteer, people)
    Incident.objects.filter(pk=old.pk).update(resolved_at=timezone.now() - dt.timedelta(hours=72))
    recent = _request_resolved_by(volunteer, people)
    assert settings.CELERY_BEAT_SCHEDULE["engagement-service-requests"]["schedule"] == 60.0
    assert service_requests_sweep_task() == {"service_hours": 1, "reports_awarded": 0}
    assert list(ServiceHours.objects.values_list("incident_id", flat=True)) == [recent.pk]
    assert service_requests_sweep_task() == {"service_hours": 0, "reports_awarded": 0}
