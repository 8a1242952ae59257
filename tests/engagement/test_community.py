"""Community check-in (进社区报到) through the API: a member registers where they live or work, the community's
dispatcher decides, the roster shows the accepted, and an acceptance lets the account claim the community's service
requests (and takes it back when it ends)."""

import uuid
from dataclasses import dataclass
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.gis.geos import Point

from engagement.models import CommunityRegistration, PointsEntry
from grid.crs import CRS, from_wgs84
from grid.models import Category, Incident, Role, User
from layers.models import Organization, Person, PersonCategory
from tests.factories import IncidentFactory, UserFactory

URL = "/api/v1/engagement/community/registrations/"
IN_A = (109.925, 35.175)  # grid A-S, community A (see tests/conftest.py)
IN_B = (109.975, 35.175)  # grid B-S, community B


@dataclass
class Members:
    branch_a: Organization
    branch_b: Organization
    member: Person  # a party member and gig worker with an account, living in community A
    account: User
    other: Person  # a member of branch B with an account
    other_account: User
    cadre_a: User  # an account that is a cadre of branch A (see test_volunteering)


@pytest.fixture
def rules(db):
    # a transactional test elsewhere may have flushed the rules that migration 0002 seeded
    import_module("engagement.migrations.0002_points_append_only").seed_rules(apps, None)


@pytest.fixture
def members(territory, people, rules) -> Members:
    from engagement.models import BranchCadre

    grid_a, grid_b = territory.grids["A-S"], territory.grids["B-S"]
    branch_a = Organization.objects.create(
        code="T-BR-A", name="甲支部", kind=Organization.Kind.BRANCH, geometry=Point(*IN_A, srid=4326), grid=grid_a
    )
    branch_b = Organization.objects.create(
        code="T-BR-B", name="乙支部", kind=Organization.Kind.BRANCH, geometry=Point(*IN_B, srid=4326), grid=grid_b
    )
    account = UserFactory(username="gig-member", role=Role.GIG_WORKER)
    member = Person.objects.create(
        name="张党员",
        grid=grid_a,
        location=Point(109.921, 35.171, srid=4326),
        branch=branch_a,
        account=account,
        categories=[PersonCategory.PARTY_MEMBER, PersonCategory.GIG_WORKER],
    )
    other_account = UserFactory(username="other-member", role=Role.RESIDENT)
    other = Person.objects.create(
        name="李党员",
        grid=grid_b,
        location=Point(*IN_B, srid=4326),
        branch=branch_b,
        account=other_account,
        categories=[PersonCategory.PARTY_MEMBER],
    )
    cadre_account = UserFactory(username="secretary-a", role=Role.RESIDENT)
    cadre = Person.objects.create(name="王书记", grid=grid_a, branch=branch_a, account=cadre_account)
    BranchCadre.objects.create(branch=branch_a, person=cadre)
    return Members(branch_a, branch_b, member, account, other, other_account, cadre_account)


def register(client, **fields):
    return client.post(URL, {"basis": "live", "client_uuid": str(uuid.uuid4()), **fields}, format="json")


# ---- registering ---------------------------------------------------------------------------------------------


def test_a_member_registers_once_per_client_uuid_and_once_per_community(api_as, members, territory):
    phone = api_as(members.account)
    key = str(uuid.uuid4())
    first = register(phone, community=territory.community_a.code, client_uuid=key, note="住在甲社区")
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["community"], body["status"], body["basis"]) == (territory.community_a.code, "pending", "live")
    again = register(phone, community=territory.community_a.code, client_uuid=key)
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    # a new registration with the same community while one is pending: refused, naming the one there is
    second = register(phone, community=territory.community_a.code)
    assert second.status_code == 409
    assert territory.community_a.name in second.json()["detail"]
    assert CommunityRegistration.objects.filter(person=members.member).count() == 1
    # where they work, elsewhere: a second registration
    assert register(phone, community=territory.community_b.code, basis="work").status_code == 201
    mine = phone.get(f"{URL}mine/").json()
    assert [r["community"] for r in mine] == [territory.community_b.code, territory.community_a.code]


def test_registering_by_position_finds_the_community_from_a_phone_coordinate_system(api_as, members, territory):
    lon, lat = from_wgs84(*IN_B, CRS.GCJ02)
    response = register(api_as(members.account), lon=lon, lat=lat, crs="gcj02", basis="work")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["community"] == territory.community_b.code
    stored = CommunityRegistration.objects.get(pk=body["id"]).location
    assert abs(stored.x - IN_B[0]) < 1e-5 and abs(stored.y - IN_B[1]) < 1e-5


