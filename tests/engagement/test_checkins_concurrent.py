"""1,000 members check in to one county meeting within a minute, through a live server, from many threads and
HTTP connections at once, each member with a token; some resend their check-in (the same client_uuid, racing the
first), some check in a second time (a new client_uuid). None is lost, none is doubled, none earns twice."""

import datetime as dt
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.contrib.gis.geos import Point
from django.utils import timezone
from pyproj import Geod
from rest_framework.authtoken.models import Token

from engagement.models import Activity, CheckIn, PointsEntry, PointsRule
from grid.models import Role, User
from layers.models import Organization, Person, PersonCategory

pytestmark = pytest.mark.django_db(transaction=True)  # the live server's threads must see committed data

MEMBERS = 1000
CLIENTS = 12  # HTTP connections at once: each is a server thread with a database connection of its own
VENUE = (109.92, 35.17)
GEOD = Geod(ellps="WGS84")


def _county_meeting() -> tuple[Activity, list[tuple[Person, str]]]:
    PointsRule.objects.get_or_create(
        code="activity_checkin", defaults={"name": "check-in at an activity", "amount": 2, "daily_cap": 10}
    )
    branches = Organization.objects.bulk_create(
        Organization(code=f"CC-{i}", name=f"支部{i}", kind=Organization.Kind.BRANCH) for i in range(20)
    )
    now = timezone.now()
    activity = Activity.objects.create(
        kind=Activity.Kind.PARTY_LECTURE,
        branch=branches[0],
        title="全县党课",
        location=Point(*VENUE, srid=4326),
        starts_at=now - dt.timedelta(minutes=5),
        ends_at=now + dt.timedelta(hours=2),
        audience=Activity.Audience.ALL,
        radius_m=300,
    )
    users = User.objects.bulk_create(
        User(username=f"cc-{i:04d}", role=Role.RESIDENT, password="!") for i in range(MEMBERS)
    )
    people = Person.objects.bulk_create(
        Person(name=f"党员{i}", account=u, branch=branches[i % 20], categories=[PersonCategory.PARTY_MEMBER])
        for i, u in enumerate(users)
    )
    tokens = Token.objects.bulk_create(Token(user=u, key=Token.generate_key()) for u in users)
    return activity, [(p, t.key) for p, t in zip(people, tokens, strict=True)]


def _requests(members: list[tuple[Person, str]]) -> list[tuple[int, str, dict]]:
    """One check-in per member, 10% of them sent twice (the same uuid), 5% a second check-in (a new uuid)."""
    rng = random.Random(12)
    sends = []
    for person, token in members:
        lon, lat, _ = GEOD.fwd(*VENUE, rng.uniform(0, 360), rng.uniform(0, 80))
        body = {"client_uuid": str(uuid.uuid4()), "method": "geofence", "lon": lon, "lat": lat, "accuracy": 15}
        sends.append((person.pk, token, body))
        if rng.random() < 0.10:
            sends.append((person.pk, token, body))
        if rng.random() < 0.05:
            sends.append((person.pk, token, {**body, "client_uuid": str(uuid.uuid4())}))
    rng.shuffle(sends)  # a resend may race its first send, or come long after it
    return sends


def test_a_thousand_members_checking_in_at_once_are_each_counted_once(live_server):
    activity, members = _county_meeting()
    sends = _requests(members)
    endpoint = f"{live_server.url}/api/v1/engagement/activities/{activity.pk}/checkins/"
    local = threading.local()

    def send(item):
        person_id, token, body = item
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        response = session.post(endpoint, json=body, headers={"Authorization": f"Token {token}"}, timeout=60)
        return person_id, response.status_code, response.json().get("id")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        answers = list(pool.map(send, sends))
    elapsed = time.monotonic() - started

    statuses = [status for _, status, _ in answers]
    assert set(statuses) <= {200, 201}, {s for s in statuses if s not in (200, 201)}
    assert statuses.count(201) == MEMBERS  # each member's first arrival made it; every other send was answered 200
    by_member: dict[int, set] = {}
    for person_id, _status, checkin_id in answers:
        by_member.setdefault(person_id, set()).add(checkin_id)
    assert len(by_member) == MEMBERS and all(len(ids) == 1 for ids in by_member.values())  # one answer each
    rows = CheckIn.objects.filter(activity=activity)
    assert rows.count() == MEMBERS
    assert rows.values("person").distinct().count() == MEMBERS
    assert PointsEntry.objects.filter(reason="activity_checkin").count() == MEMBERS
    assert elapsed < 60, f"{len(sends)} check-ins took {elapsed:.1f} s"
