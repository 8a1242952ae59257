"""Notifications: each account reads and marks only its own."""

import pytest

from grid.models import Notification
from tests.factories import IncidentFactory

URL = "/api/v1/notifications/"


@pytest.fixture
def inbox(people):
    incident = IncidentFactory()
    mine = [
        Notification.objects.create(recipient=people["dispatcher_a"], incident=incident, kind="new", message=f"m{i}")
        for i in range(3)
    ]
    theirs = Notification.objects.create(recipient=people["worker"], incident=incident, kind="assigned", message="w")
    return mine, theirs


def test_an_account_lists_only_its_own_notifications_newest_first(api_as, people, inbox):
    mine, theirs = inbox
    listed = api_as(people["dispatcher_a"]).get(URL).json()
    assert [n["id"] for n in listed] == [n.pk for n in reversed(mine)]
    assert theirs.pk not in {n["id"] for n in listed}


def test_marking_read_by_id_and_all_touches_only_the_callers(api_as, people, inbox):
    mine, theirs = inbox
    client = api_as(people["dispatcher_a"])
    assert client.post(URL, {"ids": [mine[0].pk, theirs.pk]}, format="json").json() == {"marked_read": 1}
    assert [n["id"] for n in client.get(URL, {"unread": "true"}).json()] == [mine[2].pk, mine[1].pk]
    assert client.post(URL, {"all": True}, format="json").json() == {"marked_read": 2}
    assert client.get(URL, {"unread": "true"}).json() == []
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize(
    ("method", "payload", "field"),
    [
        ("get", {"unread": "maybe"}, "unread"),
        ("post", {}, "ids"),
        ("post", {"ids": "1,2"}, "ids"),
        ("post", {"ids": [0]}, "ids"),
        ("post", {"all": "perhaps"}, "all"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_as, people, inbox, method, payload, field):
    client = api_as(people["dispatcher_a"])
    response = client.get(URL, payload) if method == "get" else client.post(URL, payload, format="json")
    assert response.status_code == 400 and field in response.json()


def test_anonymous_callers_get_nothing(api, inbox):
    assert api.get(URL).status_code in (401, 403)
    assert api.post(URL, {"all": True}, format="json").status_code in (401, 403)
