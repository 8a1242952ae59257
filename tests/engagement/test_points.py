"""The points ledger: append-only in the database, rules with caps, one entry per key (also from two threads at
once), corrections by administrators of the person's area, the member's ledger and the leaderboards."""

import datetime as dt
import threading
import uuid
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.admin.sites import site
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.utils import timezone

from engagement.admin.points import PointsEntryAdmin
from engagement.models import BranchCadre, CommunityRegistration, PointsEntry, PointsRule
from engagement.services.points import (
    AUDIT_POINTS_CORRECTION,
    InsufficientPoints,
    points_award,
    points_balance,
    points_correct,
    points_spend,
)
from grid.models import Role
from layers.models import AuditEntry, Organization, Person, PersonCategory
from tests.factories import UserFactory

ME = "/api/v1/engagement/points/me/"
BOARD = "/api/v1/engagement/points/leaderboard/"
CORRECTIONS = "/api/v1/engagement/points/corrections/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}  # the messages checked below are the English ones


def seed_rules() -> None:
    # a transactional test elsewhere may have flushed the rules that migration 0002 seeded
    import_module("engagement.migrations.0002_points_append_only").seed_rules(apps, None)


@pytest.fixture
def rules(db):
    seed_rules()
    return {rule.code: rule for rule in PointsRule.objects.all()}


def member(territory, name="张三丰", *, grid="A-S", branch=None, account=None) -> Person:
    g = territory.grids[grid]
    return Person.objects.create(
        name=name,
        grid=g,
        location=g.boundary.point_on_surface,
        branch=branch,
        account=account,
        categories=[PersonCategory.PARTY_MEMBER],
    )


def branch_in(territory, code="B-1", grid="A-S") -> Organization:
    g = territory.grids[grid]
    return Organization.objects.create(
        code=code, name=f"支部{code}", kind=Organization.Kind.BRANCH, geometry=g.boundary.point_on_surface, grid=g
    )


# ---- the ledger ------------------------------------------------------------------------------------------------


def test_the_database_refuses_to_update_or_delete_an_entry(territory, rules):
    person = member(territory)
    entry = points_award(person=person, rule_code="activity_checkin", source="t", key="k:1")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PointsEntry.objects.filter(pk=entry.pk).update(amount=100)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM engagement_pointsentry WHERE id = %s", [entry.pk])
    entry.refresh_from_db()
    assert entry.amount == 2
    assert points_balance(person=person) == 2


def test_the_balance_is_the_sum_of_the_entries_and_a_spend_never_overdraws(territory, rules):
    person = member(territory)
    points_award(person=person, rule_code="community_accepted", source="t", key="k:1")
    points_award(person=person, rule_code="volunteer_hour", source="t", key="k:2", units=3)
    assert points_balance(person=person) == 10 + 15
    points_spend(person=person, amount=20, reason="mall_order", source="t", key="spend:1")
    with pytest.raises(InsufficientPoints) as refused:
        points_spend(person=person, amount=6, reason="mall_order", source="t", key="spend:2")
    assert (refused.value.balance, refused.value.needed) == (5, 6)
    assert sorted(PointsEntry.objects.filter(person=person).values_list("amount", flat=True)) == [-20, 10, 15]


def test_the_sixth_check_in_of_a_day_earns_nothing_under_a_cap_of_ten(territory, rules):
    person = member(territory)
    assert (rules["activity_checkin"].amount, rules["activity_checkin"].daily_cap) == (2, 10)
    morning = timezone.localtime().replace(hour=8, minute=0)
    earned = [
        points_award(
            person=person, rule_code="activity_checkin", source="t", key=f"c:{i}", at=morning + dt.timedelta(hours=i)
        )
        for i in range(6)
    ]
    assert [e.amount for e in earned[:5]] == [2, 2, 2, 2, 2]
    assert earned[5] is None
    assert points_balance(person=person) == 10
    # the next day the cap starts again
    tomorrow = morning + dt.timedelta(days=1)
    assert points_award(person=person, rule_code="activity_checkin", source="t", key="c:t", at=tomorrow).amount == 2