def test_another_persons_client_uuid_is_a_conflict(api_as, members, territory):
    key = str(uuid.uuid4())
    assert register(api_as(members.account), community=territory.community_a.code, client_uuid=key).status_code == 201
    theirs = register(api_as(members.other_account), community=territory.community_a.code, client_uuid=key)
    assert theirs.status_code == 409
    assert CommunityRegistration.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "community"),
        ({"community": "999999999999"}, "community"),
        ({"community": "61052700100x"}, "community"),
        ({"community": "610527001"}, "community"),  # a street, not a community
        ({"lon": 100.0, "lat": 30.0}, "lon"),  # outside every grid
        ({"lon": 109.93}, "lat"),
        ({"lon": "nan", "lat": 35.17}, "lon"),
        ({"community": "610527001001", "basis": "holiday"}, "basis"),
        ({"community": "610527001001", "note": "x" * 301}, "note"),
        ({"community": "610527001001", "note": "a\x00b"}, "note"),
        ({"community": "610527001001", "client_uuid": "not-a-uuid"}, "client_uuid"),
        ({"community": ["610527001001"]}, "community"),
    ],
)
def test_bad_registrations_are_refused_field_by_field_and_nothing_is_written(api_as, members, fields, field):
    response = register(api_as(members.account), **fields)
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert CommunityRegistration.objects.count() == 0


def test_an_account_without_a_person_of_the_register_cannot_register(api_as, people, territory, rules):
    response = register(api_as(people["resident"]), community=territory.community_a.code)
    assert response.status_code == 403
    assert api_as(people["resident"]).get(f"{URL}mine/").json() == []


# ---- deciding ------------------------------------------------------------------------------------------------


def _pending(members, community, person=None) -> CommunityRegistration:
    return CommunityRegistration.objects.create(
        person=person or members.member, community=community, basis="live", client_uuid=uuid.uuid4()
    )


def test_the_communitys_dispatcher_lists_its_pending_registrations_and_nobody_elses(
    api_as, members, people, territory, django_assert_num_queries
):
    mine = _pending(members, territory.community_a)
    _pending(members, territory.community_a, person=members.other)
    foreign = _pending(members, territory.community_b)
    client = api_as(people["dispatcher_a"])
    client.get(f"{URL}?status=pending")  # the token's first use writes its last-used time
    with django_assert_num_queries(3):  # the token, the registrations with their scope, the rest joined
        listed = client.get(f"{URL}?status=pending")
    ids = {r["id"] for r in listed.json()}
    assert mine.pk in ids and foreign.pk not in ids and len(ids) == 2
    assert {r["person_name"] for r in listed.json()} == {"张党员", "李党员"}
    by_community = client.get(f"{URL}?community={territory.community_a.code}").json()
    assert len(by_community) == 2
    # the other street's community: as unknown as one that does not exist
    assert client.get(f"{URL}?community={territory.community_b.code}").status_code == 404
    assert client.get(f"{URL}?status=maybe").status_code == 400
    assert api_as(people["dispatcher_street_b"]).get(URL).json()[0]["id"] == foreign.pk
    assert {r["id"] for r in api_as(people["admin"]).get(URL).json()} == {r.pk for r in [mine, foreign]} | ids
    assert api_as(people["worker"]).get(URL).status_code == 403
    assert api_as(members.account).get(URL).status_code == 403


def test_acceptance_lets_the_account_claim_the_communitys_service_requests_and_earns_points_once(
    api_as, members, people, territory
):
    registration = _pending(members, territory.community_b)
    request = IncidentFactory(
        location=Point(*IN_B, srid=4326),
        kind=Incident.Kind.REQUEST,
        status=Incident.Status.ACCEPTED,
        open_to_volunteers=True,
        category=Category.objects.get_or_create(code="litter", defaults={"name": "垃圾"})[0],
    )
    from grid.services import incidents_place

    incidents_place()
    phone = api_as(members.account)
    claim = f"/api/v1/incidents/{request.pk}/transitions/"
    assert phone.post(claim, {"action": "claim"}, format="json").status_code == 404  # not yet in reach

    answer = api_as(people["dispatcher_street_b"]).post(f"{URL}{registration.pk}/accept/", {"answer": "欢迎"})
    assert answer.status_code == 200, answer.content
    assert (answer.json()["status"], answer.json()["answer"]) == ("accepted", "欢迎")
    members.account.refresh_from_db()
    assert members.account.volunteer and territory.community_b in members.account.areas.all()
    entry = PointsEntry.objects.get(person=members.member)
    assert (entry.amount, entry.reason) == (10, "community_accepted")
    assert entry.idempotency_key == f"community_accepted:engagement.communityregistration:{registration.pk}"
    # deciding again: refused, nothing earned twice
    assert api_as(people["admin"]).post(f"{URL}{registration.pk}/accept/").status_code == 409
    assert PointsEntry.objects.filter(person=members.member).count() == 1

    claimed = phone.post(claim, {"action": "claim"}, format="json")
    assert claimed.status_code == 200, claimed.content
    assert Incident.objects.get(pk=request.pk).assignee == members.account


