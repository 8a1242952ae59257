"""Signed webhooks for every change of an incident's state, through an outbox.

The workflow writes a `WebhookDelivery` row per configured URL in the same transaction as the timeline
entry (`webhook_deliveries_create`), so a committed change always has its deliveries and a rolled-back
one never does. After commit a task per row is enqueued; if the broker is down nothing is lost: the rows
stay pending and the `webhooks_retry_due_task` sweep (every minute, from beat) sends them.

Each request is a POST of a JSON body (UTF-8, keys sorted, no spaces) with these headers:

    Content-Type: application/json
    X-Gridline-Event: <the timeline action, e.g. "accept">
    X-Gridline-Delivery: <the delivery id; the same on every retry, so receivers dedupe with it>
    X-Gridline-Timestamp: <unix seconds when this try was signed>
    X-Gridline-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body bytes>" keyed with WEBHOOK_SECRET>

A receiver verifies it by recomputing the HMAC over the timestamp header, a ".", and the raw body bytes,
comparing with `hmac.compare_digest`, and refusing timestamps more than a few minutes from its clock.
The timestamp is inside the signed string so a captured request cannot be replayed later with a fresh
timestamp; the delivery id lets a receiver drop a replay within that window and our own retries.

Delivery is at least once (a worker that dies after the receiver answered sends again after its lease
runs out). Order: per incident and URL, a delivery is not sent while an earlier timeline entry's delivery
to that URL is still pending, so a receiver gets an incident's events in timeline order; an entry whose
delivery has failed for good (WEBHOOK_MAX_ATTEMPTS tries) is skipped, and the later ones then go out.
"""

import enum
import hashlib
import hmac
import http.client
import json
import logging
import random
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.db import transaction
from django.utils import timezone

from grid.models import IncidentEvent, WebhookDelivery
from grid.tasking import db_task

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

BACKOFF_BASE_S = 30
BACKOFF_CAP_S = 3600
# Rows one sweep tries at most; the rest wait for the next minute's sweep.
SWEEP_LIMIT = 200
# One try to publish: with the broker down a transition must not wait on kombu's retries (seconds).
_PUBLISH_ONCE = {"max_retries": 0}


# -- settings check --------------------------------------------------------------------------------


@checks.register()
def webhook_settings_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """WEBHOOK_URLS need a WEBHOOK_SECRET (receivers cannot verify unsigned calls) and http(s) addresses."""
    errors: list[checks.CheckMessage] = []
    urls = getattr(settings, "WEBHOOK_URLS", [])
    if urls and not getattr(settings, "WEBHOOK_SECRET", ""):
        errors.append(
            checks.Error(
                "WEBHOOK_URLS is set but WEBHOOK_SECRET is empty: webhook requests cannot be signed.",
                hint="Set WEBHOOK_SECRET to a long random string, e.g. `python -c 'import secrets; "
                "print(secrets.token_hex(32))'`, and give it to the receivers.",
                id="grid.E101",
            )
        )
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(checks.Error(f"WEBHOOK_URLS entry {url!r} is not an http(s) URL.", id="grid.E102"))
    if getattr(settings, "WEBHOOK_TIMEOUT_S", 5) <= 0:
        errors.append(checks.Error("WEBHOOK_TIMEOUT_S must be positive.", id="grid.E103"))
    if getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 8) < 1:
        errors.append(checks.Error("WEBHOOK_MAX_ATTEMPTS must be at least 1.", id="grid.E104"))
    return errors


# -- outbox ------------------------------------------------------------------------------------------


def webhook_deliveries_create(*, event: IncidentEvent) -> list[WebhookDelivery]:
    """Queue `event` for every configured URL, in the caller's transaction; enqueue the sends after commit."""
    urls = list(dict.fromkeys(settings.WEBHOOK_URLS))  # a URL listed twice is one receiver
    if not urls:
        return []
    # A second call for the same entry adds nothing (unique event+url) and enqueues nothing again.
    existing = set(WebhookDelivery.objects.filter(event=event, url__in=urls).values_list("url", flat=True))
    created = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(event=event, url=url) for url in urls if url not in existing]
    )
    if created:
        transaction.on_commit(partial(_deliveries_enqueue, [d.pk for d in created]), robust=True)
    return list(WebhookDelivery.objects.filter(event=event, url__in=urls).order_by("id"))


