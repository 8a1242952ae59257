"""Volunteer tasks and small wishes (微心愿) through the API: a branch publishes, members near it list and claim (the
first claim wins, also under concurrency), the claimer or the branch marks it done with service hours and points,
and the branch cancels."""

import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import timezone
from pyproj import Geod
from rest_framework.test import APIClient

from engagement.models import PointsEntry, ServiceHours, VolunteerTask
from layers.models import Person, PersonCategory
from tests.engagement import test_community as community_fixtures
from tests.engagement.test_community import IN_A, IN_B
from tests.factories import UserFactory

# the fixtures of the community tests, shared
members = community_fixtures.members
rules = community_fixtures.rules

URL = "/api/v1/engagement/volunteering/"
GEOD = Geod(ellps="WGS84")


def publish(client, branch, **fields):
    body = {
        "branch": branch if isinstance(branch, int) else branch.pk,
        "title": "陪老人买菜",
        "lon": IN_A[0],
        "lat": IN_A[1],
        "client_uuid": str(uuid.uuid4()),
        **fields,
    }
    return client.post(URL, body, format="json")


def _task(members, *, branch=None, at=IN_A, **fields) -> VolunteerTask:
    branch = branch or members.branch_a
    community = branch.grid.community
    return VolunteerTask.objects.create(
        branch=branch, title="任务", location=Point(*at, srid=4326), community=community, **fields
    )


# ---- publishing ------------------------------------------------------------------------------------------------


def test_a_branch_cadre_publishes_a_wish_once_per_client_uuid(api_as, members, territory):
    cadre = api_as(members.cadre_a)
    key = str(uuid.uuid4())
    due = (timezone.now() + dt.timedelta(days=3)).isoformat()
    made = publish(cadre, members.branch_a, kind="wish", wished_by="刘奶奶", hours="1.5", due=due, client_uuid=key)
    assert made.status_code == 201, made.content
    props = made.json()["properties"]
    assert (props["kind"], props["status"], props["hours"], props["community"]) == (
        "wish",
        "open",
        "1.5",
        territory.community_a.code,
    )
    again = publish(cadre, members.branch_a, kind="wish", client_uuid=key)
    assert (again.status_code, again.json()["id"]) == (200, made.json()["id"])
    assert VolunteerTask.objects.count() == 1


def test_the_areas_staff_publish_for_the_branches_of_their_area_only(api_as, members, people):
    dispatcher = api_as(people["dispatcher_a"])
    assert publish(dispatcher, members.branch_a).status_code == 201
    foreign = publish(dispatcher, members.branch_b)
    assert foreign.status_code == 400 and "branch" in foreign.json()
    assert publish(dispatcher, 2147483000).status_code == 400
    # a member who runs no branch, an auditor: not publishers
    assert publish(api_as(members.account), members.branch_a).status_code == 403
    assert publish(api_as(people["auditor"]), members.branch_a).status_code == 403
    assert VolunteerTask.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"lon": 181}, "lon"),
        ({"lat": "inf"}, "lat"),
        ({"hours": "0"}, "hours"),
        ({"hours": "1.25"}, "hours"),
        ({"due": "2020-01-01T00:00:00Z"}, "due"),
        ({"due": "tomorrow"}, "due"),
        ({"kind": "chore"}, "kind"),
        ({"community": "12345"}, "community"),
        ({"client_uuid": "x"}, "client_uuid"),
        ({"description": "a\x00"}, "description"),
    ],
)
def test_bad_tasks_are_refused_field_by_field(api_as, members, fields, field):
    response = publish(api_as(members.cadre_a), members.branch_a, **fields)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert VolunteerTask.objects.count() == 0


# ---- listing -------------------------------------------------------------------------------------------------


def test_members_list_the_open_tasks_of_their_branch_and_communities_nearest_first(
    api_as, members, django_assert_num_queries
):
    near = _task(members, at=(109.9255, 35.1755))
    far = _task(members, at=(109.94, 35.19))
    _task(members, at=IN_A, status="done", claimed_by=members.other)
    foreign = _task(members, branch=members.branch_b, at=IN_B)  # another branch, another community
    phone = api_as(members.account)
    phone.get(f"{URL}?near=0,0")  # once per process: the spatial reference's parameters
    # the token, the person, the branches the caller runs, the tasks
    with django_assert_num_queries(4):
        listed = phone.get(f"{URL}?near={IN_A[0]},{IN_A[1]}")
    assert listed.status_code == 200
    features = listed.json()["features"]
    assert [f["id"] for f in features] == [near.pk, far.pk]
    _, _, metres = GEOD.inv(IN_A[0], IN_A[1], 109.9255, 35.1755)
    assert abs(features[0]["properties"]["distance_m"] - metres) < 0.5
    # within a smaller radius, only the near one
    assert [f["id"] for f in phone.get(f"{URL}?near={IN_A[0]},{IN_A[1]}&radius_m=500").json()["features"]] == [near.pk]
    assert foreign.pk not in {f["id"] for f in phone.get(f"{URL}?status=all").json()["features"]}


def test_an_accepted_community_check_in_opens_that_communitys_tasks(api_as, members, territory):
    from engagement.models import CommunityRegistration

    foreign = _task(members, branch=members.branch_b, at=IN_B)
    phone = api_as(members.account)
    assert phone.get(URL).json()["features"] == []
    CommunityRegistration.objects.create(
        person=members.member, community=territory.community_b, status="accepted", client_uuid=uuid.uuid4()
    )
    assert [f["id"] for f in phone.get(URL).json()["features"]] == [foreign.pk]