def test_a_cap_gives_what_is_left_of_it_and_the_monthly_cap_holds(territory, rules):
    person = member(territory)
    rule = rules["activity_organized"]  # +5, 50 a month
    start = timezone.localtime().replace(day=1, hour=9, minute=0)
    amounts = [
        points_award(person=person, rule_code=rule.code, source="t", key=f"o:{i}", at=start + dt.timedelta(hours=i))
        for i in range(11)
    ]
    assert [a.amount for a in amounts[:10]] == [5] * 10 and amounts[10] is None
    PointsRule.objects.filter(pk=rule.pk).update(monthly_cap=52)
    assert points_award(person=person, rule_code=rule.code, source="t", key="o:x", at=start).amount == 2


def test_the_same_key_never_earns_twice_and_a_switched_off_rule_earns_nothing(territory, rules):
    person = member(territory)
    first = points_award(person=person, rule_code="report_resolved", source="grid.incident:1", key="r:grid.incident:1")
    again = points_award(person=person, rule_code="report_resolved", source="grid.incident:1", key="r:grid.incident:1")
    assert again.pk == first.pk
    assert PointsEntry.objects.filter(person=person).count() == 1
    PointsRule.objects.filter(code="report_resolved").update(active=False)
    assert points_award(person=person, rule_code="report_resolved", source="t", key="r:2") is None
    assert points_award(person=person, rule_code="no_such_rule", source="t", key="r:3") is None


@pytest.mark.django_db(transaction=True)
def test_two_threads_awarding_the_same_key_at_once_make_one_entry(territory):
    seed_rules()
    person = member(territory)
    barrier = threading.Barrier(2)
    answers, errors = [], []

    def award():
        try:
            barrier.wait(timeout=10)
            answers.append(
                points_award(person=person, rule_code="community_accepted", source="t", key="same:engagement.x:1")
            )
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=award) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len({a.pk for a in answers}) == 1
    assert PointsEntry.objects.filter(idempotency_key="same:engagement.x:1").count() == 1
    assert points_balance(person=person) == 10


# ---- corrections -------------------------------------------------------------------------------------------------


def test_an_administrator_of_the_area_corrects_with_a_note_audited_and_a_resend_makes_nothing(
    territory, people, rules, api_as
):
    person = member(territory)
    body = {"person": person.pk, "amount": 7, "note": "missed check-in", "client_uuid": str(uuid.uuid4())}
    made = api_as(people["admin"]).post(CORRECTIONS, body, format="json", **EN)
    assert made.status_code == 201, made.content
    assert made.json()["balance"] == 7 and made.json()["reason_name"] == "correction"
    again = api_as(people["admin"]).post(CORRECTIONS, body, format="json")
    assert again.status_code == 200 and again.json()["id"] == made.json()["id"]
    entry = PointsEntry.objects.get(person=person)
    assert (entry.amount, entry.note, entry.created_by) == (7, "missed check-in", people["admin"])
    audit = AuditEntry.objects.get(action=AUDIT_POINTS_CORRECTION)
    assert audit.reason == "missed check-in" and audit.details["entry"] == entry.pk
    assert audit.area == territory.community_a


def test_a_correction_is_refused_to_other_roles_and_outside_the_area(territory, people, rules, api_as):
    far_admin_area = territory.street_b
    outsider = UserFactory(username="admin-b", role=Role.ADMINISTRATOR, areas=[far_admin_area])
    person = member(territory)  # in street A
    body = {"person": person.pk, "amount": 5, "note": "n", "client_uuid": str(uuid.uuid4())}
    assert api_as(people["dispatcher_a"]).post(CORRECTIONS, body, format="json").status_code == 403
    foreign = api_as(outsider).post(CORRECTIONS, body, format="json")
    missing = api_as(outsider).post(CORRECTIONS, {**body, "person": 2_000_000}, format="json")
    assert foreign.status_code == missing.status_code == 400
    assert foreign.json() == missing.json() and "person" in foreign.json()
    assert not PointsEntry.objects.exists()


def test_bad_corrections_name_the_field_and_none_overdraws(territory, people, rules, api_as):
    person = member(territory)
    client = api_as(people["admin"])
    base = {"person": person.pk, "amount": 5, "note": "n", "client_uuid": str(uuid.uuid4())}
    for field, value in (("amount", 0), ("amount", "many"), ("note", ""), ("client_uuid", "x"), ("person", "a")):
        answer = client.post(CORRECTIONS, {**base, field: value}, format="json")
        assert answer.status_code == 400 and field in answer.json(), (field, value)
    points_award(person=person, rule_code="community_accepted", source="t", key="k")
    overdraw = client.post(CORRECTIONS, {**base, "amount": -11}, format="json")
    assert overdraw.status_code == 409
    assert overdraw.json()["balance"] == 10 and "10" in overdraw.json()["detail"]
    assert points_balance(person=person) == 10