def _deliveries_enqueue(delivery_ids: list[int]) -> None:
    # Runs after commit: the rows are durable, so a broker failure costs latency (the sweep sends them
    # within a minute), never a delivery, and must not reach the request that made the change.
    try:
        for delivery_id in delivery_ids:
            webhook_deliver_task.apply_async(
                kwargs={"delivery_id": delivery_id}, retry=True, retry_policy=_PUBLISH_ONCE
            )
    except Exception:  # whatever the transport raises: kombu, redis and socket errors
        logger.warning(
            "webhooks: could not enqueue deliveries %s; the retry sweep will send them", delivery_ids, exc_info=True
        )


# -- payload and signature ---------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def webhook_payload(*, delivery: WebhookDelivery, event: IncidentEvent) -> dict[str, Any]:
    """The JSON document sent for `delivery`. `incident` is the incident as it is when the request is made."""
    incident = event.incident
    return {
        "id": delivery.pk,
        "event": event.action,
        "incident": {
            "id": incident.pk,
            "client_uuid": str(incident.client_uuid),
            "status": incident.status,
            "category": incident.category.code,
            "location": [incident.location.x, incident.location.y],
            "grid": incident.grid.code if incident.grid_id else None,
            "community": incident.community.code if incident.community_id else None,
            "assignee": incident.assignee.get_username() if incident.assignee_id else None,
            "warning": incident.warning,
            "deadline": _iso(incident.deadline),
        },
        "from_status": event.from_status,
        "to_status": event.to_status,
        "actor": event.actor.get_username() if event.actor_id else None,
        "at": _iso(event.at),
        "note": event.note,
    }


def webhook_body(payload: dict[str, Any]) -> bytes:
    """Deterministic bytes: the same payload always signs to the same signature."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 of `b"<timestamp>." + body` keyed with `secret`."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


# -- delivery ----------------------------------------------------------------------------------------


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # failed; pending again after a backoff
    FAILED = "failed"  # failed for the last time
    SKIPPED = "skipped"  # not pending, not due, locked by another worker, or held behind an earlier entry


def _backoff_s(attempts: int) -> float:
    # 30 s, 60 s, 120 s… capped at an hour; the jitter (up to 20% shorter) spreads receivers that come back
    # at once, and keeps each wait longer than the previous one until the cap.
    return min(BACKOFF_BASE_S * 2 ** (attempts - 1), BACKOFF_CAP_S) * random.uniform(0.8, 1.0)


def _lease_s() -> float:
    # Long enough for one request (the timeout applies to the connect and to each read) and the bookkeeping.
    return 4 * settings.WEBHOOK_TIMEOUT_S + 30


# No redirect handler (a POST must not turn into a GET elsewhere: a 3xx is a failure) and no file:/ftp:.
_OPENER = urllib.request.OpenerDirector()
for _handler in (
    urllib.request.ProxyHandler(),
    urllib.request.UnknownHandler(),
    urllib.request.HTTPHandler(),
    urllib.request.HTTPSHandler(),
    urllib.request.HTTPDefaultErrorHandler(),
    urllib.request.HTTPErrorProcessor(),
):
    _OPENER.add_handler(_handler)


def _post(*, url: str, body: bytes, headers: dict[str, str]) -> str:
    """POST; '' when the receiver answered 2xx, else what went wrong."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=settings.WEBHOOK_TIMEOUT_S):
            return ""
    except urllib.error.HTTPError as exc:
        exc.close()
        return f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return f"{type(exc.reason).__name__}: {exc.reason}"
    except (OSError, http.client.HTTPException, ValueError) as exc:  # timeouts, resets, bad status lines
        return f"{type(exc).__name__}: {exc}"