def test_withdrawing_or_declining_takes_the_reach_back_but_not_what_the_account_had_before(
    api_as, members, people, territory
):
    members.account.areas.add(territory.community_a)  # given by an administrator, not by a registration
    in_a = _pending(members, territory.community_a)
    in_b = _pending(members, territory.community_b)
    assert api_as(people["dispatcher_a"]).post(f"{URL}{in_a.pk}/accept/").status_code == 200
    assert api_as(people["dispatcher_street_b"]).post(f"{URL}{in_b.pk}/accept/").status_code == 200
    account = User.objects.get(pk=members.account.pk)
    assert set(account.areas.all()) == {territory.community_a, territory.community_b} and account.volunteer

    # the acceptance in B made the account a volunteer; withdrawing A keeps it (B still covers it), and keeps A,
    # which the administrator gave
    assert api_as(members.account).post(f"{URL}{in_a.pk}/withdraw/").status_code == 200
    account = User.objects.get(pk=members.account.pk)
    assert set(account.areas.all()) == {territory.community_a, territory.community_b} and account.volunteer

    declined = api_as(people["dispatcher_street_b"]).post(f"{URL}{in_b.pk}/decline/", {"answer": "不在本社区"})
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    account = User.objects.get(pk=members.account.pk)
    assert set(account.areas.all()) == {territory.community_a} and not account.volunteer
    assert CommunityRegistration.objects.get(pk=in_b.pk).answer == "不在本社区"
    # ended registrations are ended: withdrawing again is refused
    assert api_as(members.account).post(f"{URL}{in_a.pk}/withdraw/").status_code == 409


def test_staff_accounts_areas_are_never_touched_by_an_acceptance(api_as, members, people, territory):
    dispatcher = people["dispatcher_street_b"]
    person = Person.objects.create(name="调度员党员", grid=territory.grids["A-S"], account=dispatcher)
    registration = _pending(members, territory.community_a, person=person)
    assert api_as(people["dispatcher_a"]).post(f"{URL}{registration.pk}/accept/").status_code == 200
    assert list(User.objects.get(pk=dispatcher.pk).areas.all()) == [territory.street_b]


def test_a_decision_outside_the_callers_area_is_as_absent_as_a_missing_registration(api_as, members, people, territory):
    foreign = _pending(members, territory.community_b)
    dispatcher = api_as(people["dispatcher_a"])
    for action in ("accept", "decline"):
        assert dispatcher.post(f"{URL}{foreign.pk}/{action}/", {"answer": "x"}).status_code == 404
        assert dispatcher.post(f"{URL}2147483000/{action}/", {"answer": "x"}).status_code == 404
    assert CommunityRegistration.objects.get(pk=foreign.pk).status == "pending"
    # neither members, grid workers nor auditors decide
    for user in (members.account, people["worker"], people["auditor"]):
        assert api_as(user).post(f"{URL}{foreign.pk}/accept/").status_code == 403
    # a decline needs its reason
    mine = _pending(members, territory.community_a)
    assert dispatcher.post(f"{URL}{mine.pk}/decline/", {}).status_code == 400
    assert dispatcher.post(f"{URL}{mine.pk}/decline/", {"answer": "y" * 301}).status_code == 400


def test_a_member_withdraws_only_their_own_registration(api_as, members, territory):
    theirs = _pending(members, territory.community_a, person=members.other)
    assert api_as(members.account).post(f"{URL}{theirs.pk}/withdraw/").status_code == 404
    assert CommunityRegistration.objects.get(pk=theirs.pk).status == "pending"


# ---- the roster ----------------------------------------------------------------------------------------------


def test_the_roster_shows_accepted_members_with_names_for_the_communitys_staff_only(
    api_as, api, members, people, territory
):
    accepted = _pending(members, territory.community_a)
    _pending(members, territory.community_a, person=members.other)  # pending: not on the roster
    assert api_as(people["dispatcher_a"]).post(f"{URL}{accepted.pk}/accept/").status_code == 200
    roster = f"/api/v1/engagement/community/{territory.community_a.code}/roster/"

    staff = api_as(people["dispatcher_a"]).get(roster).json()
    assert staff["count"] == 1 and staff["names_shown"] is True
    feature = staff["features"][0]
    assert feature["properties"]["name"] == "张党员"
    assert feature["geometry"]["coordinates"] == [109.921, 35.171]  # the person's address point

    for outsider in (members.other_account, people["dispatcher_street_b"]):
        public = api_as(outsider).get(roster).json()
        assert public["count"] == 1 and public["names_shown"] is False
        assert "name" not in public["features"][0]["properties"]
        assert "张党员" not in str(public)
    assert api.get(roster).status_code == 401
    assert api_as(members.account).get("/api/v1/engagement/community/999999999999/roster/").status_code == 404


def test_the_communities_nearest_a_point_start_with_the_one_it_lies_in(api_as, members, territory):
    response = api_as(members.account).get("/api/v1/engagement/community/nearest/?lon=109.93&lat=35.2&limit=2")
    assert response.status_code == 200
    rows = response.json()
    assert rows[0]["code"] == territory.community_a.code and rows[0]["distance_m"] == 0
    # 109.93 → 109.95 at 35.2°N: about 1.82 km (a degree of longitude is 111.32 km · cos 35.2°)
    assert abs(rows[1]["distance_m"] - 1820) < 15
    assert api_as(members.account).get("/api/v1/engagement/community/nearest/?lon=200&lat=35").status_code == 400
