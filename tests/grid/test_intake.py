"""Intake: routing rules, a broker that is down, offline batches, possible duplicates."""

import shutil
import socket
import subprocess
import time
import uuid

import pytest
import redis
from pyproj import Geod

from grid.models import Category, HandlingUnit, Incident, Notification, Role, RoutingRule
from grid.services import incident_route, incidents_route_unrouted
from tests.factories import UserFactory

URL = "/api/v1/incidents/"
BATCH = "/api/v1/incidents/batch/"


def body(**fields):
    return {"lon": 109.93, "lat": 35.17, "category": "litter", "client_uuid": str(uuid.uuid4()), **fields}


# --- routing --------------------------------------------------------------------------------------------------------


@pytest.fixture
def units(territory):
    city = Category.objects.get(code="city_appearance")
    litter = Category.objects.get(code="litter")
    sanitation = HandlingUnit.objects.create(name="街道环卫所", area=territory.street_a)
    cleaners = HandlingUnit.objects.create(name="甲社区保洁队", area=territory.community_a)
    sanitation.members.add(UserFactory(username="sanitation", role=Role.DISPATCHER))
    cleaners.members.add(UserFactory(username="cleaner", role=Role.GRID_WORKER))
    RoutingRule.objects.create(area=territory.street_a, category=city, unit=sanitation)
    return {"sanitation": sanitation, "cleaners": cleaners, "litter": litter, "city": city}


def test_a_rule_for_a_parent_category_and_a_parent_area_routes_the_report(api_as, people, units):
    pk = api_as(people["resident"]).post(URL, body(category="litter"), format="json").json()["id"]
    incident_route(incident_id=pk)
    incident = Incident.objects.get(pk=pk)
    assert incident.handling_unit == units["sanitation"]
    assert Notification.objects.filter(recipient__username="sanitation", incident=incident, kind="new").exists()
    assert not Notification.objects.filter(recipient=people["dispatcher_a"], incident=incident).exists()
    # a unit member outside any area scope still sees and handles the case routed to his unit
    member = api_as(units["sanitation"].members.get())
    assert member.get(f"{URL}{pk}/").status_code == 200
    assert member.post(f"{URL}{pk}/transitions/", {"action": "accept"}, format="json").status_code == 200


def test_the_most_specific_rule_wins_and_without_a_rule_the_communitys_dispatchers_get_it(
    api_as, people, territory, units
):
    RoutingRule.objects.create(area=territory.community_a, category=units["litter"], unit=units["cleaners"])
    client = api_as(people["resident"])
    litter = client.post(URL, body(category="litter"), format="json").json()["id"]
    parking = client.post(URL, body(category="illegal_parking"), format="json").json()["id"]
    dispute = client.post(URL, body(category="neighbour_dispute"), format="json").json()["id"]
    east = client.post(URL, body(category="litter", lon=109.97), format="json").json()["id"]
    for pk in (litter, parking, dispute, east):
        incident_route(incident_id=pk)
    routed = {i.pk: i.handling_unit for i in Incident.objects.all()}
    assert routed == {litter: units["cleaners"], parking: units["sanitation"], dispute: None, east: None}
    assert Notification.objects.filter(recipient=people["dispatcher_a"], incident_id=dispute, kind="new").exists()
    assert Notification.objects.filter(
        recipient=people["dispatcher_street_b"], incident_id=east, kind="new"
    ).exists()  # no dispatcher of the community: the street's


# --- the broker goes down during intake -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def private_broker():
    """A Redis of the test's own as the Celery broker, which the test may stop."""
    from project.celery import app

    server = shutil.which("redis-server")
    assert server, "redis-server is installed by scripts/bootstrap.sh"
    port = _free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    previous = app.conf.broker_url

    def use(url: str) -> None:
        app.conf.broker_url = url
        app._pool = None  # Celery caches its connection pool: make it connect to the new broker
        app.amqp._producer_pool = None

    use(f"redis://127.0.0.1:{port}/0")
    yield process, client
    process.kill()
    process.wait()
    use(previous)


def test_a_report_made_while_the_broker_is_down_is_kept_and_routed_by_the_sweep(
    api_as, people, private_broker, django_capture_on_commit_callbacks
):
    process, broker = private_broker
    client = api_as(people["resident"])
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(URL, body(), format="json")
    assert first.status_code == 201
    assert broker.llen("celery") == 1  # with the broker up, routing is queued there

    process.kill()
    process.wait()
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(URL, body(note="断网时上报"), format="json")
    assert second.status_code == 201  # the phone is answered; nothing was lost
    incident = Incident.objects.get(pk=second.json()["id"])
    assert (incident.note, incident.routed_at) == ("断网时上报", None)

    assert incidents_route_unrouted() == 2  # the sweep routes both (the queued task would find the first done)
    assert incidents_route_unrouted() == 0
    assert not Incident.objects.filter(routed_at__isnull=True).exists()


