"""Deadlines and warning levels with frozen time; the minute sweep notifies, escalates, and is idempotent."""

import datetime as dt
import uuid

import pytest
import time_machine

from grid.models import Category, Incident, IncidentEvent, Notification, Role
from grid.services import TransitionInput, incident_report, incident_route, incident_transition, incidents_sweep
from tests.factories import UserFactory

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
URL = "/api/v1/incidents/"


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


@pytest.fixture
def litter(db):
    # hand-picked minutes so every threshold is a round, hand-checkable moment
    return Category.objects.update_or_create(
        code="litter",
        defaults={"name": "垃圾堆放", "accept_minutes": 40, "resolve_minutes": 400, "escalate_after_minutes": 60},
    )[0]


@pytest.fixture
def reported(people, territory, litter):
    with time_machine.travel(T0, tick=False):
        incident, _ = incident_report(
            reporter=people["resident"],
            location=territory.grids["A-S"].boundary.centroid,
            category=litter,
            client_uuid=uuid.uuid4(),
        )
        incident_route(incident_id=incident.pk)
    return incident


def levels(api_as, user, at) -> dict[str, list[int]]:
    """What the list endpoint says at `at`, per ?warning= filter."""
    client = api_as(user)
    with time_machine.travel(at, tick=False):
        return {
            level: [f["id"] for f in client.get(URL, {"warning": level}).json()["features"]]
            for level in ("green", "yellow", "red")
        }


def test_levels_follow_the_deadline_green_yellow_at_75_percent_red_when_overdue(api_as, people, reported):
    # accept_minutes 40: yellow from minute 30, red after minute 40
    dispatcher = people["dispatcher_a"]
    assert levels(api_as, dispatcher, T0 + minutes(29.9)) == {"green": [reported.pk], "yellow": [], "red": []}
    assert levels(api_as, dispatcher, T0 + minutes(30)) == {"green": [], "yellow": [reported.pk], "red": []}
    assert levels(api_as, dispatcher, T0 + minutes(40)) == {"green": [], "yellow": [reported.pk], "red": []}
    assert levels(api_as, dispatcher, T0 + minutes(40.01)) == {"green": [], "yellow": [], "red": [reported.pk]}
    with time_machine.travel(T0 + minutes(41), tick=False):
        props = api_as(dispatcher).get(f"{URL}{reported.pk}/").json()["properties"]
    assert props["warning"] == "red"
    assert dt.datetime.fromisoformat(props["deadline"]) == T0 + minutes(40)


def test_a_bad_warning_filter_is_a_400(api_as, people, reported):
    response = api_as(people["dispatcher_a"]).get(URL, {"warning": "purple"})
    assert response.status_code == 400 and "warning" in response.json()


def test_the_sweep_notifies_once_per_rise_and_a_second_run_changes_nothing(people, reported):
    dispatcher = people["dispatcher_a"]
    assert incidents_sweep(now=T0 + minutes(10)) == {"levels_changed": 0, "escalated": 0}
    assert incidents_sweep(now=T0 + minutes(31)) == {"levels_changed": 1, "escalated": 0}
    reported.refresh_from_db()
    assert (reported.warning, reported.warning_since) == ("yellow", T0 + minutes(30))
    assert incidents_sweep(now=T0 + minutes(31)) == {"levels_changed": 0, "escalated": 0}
    assert incidents_sweep(now=T0 + minutes(45)) == {"levels_changed": 1, "escalated": 0}
    assert incidents_sweep(now=T0 + minutes(45)) == {"levels_changed": 0, "escalated": 0}
    kinds = list(
        Notification.objects.filter(recipient=dispatcher, incident=reported)
        .order_by("created", "id")
        .values_list("kind", flat=True)
    )
    assert kinds == ["new", "warning_yellow", "warning_red"]
    warns = IncidentEvent.objects.filter(incident=reported, action="warn").values_list("data", flat=True)
    assert [d["level"] for d in warns] == ["yellow", "red"]


def test_red_for_longer_than_the_category_allows_escalates_one_level_at_a_time(people, territory, reported):
    street_dispatcher = UserFactory(username="disp-street-a", role=Role.DISPATCHER, areas=[territory.street_a])
    # red from minute 40 (the deadline); escalate_after 60 → street at minute 100, county at 160, then no higher
    incidents_sweep(now=T0 + minutes(99))
    reported.refresh_from_db()
    assert (reported.handling_area, reported.escalations) == (territory.community_a, 0)
    assert incidents_sweep(now=T0 + minutes(100)) == {"levels_changed": 0, "escalated": 1}
    assert incidents_sweep(now=T0 + minutes(100)) == {"levels_changed": 0, "escalated": 0}
    reported.refresh_from_db()
    assert (reported.handling_area, reported.escalations) == (territory.street_a, 1)
    assert Notification.objects.filter(recipient=street_dispatcher, incident=reported, kind="escalated").count() == 1
    assert incidents_sweep(now=T0 + minutes(159)) == {"levels_changed": 0, "escalated": 0}
    assert incidents_sweep(now=T0 + minutes(160)) == {"levels_changed": 0, "escalated": 1}
    assert incidents_sweep(now=T0 + minutes(1000)) == {"levels_changed": 0, "escalated": 0}
    reported.refresh_from_db()
    assert (reported.handling_area, reported.escalations) == (territory.county, 2)
    assert Notification.objects.filter(recipient=people["admin"], incident=reported, kind="escalated").count() == 1
    steps = [
        e["to"]
        for e in IncidentEvent.objects.filter(incident=reported, action="escalate").values_list("data", flat=True)
    ]
    assert steps == [territory.street_a.code, territory.county.code]
    # the escalated level may act on it
    incident_transition(incident_id=reported.pk, actor=street_dispatcher, move=TransitionInput(action="accept"))


def test_acceptance_starts_a_new_green_phase_and_closing_ends_the_warnings(people, reported):
    incidents_sweep(now=T0 + minutes(45))
    with time_machine.travel(T0 + minutes(50), tick=False):
        incident = incident_transition(
            incident_id=reported.pk, actor=people["dispatcher_a"], move=TransitionInput(action="accept")
        )
    assert (incident.warning, incident.deadline) == ("green", T0 + minutes(50 + 400))
    assert incidents_sweep(now=T0 + minutes(60)) == {"levels_changed": 0, "escalated": 0}
    assert incidents_sweep(now=T0 + minutes(50 + 300)) == {"levels_changed": 1, "escalated": 0}
    with time_machine.travel(T0 + minutes(400), tick=False):
        incident = incident_transition(
            incident_id=reported.pk,
            actor=people["dispatcher_a"],
            move=TransitionInput(action="reject", note="非本部门事项"),
        )
    assert incident.deadline is None and incident.warning == "green"
    assert incidents_sweep(now=T0 + minutes(10_000)) == {"levels_changed": 0, "escalated": 0}
    assert not Incident.objects.get(pk=reported.pk).is_open


def test_a_worker_assigned_to_an_overdue_case_is_told_too(people, reported):
    with time_machine.travel(T0 + minutes(1), tick=False):
        for move in (TransitionInput(action="accept"), TransitionInput(action="dispatch", assignee=people["worker"])):
            incident_transition(incident_id=reported.pk, actor=people["dispatcher_a"], move=move)
    incidents_sweep(now=T0 + minutes(1 + 401))
    assert Notification.objects.filter(recipient=people["worker"], incident=reported, kind="warning_red").exists()
    assert Notification.objects.filter(recipient=people["dispatcher_a"], incident=reported, kind="warning_red").exists()
