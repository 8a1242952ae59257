"""The incident workflow through the API, as each role drives it: transitions, 409s, 403s, timeline, feedback."""

import datetime as dt
import threading
import uuid

import pytest
import time_machine
from django.db import connection

from grid.models import Category, Incident, IncidentEvent, Notification, Role
from grid.services import TransitionInput, TransitionRefused, incident_route, incident_transition
from grid.services.transitions import EFFECTS
from grid.workflow import MOVES
from tests.factories import UserFactory

URL = "/api/v1/incidents/"
T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def report(client, **fields):
    body = {"lon": 109.93, "lat": 35.17, "category": "litter", "client_uuid": str(uuid.uuid4()), **fields}
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def act(client, pk, action, **fields):
    return client.post(f"{URL}{pk}/transitions/", {"action": action, **fields}, format="json")


def test_a_report_goes_from_phone_to_closed_case_with_each_role_doing_its_part(api_as, people):
    resident, dispatcher, worker = people["resident"], people["dispatcher_a"], people["worker"]
    phone = api_as(resident)  # its token issued now, so that it has not expired when read outside T0 below
    with time_machine.travel(T0, tick=False):
        feature = report(phone, note="垃圾堆放在路口")
        pk = feature["id"]
        assert incident_route(incident_id=pk) is True  # what the worker does after commit
        assert incident_route(incident_id=pk) is False  # a redelivery changes nothing
    litter = Category.objects.get(code="litter")
    props = feature["properties"]
    assert (props["status"], props["warning"]) == ("reported", "green")
    assert dt.datetime.fromisoformat(props["deadline"]) == T0 + dt.timedelta(minutes=litter.accept_minutes)
    assert Notification.objects.filter(recipient=dispatcher, incident_id=pk, kind="new").count() == 1

    steps = [
        (dispatcher, "accept", {}, "accepted"),
        (dispatcher, "dispatch", {"assignee": worker.username}, "dispatched"),
        (worker, "start", {}, "in_progress"),
        (worker, "resolve", {"note": "已清运"}, "resolved"),
        (dispatcher, "close", {}, "closed"),
    ]
    for minute, (user, action, fields, expected) in enumerate(steps, start=1):
        with time_machine.travel(T0 + dt.timedelta(minutes=minute * 10), tick=False):
            response = act(api_as(user), pk, action, **fields)
        assert response.status_code == 200, (action, response.content)
        assert response.json()["properties"]["status"] == expected
    incident = Incident.objects.get(pk=pk)
    assert incident.assignee == worker
    assert incident.accepted_at == T0 + dt.timedelta(minutes=10)
    assert incident.resolved_at == T0 + dt.timedelta(minutes=40)
    assert incident.closed_at == T0 + dt.timedelta(minutes=50)
    assert incident.deadline is None and incident.version == 6

    timeline = phone.get(f"{URL}{pk}/timeline/").json()
    assert [(e["action"], e["actor"], e["to_status"]) for e in timeline] == [
        ("report", "resident", "reported"),
        ("route", None, ""),
        ("accept", "disp-a", "accepted"),
        ("dispatch", "disp-a", "dispatched"),
        ("start", "worker-as", "in_progress"),
        ("resolve", "worker-as", "resolved"),
        ("close", "disp-a", "closed"),
    ]
    assert timeline[3]["data"] == {"assignee": "worker-as"}
    assert timeline[5]["note"] == "已清运"
    assert Notification.objects.filter(recipient=worker, incident_id=pk, kind="assigned").exists()
    assert Notification.objects.filter(recipient=resident, incident_id=pk, kind="resolved").exists()


def test_every_move_of_the_workflow_has_exactly_one_effect():
    assert list(EFFECTS) == list(MOVES)