# --- offline batches ------------------------------------------------------------------------------------------------


def test_a_batch_gives_one_result_per_item_and_a_resend_creates_nothing(api_as, people):
    client = api_as(people["worker"])
    items = [body(note="一"), body(lat=95), body(note="三", crs="gcj02"), {"note": "no uuid"}, "junk"]
    first = client.post(BATCH, {"reports": items}, format="json")
    assert first.status_code == 200
    results = first.json()["results"]
    assert [r["result"] for r in results] == ["created", "invalid", "created", "invalid", "invalid"]
    assert "lat" in results[1]["errors"] and "client_uuid" in results[3]["errors"]
    assert [r["client_uuid"] for r in results[:3]] == [i["client_uuid"] for i in items[:3]]
    assert Incident.objects.count() == 2

    again = client.post(BATCH, {"reports": items}, format="json").json()["results"]
    assert [r["result"] for r in again] == ["existing", "invalid", "existing", "invalid", "invalid"]
    assert [r.get("id") for r in again] == [r.get("id") for r in results]
    assert Incident.objects.count() == 2


def test_a_batch_item_with_another_accounts_uuid_is_a_conflict_and_the_rest_still_land(api_as, people):
    taken = body()
    api_as(people["resident"]).post(URL, taken, format="json")
    results = api_as(people["worker"]).post(BATCH, {"reports": [taken, body()]}, format="json").json()["results"]
    assert [r["result"] for r in results] == ["conflict", "created"]
    assert Incident.objects.filter(reporter=people["worker"]).count() == 1


@pytest.mark.parametrize(
    "payload", [{}, {"reports": []}, {"reports": "x"}, {"reports": {"a": 1}}, {"reports": [body()] * 101}]
)
def test_a_malformed_batch_is_a_400(api_as, people, payload):
    response = api_as(people["worker"]).post(BATCH, payload, format="json")
    assert response.status_code == 400 and "reports" in response.json()
    assert Incident.objects.count() == 0


def test_auditors_and_anonymous_callers_cannot_send_batches(api, api_as, people):
    assert api_as(people["auditor"]).post(BATCH, {"reports": [body()]}, format="json").status_code == 403
    assert api.post(BATCH, {"reports": [body()]}, format="json").status_code in (401, 403)


# --- possible duplicates --------------------------------------------------------------------------------------------


def test_possible_duplicates_are_open_reports_of_the_category_within_its_radius(api_as, people):
    radius = Category.objects.get(code="litter").duplicate_radius_m  # 30 m
    client = api_as(people["resident"])
    geod = Geod(ellps="WGS84")
    lon0, lat0 = 109.93, 35.17
    # east of the point at 10, 25 and 40 m; one of another category; one closed
    points = {d: geod.fwd(lon0, lat0, 90, d)[:2] for d in (10, 25, 40)}
    near = client.post(URL, body(lon=points[10][0], lat=points[10][1]), format="json").json()["id"]
    mid = client.post(URL, body(lon=points[25][0], lat=points[25][1]), format="json").json()["id"]
    client.post(URL, body(lon=points[40][0], lat=points[40][1]), format="json")
    client.post(URL, body(lon=points[10][0], lat=points[10][1], category="illegal_parking"), format="json")
    closed = client.post(URL, body(lon=points[10][0], lat=points[10][1]), format="json").json()["id"]
    Incident.objects.filter(pk=closed).update(status="closed")

    found = client.post(URL, body(lon=lon0, lat=lat0), format="json").json()["properties"]["possible_duplicates"]
    assert [d["id"] for d in found] == [near, mid]
    assert radius < 40
    for d, expected in zip(found, (10, 25), strict=True):
        assert abs(d["distance_m"] - expected) < 0.5


def test_a_queue_filled_by_one_account_is_refused_to_another(api_as, people):
    items = [body(), body()]
    response = api_as(people["resident"]).post(BATCH, {"reports": items, "reporter": "worker-as"}, format="json")
    assert response.status_code == 409 and "worker-as" in response.json()["reporter"][0]
    assert Incident.objects.count() == 0
    response = api_as(people["worker"]).post(BATCH, {"reports": items, "reporter": "worker-as"}, format="json")
    assert [r["result"] for r in response.json()["results"]] == ["created", "created"]
