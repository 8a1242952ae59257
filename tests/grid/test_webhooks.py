"""Signed webhooks: a real HTTP receiver on 127.0.0.1, the outbox rows, retries in travelled time."""

import datetime as dt
import hashlib
import hmac
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.db import connection, transaction

from grid.models import IncidentEvent, WebhookDelivery
from grid.webhooks import (
    webhook_deliver,
    webhook_deliver_task,
    webhook_deliveries_create,
    webhook_settings_check,
    webhooks_retry_due,
)
from project.celery import app
from tests.factories import IncidentFactory

SECRET = "whsec-test-4f1c2a"
T0 = dt.datetime(2025, 3, 1, 8, 30, tzinfo=dt.UTC)


class Receiver:
    """An HTTP server that records every request; `fail_next` requests get `fail_status`."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        self.fail_status = 500
        self.on_request = None  # called in the server's thread before it answers
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                if receiver.on_request is not None:
                    receiver.on_request()
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(receiver.fail_status)
                    self.send_header("Location", "/elsewhere")
                else:
                    self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/gridline"

    @property
    def delivery_ids(self) -> list[int]:
        return [int(headers["X-Gridline-Delivery"]) for headers, _ in self.requests]


@pytest.fixture
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 that is bound but not listening: connecting is refused at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def hooks(settings, receiver):
    settings.WEBHOOK_URLS = [receiver.url]
    settings.WEBHOOK_SECRET = SECRET
    settings.WEBHOOK_MAX_ATTEMPTS = 8
    return settings


@pytest.fixture
def broker_down(closed_port):
    """Point the Celery app at a closed port, with fresh connection pools; restore it afterwards."""
    saved = (app.conf.broker_url, app._pool, app.amqp._producer_pool)
    app.conf.broker_url = f"redis://127.0.0.1:{closed_port}/0"
    app._pool, app.amqp._producer_pool = None, None
    yield
    if app._pool is not None:
        app._pool.force_close_all()
    app.conf.broker_url, app._pool, app.amqp._producer_pool = saved


def event_of(incident, action="accept", **fields) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident,
        action=action,
        from_status=fields.pop("from_status", "reported"),
        to_status=fields.pop("to_status", "accepted"),
        **fields,
    )


def queued(event) -> WebhookDelivery:
    with transaction.atomic():
        (delivery,) = webhook_deliveries_create(event=event)
    return delivery


def test_request_is_signed_and_its_body_is_the_event(hooks, receiver, territory, people):
    incident = IncidentFactory(
        grid=territory.grids["A-S"],
        community=territory.community_a,
        assignee=people["worker"],
        status="accepted",
        warning="yellow",
        deadline=T0 + dt.timedelta(days=2),
    )
    event = event_of(incident, actor=people["dispatcher_a"], at=T0, note="已受理，马上处理")
    delivery = queued(event)
    assert (delivery.status, delivery.attempts, delivery.url) == ("pending", 0, receiver.url)

    before = int(dt.datetime.now(dt.UTC).timestamp())
    assert webhook_deliver(delivery_id=delivery.pk) is True
    after = int(dt.datetime.now(dt.UTC).timestamp())

    (headers, raw) = receiver.requests[0]
    assert len(receiver.requests) == 1
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Gridline-Event"] == "accept"
    assert headers["X-Gridline-Delivery"] == str(delivery.pk)
    timestamp = int(headers["X-Gridline-Timestamp"])
    assert before <= timestamp <= after
    # The receiver's side: an HMAC computed here from the secret, the timestamp and the raw bytes.
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Gridline-Signature"], f"sha256={expected}")
    tampered = hmac.new(SECRET.encode(), f"{timestamp + 1}.".encode() + raw, hashlib.sha256).hexdigest()
    assert headers["X-Gridline-Signature"] != f"sha256={tampered}"

    document = {
        "id": delivery.pk,
        "event": "accept",
        "incident": {
            "id": incident.pk,
            "client_uuid": str(incident.client_uuid),
            "status": "accepted",
            "category": "litter",
            "location": [109.93, 35.19],
            "grid": "G-A-S",
            "community": "610527001001",
            "assignee": "worker-as",
            "warning": "yellow",
            "deadline": "2025-03-03T08:30:00+00:00",
        },
        "from_status": "reported",
        "to_status": "accepted",
        "actor": "disp-a",
        "at": "2025-03-01T08:30:00+00:00",
        "note": "已受理，马上处理",
    }
    assert json.loads(raw.decode("utf-8")) == document
    # Deterministic bytes: sorted keys, no spaces, UTF-8 text rather than \u escapes.
    assert raw == json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert "已受理".encode() in raw

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, "")
    assert delivery.delivered_at is not None


def test_failing_receiver_is_retried_with_growing_waits_and_delivered_once(hooks, receiver, db):
    receiver.fail_next = 3
    with time_machine.travel(T0, tick=False) as traveller:
        delivery = queued(event_of(IncidentFactory()))
        assert webhook_deliver(delivery_id=delivery.pk) is False
        waits = []
        for attempt in (1, 2, 3):
            delivery.refresh_from_db()
            assert (delivery.status, delivery.attempts, delivery.last_error) == (
                "pending",
                attempt,
                "HTTP 500 Internal Server Error",
            )
            wait = (delivery.next_attempt_at - dt.datetime.now(dt.UTC)).total_seconds()
            # 30 s × 2^(attempt-1), up to 20% shorter for jitter
            assert 0.8 * 30 * 2 ** (attempt - 1) <= wait <= 30 * 2 ** (attempt - 1)
            waits.append(wait)
            # not yet due: the sweep leaves it alone
            traveller.move_to(delivery.next_attempt_at - dt.timedelta(seconds=1))
            assert webhooks_retry_due()["skipped"] == 0
            assert len(receiver.requests) == attempt
            traveller.move_to(delivery.next_attempt_at + dt.timedelta(seconds=1))
            webhooks_retry_due()
        assert waits == sorted(waits) and len(set(waits)) == 3

        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 4, "")
        assert receiver.delivery_ids == [delivery.pk] * 4

        traveller.move_to(T0 + dt.timedelta(days=1))
        assert webhooks_retry_due()["delivered"] == 0
        assert webhook_deliver(delivery_id=delivery.pk) is False
    assert len(receiver.requests) == 4


def test_a_receiver_that_never_answers_ends_failed_after_max_attempts(settings, closed_port, db):
    settings.WEBHOOK_URLS = [f"http://127.0.0.1:{closed_port}/hooks"]
    settings.WEBHOOK_SECRET = SECRET
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    with time_machine.travel(T0, tick=False) as traveller:
        delivery = queued(event_of(IncidentFactory()))
        for attempt in (1, 2, 3):
            assert webhook_deliver(delivery_id=delivery.pk) is False
            delivery.refresh_from_db()
            assert delivery.attempts == attempt
            assert "refused" in delivery.last_error.lower()
            traveller.move_to(delivery.next_attempt_at + dt.timedelta(seconds=1))
        assert delivery.status == "failed"

        traveller.move_to(T0 + dt.timedelta(days=1))
        assert webhooks_retry_due() == {"delivered": 0, "retry": 0, "failed": 0, "skipped": 0}
        assert webhook_deliver(delivery_id=delivery.pk) is False
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)


def test_a_redirect_is_a_failure_not_a_delivery(hooks, receiver, db):
    receiver.fail_next, receiver.fail_status = 1, 302
    delivery = queued(event_of(IncidentFactory()))
    assert webhook_deliver(delivery_id=delivery.pk) is False
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("pending", "HTTP 302 Found")
    assert len(receiver.requests) == 1  # the Location was not followed


def test_no_urls_configured_creates_nothing(settings, db, django_capture_on_commit_callbacks):
    settings.WEBHOOK_URLS = []
    event = event_of(IncidentFactory())
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        assert webhook_deliveries_create(event=event) == []
    assert callbacks == []
    assert not WebhookDelivery.objects.exists()


def test_one_row_per_url_and_a_second_call_adds_nothing(hooks, receiver, db, django_capture_on_commit_callbacks):
    hooks.WEBHOOK_URLS = [receiver.url, "https://hooks.example.org/gridline", receiver.url]
    event = event_of(IncidentFactory())
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        first = webhook_deliveries_create(event=event)
        again = webhook_deliveries_create(event=event)
    assert [d.url for d in first] == [receiver.url, "https://hooks.example.org/gridline"]
    assert again == first
    assert len(callbacks) == 1
    assert WebhookDelivery.objects.filter(event=event).count() == 2


def test_a_delivered_row_is_sent_once_however_often_it_is_delivered(hooks, receiver, db):
    delivery = queued(event_of(IncidentFactory()))
    assert webhook_deliver(delivery_id=delivery.pk) is True
    assert webhook_deliver(delivery_id=delivery.pk) is False
    # A redelivered task message, run in-process.
    assert webhook_deliver_task.apply(kwargs={"delivery_id": delivery.pk}).get() is False
    assert receiver.delivery_ids == [delivery.pk]


def test_broker_down_leaves_the_delivery_pending_for_the_sweep(
    hooks, receiver, db, broker_down, caplog, django_capture_on_commit_callbacks
):
    event = event_of(IncidentFactory())
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            (delivery,) = webhook_deliveries_create(event=event)
    assert len(callbacks) == 1
    # The enqueue was tried and failed, and it was our code that absorbed it (not on_commit's robust=True).
    assert any("could not enqueue deliveries" in r.getMessage() for r in caplog.records)
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert receiver.requests == []

    assert webhooks_retry_due()["delivered"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert receiver.delivery_ids == [delivery.pk]


def test_entries_of_one_incident_go_out_in_timeline_order(hooks, receiver, db):
    incident, other = IncidentFactory(), IncidentFactory()
    receiver.fail_next = 1
    with time_machine.travel(T0, tick=False) as traveller:
        first = queued(event_of(incident, "accept"))
        second = queued(event_of(incident, "dispatch", from_status="accepted", to_status="dispatched"))
        unrelated = queued(event_of(other, "accept"))
        assert webhook_deliver(delivery_id=first.pk) is False  # 500
        assert webhook_deliver(delivery_id=second.pk) is False  # held behind `first`: not sent
        assert webhook_deliver(delivery_id=unrelated.pk) is True  # another incident is not held
        assert receiver.delivery_ids == [first.pk, unrelated.pk]

        first.refresh_from_db()
        traveller.move_to(first.next_attempt_at + dt.timedelta(seconds=1))
        assert webhooks_retry_due()["delivered"] == 2
    assert receiver.delivery_ids == [first.pk, unrelated.pk, first.pk, second.pk]


def test_the_task_sends_entries_held_back_behind_the_one_it_delivered(hooks, receiver, db):
    incident = IncidentFactory()
    first = queued(event_of(incident, "accept"))
    second = queued(event_of(incident, "dispatch", from_status="accepted", to_status="dispatched"))
    assert webhook_deliver(delivery_id=second.pk) is False  # its task ran first: held back
    assert receiver.requests == []
    assert webhook_deliver_task.apply(kwargs={"delivery_id": first.pk}).get() is True
    assert receiver.delivery_ids == [first.pk, second.pk]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_delivery_in_flight_is_not_sent_again_by_another_worker(hooks, receiver, transactional_db):
    # Committed rows (transactional_db) so that the receiver's thread, with its own database connection,
    # plays a second worker taking the same delivery while the first one's request is in flight.
    delivery = WebhookDelivery.objects.create(event=event_of(IncidentFactory()), url=receiver.url)
    results = []

    def second_worker() -> None:
        try:
            results.append(webhook_deliver(delivery_id=delivery.pk))
        finally:
            connection.close()

    receiver.on_request = second_worker
    assert webhook_deliver(delivery_id=delivery.pk) is True
    assert results == [False]
    assert receiver.delivery_ids == [delivery.pk]


def test_settings_check_wants_a_secret_and_http_urls(settings):
    settings.WEBHOOK_URLS = ["https://hooks.example.org/gridline", "file:///etc/passwd"]
    settings.WEBHOOK_SECRET = ""
    assert sorted(m.id for m in webhook_settings_check()) == ["grid.E101", "grid.E102"]
    settings.WEBHOOK_URLS = ["https://hooks.example.org/gridline"]
    settings.WEBHOOK_SECRET = SECRET
    assert webhook_settings_check() == []
    settings.WEBHOOK_URLS = []
    settings.WEBHOOK_SECRET = ""
    assert webhook_settings_check() == []