def test_the_admin_lists_entries_read_only_and_reverses_them_with_new_entries(territory, people, rules):
    person = member(territory)
    entry = points_award(person=person, rule_code="community_accepted", source="t", key="k")
    admin_user = UserFactory(username="super", is_superuser=True, is_staff=True)
    model_admin = PointsEntryAdmin(PointsEntry, site)
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    assert not model_admin.has_add_permission(request)
    request._messages = type("M", (), {"add": lambda *a, **k: None})()
    model_admin.reverse_entries(request, PointsEntry.objects.filter(pk=entry.pk))
    model_admin.reverse_entries(request, PointsEntry.objects.filter(pk=entry.pk))  # twice: still one reversal
    assert sorted(PointsEntry.objects.filter(person=person).values_list("amount", flat=True)) == [-10, 10]
    assert points_balance(person=person) == 0


def test_a_correction_by_the_service_is_one_entry_per_key(territory, people, rules):
    person = member(territory)
    a = points_correct(person=person, amount=3, note="n", key="correction:x", by=people["admin"])
    b = points_correct(person=person, amount=3, note="n", key="correction:x", by=people["admin"])
    assert a.pk == b.pk and points_balance(person=person) == 3


# ---- my points ---------------------------------------------------------------------------------------------------


def test_my_points_give_the_balance_and_the_entries_newest_first_with_reason_names(
    territory, rules, api_as, django_assert_max_num_queries
):
    account = UserFactory(username="member-1", role=Role.GIG_WORKER)
    person = member(territory, account=account)
    now = timezone.now()
    for i in range(25):
        points_award(
            person=person, rule_code="volunteer_hour", source="t", key=f"v:{i}", at=now - dt.timedelta(days=40 - i)
        )
    points_spend(person=person, amount=30, reason="mall_order", source="engagement.mallorder:1", key="s:1")
    client = api_as(account)
    with django_assert_max_num_queries(12):
        answer = client.get(ME, **EN)
    assert answer.status_code == 200
    body = answer.json()
    assert body["balance"] == 25 * 5 - 30
    assert body["count"] == 26 and len(body["results"]) == 20 and body["next"]
    first = body["results"][0]
    assert (first["amount"], first["reason"], first["reason_name"]) == (-30, "mall_order", "spent in the mall")
    assert body["results"][1]["reason_name"] == "each volunteer hour"
    created = [r["created"] for r in body["results"]]
    assert created == sorted(created, reverse=True)
    second = client.get(ME, {"page": 2}).json()
    assert len(second["results"]) == 6
    assert client.get(ME, {"page": "x"}).status_code == 400
    assert client.get(ME, {"page": 9}).status_code == 404


def test_an_account_without_a_member_record_has_no_ledger(territory, people, api_as):
    answer = api_as(people["dispatcher_a"]).get(ME, **EN)
    assert answer.status_code == 404 and "member record" in answer.json()["detail"]
    assert api_as(people["dispatcher_a"]).get(ME).status_code == 404


def test_my_points_are_mine_only(territory, rules, api_as):
    mine = UserFactory(username="m-1", role=Role.GIG_WORKER)
    other = UserFactory(username="m-2", role=Role.GIG_WORKER)
    points_award(person=member(territory, account=mine), rule_code="community_accepted", source="t", key="a")
    points_award(person=member(territory, "李四", account=other), rule_code="volunteer_hour", source="t", key="b")
    assert api_as(mine).get(ME).json()["balance"] == 10
    assert api_as(other).get(ME).json()["balance"] == 5


# ---- leaderboards ------------------------------------------------------------------------------------------------