@pytest.mark.parametrize(
    "query", ["near=109.9", "near=a,b", "near=200,35", "status=lost", "crs=utm", "radius_m=0", "kind=x"]
)
def test_bad_list_queries_are_refused(api_as, members, query):
    response = api_as(members.account).get(f"{URL}?{query}")
    assert response.status_code == 400, response.content
    assert query.split("=")[0] in response.json()


# ---- claiming ----------------------------------------------------------------------------------------------------


def test_a_claim_takes_an_open_task_and_a_second_claim_is_a_conflict(api_as, members, territory):
    task = _task(members)
    first = api_as(members.account).post(f"{URL}{task.pk}/claim/")
    assert first.status_code == 200, first.content
    assert first.json()["properties"]["claimed_by_me"] is True
    neighbour_account = UserFactory(username="neighbour", role="resident")
    Person.objects.create(name="邻居", grid=territory.grids["A-S"], branch=members.branch_a, account=neighbour_account)
    second = api_as(neighbour_account).post(f"{URL}{task.pk}/claim/")
    assert second.status_code == 409
    task.refresh_from_db()
    assert (task.status, task.claimed_by) == ("claimed", members.member)


def test_claims_outside_the_members_reach_or_without_a_person_are_refused(api_as, members, people):
    foreign = _task(members, branch=members.branch_b, at=IN_B)
    assert api_as(members.account).post(f"{URL}{foreign.pk}/claim/").status_code == 404
    assert api_as(members.account).post(f"{URL}2147483000/claim/").status_code == 404
    assert api_as(people["dispatcher_a"]).post(f"{URL}{foreign.pk}/claim/").status_code == 403
    overdue = _task(members, due=timezone.now() - dt.timedelta(hours=1))
    assert api_as(members.account).post(f"{URL}{overdue.pk}/claim/").status_code == 409
    assert VolunteerTask.objects.filter(status="claimed").count() == 0


def _race(calls):
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        finally:
            connection.close()  # each thread had a connection of its own

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_of_eight_members_claiming_one_task_at_once_exactly_one_wins(members, territory):
    task = _task(members)
    clients = []
    for i in range(8):
        account = UserFactory(username=f"racer{i}", role="gig_worker")
        Person.objects.create(
            name=f"党员{i}",
            grid=territory.grids["A-S"],
            branch=members.branch_a,
            account=account,
            categories=[PersonCategory.PARTY_MEMBER],
        )
        client = APIClient()
        client.force_authenticate(account)
        clients.append(client)
    results = _race([lambda c=c: c.post(f"{URL}{task.pk}/claim/").status_code for c in clients])
    assert sorted(results) == [200] + [409] * 7, results
    task.refresh_from_db()
    winner = clients[results.index(200)].handler._force_user
    assert task.status == "claimed" and task.claimed_by.account == winner


# ---- done and cancelled ----------------------------------------------------------------------------------------


def test_the_claimer_marks_a_wish_done_with_hours_and_points_once(api_as, members):
    wish = _task(members, kind="wish", hours=Decimal("2.0"))
    phone = api_as(members.account)
    assert phone.post(f"{URL}{wish.pk}/done/").status_code == 409  # nobody claimed it yet
    assert phone.post(f"{URL}{wish.pk}/claim/").status_code == 200
    done = phone.post(f"{URL}{wish.pk}/done/")
    assert done.status_code == 200, done.content
    assert done.json()["properties"]["status"] == "done"
    hours = ServiceHours.objects.get(task=wish)
    assert (hours.person, hours.hours, hours.recorded_by) == (members.member, Decimal("2.0"), members.account)
    points = dict(PointsEntry.objects.filter(person=members.member).values_list("reason", "amount"))
    assert points == {"volunteer_hour": 10, "wish_fulfilled": 5}  # 2 h × 5, and the wish
    assert phone.post(f"{URL}{wish.pk}/done/").status_code == 409
    assert PointsEntry.objects.filter(person=members.member).count() == 2
    mine = phone.get(f"{URL}hours/mine/").json()
    assert mine["total_hours"] == "2.0" and mine["entries"][0]["task"] == wish.pk


def test_the_branch_confirms_a_claimed_task_others_may_not(api_as, members, people, territory):
    task = _task(members)
    assert api_as(members.account).post(f"{URL}{task.pk}/claim/").status_code == 200
    neighbour = UserFactory(username="neighbour2", role="resident")
    Person.objects.create(name="邻居二", grid=territory.grids["A-S"], branch=members.branch_a, account=neighbour)
    assert api_as(neighbour).post(f"{URL}{task.pk}/done/").status_code == 403  # sees it, did not claim it
    assert api_as(people["dispatcher_street_b"]).post(f"{URL}{task.pk}/done/").status_code == 404
    confirmed = api_as(members.cadre_a).post(f"{URL}{task.pk}/done/")
    assert confirmed.status_code == 200
    assert confirmed.json()["properties"]["claimer_name"] == "张党员"  # the branch reads who claimed it
    assert ServiceHours.objects.get(task=task).recorded_by == members.cadre_a


def test_the_branch_cancels_an_open_task_members_and_other_areas_may_not(api_as, members, people):
    task = _task(members)
    assert api_as(members.account).post(f"{URL}{task.pk}/cancel/").status_code == 403
    assert api_as(people["dispatcher_street_b"]).post(f"{URL}{task.pk}/cancel/").status_code == 404
    cancelled = api_as(people["dispatcher_a"]).post(f"{URL}{task.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["properties"]["status"] == "cancelled"
    assert api_as(people["dispatcher_a"]).post(f"{URL}{task.pk}/cancel/").status_code == 409
    assert api_as(members.account).post(f"{URL}{task.pk}/claim/").status_code == 409