def _claim(*, delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Take a due pending row: count the try and lease it (next_attempt_at in the future) so nobody else
    takes it while the request is in flight. None when it is not ours to send now."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event")
            .filter(pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        held_back = WebhookDelivery.objects.filter(
            status=Status.PENDING,
            url=delivery.url,
            event__incident_id=delivery.event.incident_id,
            event_id__lt=delivery.event_id,
        ).exists()
        if held_back:
            return None  # an earlier entry of this incident goes first; this one stays due
        delivery.attempts += 1
        delivery.next_attempt_at = now + timedelta(seconds=_lease_s())
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return delivery


def _deliver(*, delivery_id: int) -> Outcome:
    # The HTTP request is made outside any transaction: holding a row lock (and a database connection in a
    # transaction) for up to the receiver's timeout would stall the sweep and other workers. The lease taken
    # in `_claim` does the lock's job meanwhile; `attempts` fences the result, so a worker whose lease ran
    # out cannot overwrite the outcome of the worker that took the row after it.
    delivery = _claim(delivery_id=delivery_id, now=timezone.now())
    if delivery is None:
        return Outcome.SKIPPED
    event = IncidentEvent.objects.select_related(
        "actor", "incident__category", "incident__grid", "incident__community", "incident__assignee"
    ).get(pk=delivery.event_id)
    body = webhook_body(webhook_payload(delivery=delivery, event=event))
    secret = settings.WEBHOOK_SECRET
    if secret:
        timestamp = int(timezone.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "X-Gridline-Event": event.action,
            "X-Gridline-Delivery": str(delivery.pk),
            "X-Gridline-Timestamp": str(timestamp),
            "X-Gridline-Signature": webhook_signature(secret=secret, timestamp=timestamp, body=body),
        }
        error = _post(url=delivery.url, body=body, headers=headers)
    else:
        error = "WEBHOOK_SECRET is not set: not sending an unsigned request"  # the system check says so too

    now = timezone.now()
    pending = WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING)
    if not error:
        # Delivered is the truth whoever holds the lease now.
        pending.update(status=Status.DELIVERED, delivered_at=now, last_error="")
        return Outcome.DELIVERED
    final = delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    pending.filter(attempts=delivery.attempts).update(
        status=Status.FAILED if final else Status.PENDING,
        last_error=error[:500],
        next_attempt_at=now + timedelta(seconds=_backoff_s(delivery.attempts)),
    )
    logger.info("webhooks: delivery %s to %s failed (try %s): %s", delivery.pk, delivery.url, delivery.attempts, error)
    return Outcome.FAILED if final else Outcome.RETRY


def webhook_deliver(*, delivery_id: int) -> bool:
    """Send one due pending delivery; True if the receiver took it now. Anything else changes nothing."""
    return _deliver(delivery_id=delivery_id) is Outcome.DELIVERED


def _next_held_back(*, delivery_id: int) -> int | None:
    """The earliest pending delivery of the same incident and URL after `delivery_id`'s entry."""
    delivery = WebhookDelivery.objects.select_related("event").filter(pk=delivery_id).first()
    if delivery is None:
        return None
    return (
        WebhookDelivery.objects.filter(
            status=Status.PENDING,
            url=delivery.url,
            event__incident_id=delivery.event.incident_id,
            event_id__gt=delivery.event_id,
        )
        .order_by("event_id")
        .values_list("pk", flat=True)
        .first()
    )


def webhooks_retry_due(*, limit: int = SWEEP_LIMIT) -> dict[str, int]:
    """Send every pending delivery whose time has come, oldest timeline entry first."""
    now = timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .order_by("event_id", "id")
        .values_list("pk", "url")[:limit]
    )
    counts = {outcome.value: 0 for outcome in Outcome}
    unreachable: set[str] = set()
    for delivery_id, url in due:
        if url in unreachable:
            # One failure per receiver per sweep: a dead one costs a timeout, not a timeout per row.
            counts[Outcome.SKIPPED.value] += 1
            continue
        outcome = _deliver(delivery_id=delivery_id)
        counts[outcome.value] += 1
        if outcome in (Outcome.RETRY, Outcome.FAILED):
            unreachable.add(url)
    return counts


# -- tasks -------------------------------------------------------------------------------------------


@db_task(soft_time_limit=300)
def webhook_deliver_task(delivery_id: int) -> bool:
    """Send one delivery, then the entries of the same incident that were held back behind it.

    A redelivered message finds the row delivered, failed or leased and sends nothing."""
    delivered = first = webhook_deliver(delivery_id=delivery_id)
    while delivered and (delivery_id := _next_held_back(delivery_id=delivery_id)) is not None:
        delivered = webhook_deliver(delivery_id=delivery_id)
    return first


@db_task(soft_time_limit=600)
def webhooks_retry_due_task() -> dict[str, int]:
    """The periodic sweep (every minute): sends what is due, including rows whose enqueueing failed."""
    return webhooks_retry_due()