def test_accepting_starts_the_resolve_deadline(api_as, people):
    with time_machine.travel(T0, tick=False):
        pk = report(api_as(people["resident"]))["id"]
    with time_machine.travel(T0 + dt.timedelta(minutes=30), tick=False):
        props = act(api_as(people["dispatcher_a"]), pk, "accept").json()["properties"]
    litter = Category.objects.get(code="litter")
    expected = T0 + dt.timedelta(minutes=30 + litter.resolve_minutes)
    assert dt.datetime.fromisoformat(props["deadline"]) == expected


def test_an_illegal_transition_is_a_409_naming_the_allowed_ones(api_as, people):
    pk = report(api_as(people["resident"]))["id"]
    response = act(api_as(people["dispatcher_a"]), pk, "close")
    assert response.status_code == 409
    body = response.json()
    assert body["allowed"] == ["accept", "reject", "merge"]
    assert "accept, reject, merge" in body["detail"]
    assert Incident.objects.get(pk=pk).status == "reported"


def test_an_action_outside_the_callers_capacity_is_a_403(api_as, people):
    pk = report(api_as(people["resident"]))["id"]
    for user in (people["resident"], people["worker"], people["auditor"]):
        assert act(api_as(user), pk, "accept").status_code == 403
    assert IncidentEvent.objects.filter(incident_id=pk).count() == 1


def test_every_workflow_endpoint_denies_the_wrong_area(api_as, people):
    pk = report(api_as(people["resident"]))["id"]  # in community A
    other = api_as(people["dispatcher_street_b"])
    assert act(other, pk, "accept").status_code == 404
    assert other.get(f"{URL}{pk}/").status_code == 404
    assert other.get(f"{URL}{pk}/timeline/").status_code == 404
    assert other.post(f"{URL}{pk}/feedback/", {"rating": 5}, format="json").status_code == 404
    assert Incident.objects.get(pk=pk).status == "reported"


def test_anonymous_callers_are_refused(api, people):
    pk = report(APIClientFor(people["resident"]))["id"]
    assert act(api, pk, "accept").status_code in (401, 403)
    assert api.get(f"{URL}{pk}/timeline/").status_code in (401, 403)