def _board(territory, rules):
    branch = branch_in(territory)
    a = member(territory, "张三丰", branch=branch)
    b = member(territory, "李小龙", branch=branch)
    c = member(territory, "王五", branch=branch)
    long_ago = timezone.now() - dt.timedelta(days=70)
    points_award(person=a, rule_code="community_accepted", source="t", key="a1", at=long_ago)
    points_award(person=a, rule_code="community_accepted", source="t", key="a2", at=long_ago)  # 20, not this month
    points_award(person=b, rule_code="volunteer_hour", source="t", key="b1", units=3)  # 15 this month
    points_award(person=c, rule_code="activity_checkin", source="t", key="c1")  # 2 this month
    points_spend(person=b, amount=10, reason="mall_order", source="t", key="b-spend")  # spending is no rank
    return branch, a, b, c


def test_a_branch_leaderboard_ranks_this_month_and_all_time_and_masks_names_for_outsiders(
    territory, people, rules, api_as
):
    branch, a, b, c = _board(territory, rules)
    outsider = UserFactory(username="outsider", role=Role.RESIDENT)
    body = api_as(outsider).get(BOARD, {"branch": branch.pk}).json()
    assert body["names_visible"] is False
    assert [(r["name"], r["points"]) for r in body["month"]] == [("李**", 15), ("王*", 2)]
    assert [(r["name"], r["points"]) for r in body["all_time"]] == [("张**", 20), ("李**", 15), ("王*", 2)]
    assert all(r["person"] is None for r in body["all_time"])
    # the branch's own members, its cadres and the staff of its area read the names
    account = UserFactory(username="member-c", role=Role.GIG_WORKER)
    Person.objects.filter(pk=c.pk).update(account=account)
    own = api_as(account).get(BOARD, {"branch": branch.pk}).json()
    assert own["names_visible"] is True
    assert [r["name"] for r in own["all_time"]] == ["张三丰", "李小龙", "王五"]
    assert [r["me"] for r in own["all_time"]] == [False, False, True]
    assert api_as(people["dispatcher_a"]).get(BOARD, {"branch": branch.pk}).json()["names_visible"] is True
    assert api_as(people["dispatcher_street_b"]).get(BOARD, {"branch": branch.pk}).json()["names_visible"] is False
    secretary = UserFactory(username="secretary", role=Role.RESIDENT)
    BranchCadre.objects.create(branch=branch, person=member(territory, "赵书记", account=secretary))
    assert api_as(secretary).get(BOARD, {"branch": branch.pk}).json()["names_visible"] is True


def test_an_outsider_sees_its_own_name_on_a_board(territory, rules, api_as):
    branch, a, b, c = _board(territory, rules)
    account = UserFactory(username="mobile", role=Role.GIG_WORKER)
    registered = member(territory, "钱七七", grid="B-S", account=account)  # lives in community B
    points_award(person=registered, rule_code="volunteer_hour", source="t", key="r1", units=10)
    CommunityRegistration.objects.create(
        person=registered,
        community=territory.community_a,
        status=CommunityRegistration.Status.ACCEPTED,
        client_uuid=uuid.uuid4(),
    )
    body = api_as(account).get(BOARD, {"community": territory.community_a.code}).json()
    assert body["names_visible"] is False
    assert [(r["name"], r["me"]) for r in body["all_time"]] == [
        ("钱七七", True),
        ("张**", False),
        ("李**", False),
        ("王*", False),
    ]


def test_a_community_leaderboard_shows_names_to_the_community_staff(territory, people, rules, api_as):
    _board(territory, rules)
    code = territory.community_a.code
    assert api_as(people["worker"]).get(BOARD, {"community": code}).json()["names_visible"] is True
    assert api_as(people["auditor"]).get(BOARD, {"community": code}).json()["names_visible"] is True
    assert api_as(people["dispatcher_street_b"]).get(BOARD, {"community": code}).json()["names_visible"] is False
    assert (
        api_as(people["dispatcher_street_b"]).get(BOARD, {"community": territory.community_b.code}).json()["all_time"]
        == []
    )


def test_leaderboard_bad_input_and_unknown_scopes(territory, people, rules, api_as, api):
    client = api_as(people["resident"])
    for query in ({}, {"branch": 1, "community": "1"}, {"branch": "x"}, {"community": "abc"}, {"limit": 0}):
        answer = client.get(BOARD, query)
        assert answer.status_code == 400, query
    assert client.get(BOARD, {"branch": 2_000_000}).status_code == 404
    assert client.get(BOARD, {"community": territory.street_a.code}).status_code == 404  # a street is no community
    assert api.get(BOARD, {"branch": 1}).status_code == 401