def APIClientFor(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "fly"}, "action"),
        ({}, "action"),
        ({"action": "dispatch"}, "assignee"),
        ({"action": "merge"}, "duplicate_of"),
        ({"action": "merge", "duplicate_of": "x"}, "duplicate_of"),
        ({"action": "accept", "version": 0}, "version"),
        ({"action": "close", "rating": 6}, "rating"),
        ({"action": "accept", "note": "x" * 2001}, "note"),
    ],
)
def test_bad_transition_input_is_a_400_naming_the_field(api_as, people, body, field):
    pk = report(api_as(people["resident"]))["id"]
    response = api_as(people["dispatcher_a"]).post(f"{URL}{pk}/transitions/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_dispatch_to_a_worker_outside_the_dispatchers_area_is_refused(api_as, people, territory):
    pk = report(api_as(people["resident"]))["id"]
    dispatcher = api_as(people["dispatcher_a"])
    act(dispatcher, pk, "accept")
    far_worker = UserFactory(username="worker-bn", role=Role.GRID_WORKER)
    territory.grids["B-N"].workers.add(far_worker)
    response = act(dispatcher, pk, "dispatch", assignee="worker-bn")
    assert response.status_code == 400 and "assignee" in response.json()
    response = act(dispatcher, pk, "dispatch", assignee=people["auditor"].username)
    assert response.status_code == 400 and "assignee" in response.json()
    assert Incident.objects.get(pk=pk).status == "accepted"


def test_a_stale_version_is_refused_with_409(api_as, people):
    pk = report(api_as(people["resident"]))["id"]
    dispatcher = api_as(people["dispatcher_a"])
    assert act(dispatcher, pk, "accept", version=1).status_code == 200
    response = act(dispatcher, pk, "reject", version=1, note="重复")
    assert response.status_code == 409
    assert response.json()["allowed"] == ["reject", "merge", "dispatch"]
    assert "2" in response.json()["detail"]


def test_a_declined_assignment_goes_back_to_the_dispatcher(api_as, people):
    pk = report(api_as(people["resident"]))["id"]
    dispatcher, worker = api_as(people["dispatcher_a"]), api_as(people["worker"])
    act(dispatcher, pk, "accept")
    act(dispatcher, pk, "dispatch", assignee="worker-as")
    assert act(worker, pk, "decline").status_code == 400  # a reason is required
    response = act(worker, pk, "decline", note="不在辖区值班")
    assert response.status_code == 200
    props = response.json()["properties"] if "properties" in response.json() else None
    incident = Incident.objects.get(pk=pk)
    assert (incident.status, incident.assignee) == ("accepted", None)
    assert props is None or props["status"] == "accepted"
    assert Notification.objects.filter(recipient=people["dispatcher_a"], incident=incident, kind="declined").exists()


def test_merge_links_the_duplicate_and_writes_both_timelines(api_as, people):
    resident, dispatcher = api_as(people["resident"]), api_as(people["dispatcher_a"])
    original = report(resident)["id"]
    second = report(resident, lon=109.93005)
    assert [d["id"] for d in second["properties"]["possible_duplicates"]] == [original]
    response = act(dispatcher, second["id"], "merge", duplicate_of=original, note="同一处")
    assert response.status_code == 200
    assert response.json()["properties"]["status"] == "duplicate"
    assert response.json()["properties"]["duplicate_of"] == original
    assert IncidentEvent.objects.filter(incident_id=original, action="merged", data__duplicate=second["id"]).exists()
    third = report(resident)["id"]
    response = act(dispatcher, third, "merge", duplicate_of=second["id"])
    assert response.status_code == 400 and "duplicate_of" in response.json()
    response = act(dispatcher, third, "merge", duplicate_of=third)
    assert response.status_code == 400 and "duplicate_of" in response.json()


def test_the_reporter_rates_a_resolved_case_which_closes_it_and_may_reopen_it_keeping_history(api_as, people):
    resident, dispatcher, worker = api_as(people["resident"]), api_as(people["dispatcher_a"]), api_as(people["worker"])
    pk = report(resident)["id"]
    act(dispatcher, pk, "accept")
    act(dispatcher, pk, "dispatch", assignee="worker-as")
    act(worker, pk, "resolve")
    assert dispatcher.post(f"{URL}{pk}/feedback/", {"rating": 5}, format="json").status_code == 403
    assert resident.post(f"{URL}{pk}/feedback/", {"rating": 0}, format="json").status_code == 400
    response = resident.post(f"{URL}{pk}/feedback/", {"rating": 2, "comment": "没扫干净"}, format="json")
    assert response.status_code == 200
    assert (response.json()["properties"]["status"], response.json()["properties"]["rating"]) == ("closed", 2)
    assert resident.post(f"{URL}{pk}/feedback/", {"rating": 3}, format="json").status_code == 409
    response = act(resident, pk, "reopen", note="又堆起来了")
    assert response.status_code == 200
    incident = Incident.objects.get(pk=pk)
    assert incident.status == "reopened" and incident.rating == 2  # the rating stays in the record
    assert incident.assignee is None  # back to the dispatchers
    reopened_at = IncidentEvent.objects.get(incident=incident, action="reopen").at
    assert incident.deadline == reopened_at + dt.timedelta(minutes=incident.category.accept_minutes)
    actions = list(IncidentEvent.objects.filter(incident_id=pk).values_list("action", flat=True))
    assert actions == ["report", "accept", "dispatch", "resolve", "close", "reopen"]
    assert act(dispatcher, pk, "accept").status_code == 200  # and the loop starts again


# --- concurrency: real threads, each with its own database connection -----------------------------------------------


def _race(calls):
    """Run the calls at once; returns what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as error:  # noqa: BLE001 - the loser's refusal is the result under test
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_dispatching_at_once_one_wins_the_other_gets_a_conflict(people, territory):
    from grid.services import incident_report
    from tests.factories import IncidentFactory

    category = IncidentFactory.build().category
    incident, _ = incident_report(
        reporter=people["resident"],
        location=territory.grids["A-S"].boundary.centroid,
        category=category,
        client_uuid=uuid.uuid4(),
    )
    incident_transition(incident_id=incident.pk, actor=people["dispatcher_a"], move=TransitionInput(action="accept"))
    second_worker = UserFactory(username="worker-an", role=Role.GRID_WORKER)
    territory.grids["A-N"].workers.add(second_worker)
    results = _race(
        [
            lambda: incident_transition(
                incident_id=incident.pk,
                actor=people["dispatcher_a"],
                move=TransitionInput(action="dispatch", assignee=people["worker"]),
            ),
            lambda: incident_transition(
                incident_id=incident.pk,
                actor=people["admin"],
                move=TransitionInput(action="dispatch", assignee=second_worker),
            ),
        ]
    )
    winners = [r for r in results if isinstance(r, Incident)]
    losers = [r for r in results if isinstance(r, TransitionRefused)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert "start" in losers[0].message or "none" in losers[0].message or losers[0].allowed is not None
    incident.refresh_from_db()
    assert incident.assignee == winners[0].assignee and incident.version == 3
    assert IncidentEvent.objects.filter(incident=incident, action="dispatch").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_volunteers_claiming_one_request_first_claim_wins(api_as, people, territory):
    from rest_framework.test import APIClient

    resident = people["resident"]
    Category.objects.get_or_create(code="gig_worker_appeal", defaults={"name": "新就业群体诉求"})
    pk = report(api_as(resident), kind="request", category="gig_worker_appeal", note="帮忙搬运")["id"]
    dispatcher = api_as(people["dispatcher_a"])
    assert act(dispatcher, pk, "accept").status_code == 200
    assert act(dispatcher, pk, "open").status_code == 200
    # volunteers of the request's community: theirs to claim wherever they stand
    volunteers = [
        UserFactory(username=f"vol{i}", role=Role.RESIDENT, volunteer=True, areas=[territory.community_a])
        for i in range(2)
    ]
    clients = []
    for v in volunteers:
        c = APIClient()
        c.force_authenticate(v)
        clients.append(c)
    results = _race([lambda c=c: act(c, pk, "claim").status_code for c in clients])
    assert sorted(results) == [200, 409], results
    incident = Incident.objects.get(pk=pk)
    winner = volunteers[results.index(200)]
    assert (incident.status, incident.assignee, incident.open_to_volunteers) == ("dispatched", winner, False)
    winner_client = clients[results.index(200)]
    assert winner_client.get(f"{URL}{pk}/").status_code == 200  # the claimer now sees it
    assert act(winner_client, pk, "start").status_code == 200
    assert act(winner_client, pk, "resolve", note="已完成").status_code == 200
    loser_client = clients[results.index(409)]
    assert loser_client.get(f"{URL}{pk}/").status_code == 404


def test_a_request_not_opened_to_volunteers_cannot_be_claimed(api_as, people):
    pk = report(api_as(people["resident"]), kind="request")["id"]
    act(api_as(people["dispatcher_a"]), pk, "accept")
    volunteer = UserFactory(username="vol", role=Role.RESIDENT, volunteer=True)
    assert act(api_as(volunteer), pk, "claim").status_code == 404


def test_the_detail_tells_the_caller_what_he_may_do(api_as, people):
    pk = report(api_as(people["resident"]))["id"]
    assert api_as(people["dispatcher_a"]).get(f"{URL}{pk}/").json()["properties"]["allowed_actions"] == [
        "accept",
        "reject",
        "merge",
    ]
    assert api_as(people["resident"]).get(f"{URL}{pk}/").json()["properties"]["allowed_actions"] == []


def test_polling_with_modified_since_returns_what_changed_and_my_reports_filter_by_reporter(api_as, people):
    resident, dispatcher = api_as(people["resident"]), api_as(people["dispatcher_a"])
    with time_machine.travel(T0, tick=False):
        old = report(resident)["id"]
        report(api_as(people["worker"]))
    with time_machine.travel(T0 + dt.timedelta(minutes=5), tick=False):
        act(dispatcher, old, "accept")
    since = (T0 + dt.timedelta(minutes=1)).isoformat()
    changed = dispatcher.get(URL, {"modified_since": since}).json()["features"]
    assert [f["id"] for f in changed] == [old]
    assert dt.datetime.fromisoformat(changed[0]["properties"]["modified"]) == T0 + dt.timedelta(minutes=5)
    mine = resident.get(URL, {"reporter": "me"}).json()["features"]
    assert [f["id"] for f in mine] == [old]
    assert dispatcher.get(URL, {"modified_since": "yesterday"}).status_code == 400


# --- writes take ids only within the caller's scope ------------------------------------------------------------------

# In community B (street B): outside dispatcher A's scope, in the same county.
IN_B = {"lon": 109.97, "lat": 35.17}


@pytest.fixture
def hooked(settings):
    settings.WEBHOOK_URLS = ["https://hooks.example.org/gridline"]
    settings.WEBHOOK_SECRET = "s3cret-for-tests"


def unknown_incident_id() -> int:
    return Incident.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000


def test_merging_into_a_foreign_incident_answers_as_for_a_missing_one_and_writes_nothing(api_as, people, hooked):
    from grid.models import WebhookDelivery

    dispatcher = api_as(people["dispatcher_a"])
    own = report(api_as(people["resident"]))["id"]
    foreign = report(api_as(UserFactory(role=Role.RESIDENT)), **IN_B)["id"]
    assert dispatcher.get(f"{URL}{foreign}/").status_code == 404  # he cannot open it
    events, deliveries = IncidentEvent.objects.count(), WebhookDelivery.objects.count()

    into_foreign = act(dispatcher, own, "merge", duplicate_of=foreign, note="同一处")
    into_nothing = act(dispatcher, own, "merge", duplicate_of=unknown_incident_id(), note="同一处")

    assert into_foreign.status_code == into_nothing.status_code == 400
    assert into_foreign.json() == into_nothing.json() and "duplicate_of" in into_foreign.json()
    assert (IncidentEvent.objects.count(), WebhookDelivery.objects.count()) == (events, deliveries)
    assert not IncidentEvent.objects.filter(incident_id=foreign, action="merged").exists()
    assert Incident.objects.get(pk=own).status == "reported" and Incident.objects.get(pk=own).duplicate_of is None
    # the county administrator, whose scope holds both, may merge them
    assert act(api_as(people["admin"]), own, "merge", duplicate_of=foreign).status_code == 200
    assert IncidentEvent.objects.filter(incident_id=foreign, action="merged", data__duplicate=own).exists()


def test_dispatching_to_a_foreign_or_unknown_username_gets_one_answer_and_writes_nothing(
    api_as, people, territory, hooked
):
    from grid.models import WebhookDelivery

    dispatcher = api_as(people["dispatcher_a"])
    pk = report(api_as(people["resident"]))["id"]
    assert act(dispatcher, pk, "accept").status_code == 200
    territory.grids["B-N"].workers.add(UserFactory(username="worker-bn", role=Role.GRID_WORKER))
    far_volunteer = UserFactory(username="far-volunteer", role=Role.RESIDENT, volunteer=True)
    events, deliveries = IncidentEvent.objects.count(), WebhookDelivery.objects.count()

    answers = [
        act(dispatcher, pk, "dispatch", assignee=name) for name in ("worker-bn", far_volunteer.username, "nobody")
    ]

    assert {a.status_code for a in answers} == {400}
    assert answers[0].json() == answers[1].json() == answers[2].json() and "assignee" in answers[0].json()
    assert (IncidentEvent.objects.count(), WebhookDelivery.objects.count()) == (events, deliveries)
    assert Incident.objects.get(pk=pk).status == "accepted"
    # a volunteer of the incident's community may be sent, wherever he is
    UserFactory(username="near-volunteer", role=Role.RESIDENT, volunteer=True, areas=[territory.community_a])
    assert act(dispatcher, pk, "dispatch", assignee="near-volunteer").status_code == 200
    assert Incident.objects.get(pk=pk).assignee.username == "near-volunteer"


def test_possible_duplicates_list_only_incidents_the_caller_may_open(api_as, people):
    neighbour = UserFactory(role=Role.RESIDENT)
    theirs = report(api_as(neighbour), note="我家门口的秘密")["id"]
    # another resident reports at the same place: told nothing of the neighbour's report
    mine = api_as(people["resident"]).post(
        URL,
        {"lon": 109.93, "lat": 35.17, "category": "litter", "client_uuid": str(uuid.uuid4())},
        format="json",
    )
    assert mine.status_code == 201
    assert mine.json()["properties"]["possible_duplicates"] == []
    assert "我家门口的秘密" not in mine.content.decode() and f'"id":{theirs}' not in mine.content.decode()
    # his own earlier report nearby is his to see
    again = report(api_as(people["resident"]), lon=109.93002)
    assert [d["id"] for d in again["properties"]["possible_duplicates"]] == [mine.json()["id"]]
    # the dispatcher of the place sees both in the detail; the dispatcher of street B, who reports there, neither
    detail = api_as(people["dispatcher_a"]).get(f"{URL}{again['id']}/").json()
    assert {d["id"] for d in detail["properties"]["possible_duplicates"]} == {mine.json()["id"], theirs}
    outsider = report(api_as(people["dispatcher_street_b"]))
    assert outsider["properties"]["possible_duplicates"] == []


@pytest.mark.parametrize("field", ["assignee", "note", "comment"])
def test_a_nul_character_in_a_transition_field_is_a_400(api_as, people, field):
    pk = report(api_as(people["resident"]))["id"]
    dispatcher = api_as(people["dispatcher_a"])
    act(dispatcher, pk, "accept")
    response = act(dispatcher, pk, "dispatch", **{"assignee": "worker-as", field: "worker\x00-as"})
    assert response.status_code == 400 and field in response.json()
    assert Incident.objects.get(pk=pk).status == "accepted"


def test_a_merged_report_does_not_name_a_neighbours_original_to_its_reporter(api_as, people):
    neighbour = UserFactory(role=Role.RESIDENT)
    original = report(api_as(neighbour))["id"]
    resident = api_as(people["resident"])
    duplicate = report(resident)["id"]
    dispatcher = api_as(people["dispatcher_a"])
    assert act(dispatcher, duplicate, "merge", duplicate_of=original, note="同一处").status_code == 200
    # the dispatcher sees the link everywhere
    assert dispatcher.get(f"{URL}{duplicate}/").json()["properties"]["duplicate_of"] == original
    merge = next(e for e in dispatcher.get(f"{URL}{duplicate}/timeline/").json() if e["action"] == "merge")
    assert merge["data"] == {"duplicate_of": original}
    # the reporter learns his report was merged, not into which report of somebody else
    detail = resident.get(f"{URL}{duplicate}/").json()["properties"]
    assert (detail["status"], detail["duplicate_of"]) == ("duplicate", None)
    listed = {f["id"]: f["properties"] for f in resident.get(URL).json()["features"]}
    assert listed[duplicate]["duplicate_of"] is None
    timeline = resident.get(f"{URL}{duplicate}/timeline/")
    assert str(original) not in [str(v) for e in timeline.json() for v in e["data"].values()]
    # nor the neighbour which report was merged into his
    merged = next(e for e in api_as(neighbour).get(f"{URL}{original}/timeline/").json() if e["action"] == "merged")
    assert "duplicate" not in merged["data"]
