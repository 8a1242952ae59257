"""The station mall over its API: items at the nearest stations, ordering for points with a pickup code and QR
code, resends, refusals that write nothing, my orders, cancelling (points and stock return) and the keeper's
pickup."""

import base64
import uuid

import cv2
import numpy as np
import pytest
from django.contrib.gis.geos import Point
from pyproj import Geod

from engagement.models import MallItem, MallOrder, PointsEntry, StationKeeper
from engagement.models.points import MALL_ORDER, MALL_REFUND
from engagement.services.mall import PICKUP_ALPHABET, PICKUP_LENGTH, mall_item_stock_add
from engagement.services.points import points_balance, points_credit
from grid.crs import wgs84_to_gcj02
from grid.models import Role
from layers.models import Person, PersonCategory
from tests.factories import StationFactory, UserFactory

ITEMS = "/api/v1/engagement/mall/items/"
ORDERS = "/api/v1/engagement/mall/orders/"
MINE = "/api/v1/engagement/mall/orders/mine/"
PICKUPS = "/api/v1/engagement/mall/pickups/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
GEOD = Geod(ellps="WGS84")
HERE = (109.93, 35.19)


def cancel_url(order_id) -> str:
    return f"/api/v1/engagement/mall/orders/{order_id}/cancel/"


def member_with(territory, username: str, points: int, name: str = "张三") -> tuple:
    account = UserFactory(username=username, role=Role.GIG_WORKER)
    person = Person.objects.create(
        name=name,
        grid=territory.grids["A-S"],
        location=Point(*HERE, srid=4326),
        account=account,
        categories=[PersonCategory.GIG_WORKER, PersonCategory.PARTY_MEMBER],
    )
    if points:
        points_credit(person=person, amount=points, reason="correction", source="test", key=f"seed:{username}")
    return account, person


@pytest.fixture
def shop(territory):
    """Three stations east of HERE with items; the nearest has two."""
    near = StationFactory(name="近站", location=Point(HERE[0] + 0.001, HERE[1], srid=4326))
    mid = StationFactory(name="中站", location=Point(HERE[0] + 0.01, HERE[1], srid=4326))
    far = StationFactory(name="远站", location=Point(HERE[0] + 0.1, HERE[1], srid=4326))
    StationFactory(name="空站", location=Point(HERE[0] + 0.0005, HERE[1], srid=4326))  # offers nothing
    items = {
        "water": MallItem.objects.create(name="矿泉水", price=20, stock=5, station=near),
        "towel": MallItem.objects.create(name="毛巾", price=10, stock=1, station=near),
        "umbrella": MallItem.objects.create(name="雨伞", price=50, stock=3, station=mid),
        "helmet": MallItem.objects.create(name="头盔", price=80, stock=2, station=far),
        "retired": MallItem.objects.create(name="旧货", price=5, stock=9, station=mid, active=False),
    }
    return {"near": near, "mid": mid, "far": far, "items": items}


def qr_text(data_uri: str) -> str:
    png = base64.b64decode(data_uri.split(",", 1)[1])
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return text


# ---- items -------------------------------------------------------------------------------------------------------


def test_items_come_from_the_nearest_stations_with_their_names_and_true_distances(shop, territory, api_as):
    account, _ = member_with(territory, "m1", 0)
    answer = api_as(account).get(ITEMS, {"near": f"{HERE[0]},{HERE[1]}", "stations": 2})
    assert answer.status_code == 200
    items = answer.json()
    assert [i["name"] for i in items] == ["毛巾", "矿泉水", "雨伞"]  # nearest station first, cheapest first in it
    assert {i["station"]["name"] for i in items} == {"近站", "中站"}
    _, _, metres = GEOD.inv(HERE[0], HERE[1], HERE[0] + 0.001, HERE[1])
    assert abs(items[0]["station"]["distance_m"] - metres) < 1
    assert (items[0]["price"], items[0]["stock"], items[0]["picture"]) == (10, 1, None)


def test_items_near_a_gcj02_point_are_those_near_its_wgs84_point(shop, territory, api_as):
    account, _ = member_with(territory, "m1", 0)
    lon, lat = wgs84_to_gcj02(*HERE)
    client = api_as(account)
    gcj = client.get(ITEMS, {"near": f"{lon},{lat}", "crs": "gcj02", "stations": 1}).json()
    wgs = client.get(ITEMS, {"near": f"{HERE[0]},{HERE[1]}", "stations": 1}).json()
    assert [i["id"] for i in gcj] == [i["id"] for i in wgs]
    assert abs(gcj[0]["station"]["distance_m"] - wgs[0]["station"]["distance_m"]) < 2


def test_items_without_a_point_and_bad_points(shop, territory, api_as, api):
    account, _ = member_with(territory, "m1", 0)
    client = api_as(account)
    everything = client.get(ITEMS, {"stations": 20}).json()
    assert len(everything) == 4 and all(i["station"]["distance_m"] is None for i in everything)
    for near in ("109.9", "a,b", "200,35", "nan,35", "1,2,3"):
        answer = client.get(ITEMS, {"near": near})
        assert answer.status_code == 400 and "near" in answer.json(), near
    assert client.get(ITEMS, {"crs": "utm"}).status_code == 400
    assert client.get(ITEMS, {"stations": 0}).status_code == 400
    assert api.get(ITEMS).status_code == 401


# ---- ordering ----------------------------------------------------------------------------------------------------


def test_an_order_spends_the_price_takes_one_from_stock_and_gives_a_pickup_code_and_qr(shop, territory, api_as):
    account, person = member_with(territory, "m1", 100)
    water = shop["items"]["water"]
    answer = api_as(account).post(ORDERS, {"item": water.pk, "client_uuid": str(uuid.uuid4())}, format="json")
    assert answer.status_code == 201, answer.content
    order = answer.json()
    assert order["status"] == "ordered" and order["points"] == 20
    assert order["item"]["station"]["name"] == "近站"
    code = order["pickup_code"]
    assert len(code) == PICKUP_LENGTH and set(code) <= set(PICKUP_ALPHABET)
    assert qr_text(order["pickup_qr"]) == code
    assert points_balance(person=person) == 80
    water.refresh_from_db()
    assert water.stock == 4
    spend = PointsEntry.objects.get(person=person, reason=MALL_ORDER)
    assert spend.amount == -20 and spend.source == f"engagement.mallorder:{order['id']}"


def test_pickup_codes_differ_between_orders(shop, territory, api_as):
    account, _ = member_with(territory, "m1", 1000)
    client = api_as(account)
    codes = {
        client.post(ORDERS, {"item": shop["items"]["water"].pk, "client_uuid": str(uuid.uuid4())}).json()["pickup_code"]
        for _ in range(5)
    }
    assert len(codes) == 5


def test_a_resent_order_answers_the_same_order_and_spends_once(shop, territory, api_as):
    account, person = member_with(territory, "m1", 100)
    body = {"item": shop["items"]["water"].pk, "client_uuid": str(uuid.uuid4())}
    first = api_as(account).post(ORDERS, body, format="json")
    again = api_as(account).post(ORDERS, body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert MallOrder.objects.count() == 1 and points_balance(person=person) == 80
    # the same client id from another account is not that account's order
    other, _ = member_with(territory, "m2", 100, "李四")
    stolen = api_as(other).post(ORDERS, body, format="json")
    assert stolen.status_code == 409 and "pickup_code" not in stolen.json()


def test_an_order_above_the_balance_names_balance_and_price_and_writes_nothing(shop, territory, api_as):
    account, person = member_with(territory, "m1", 15)
    water = shop["items"]["water"]
    answer = api_as(account).post(ORDERS, {"item": water.pk, "client_uuid": str(uuid.uuid4())}, format="json", **EN)
    assert answer.status_code == 409
    body = answer.json()
    assert (body["balance"], body["price"]) == (15, 20)
    assert "15" in body["detail"] and "20" in body["detail"]
    water.refresh_from_db()
    assert water.stock == 5 and not MallOrder.objects.exists()
    assert points_balance(person=person) == 15 and PointsEntry.objects.filter(person=person).count() == 1


def test_an_item_out_of_stock_unknown_or_not_on_offer_is_refused_with_nothing_written(shop, territory, api_as):
    account, person = member_with(territory, "m1", 100)
    client = api_as(account)
    towel = shop["items"]["towel"]
    assert client.post(ORDERS, {"item": towel.pk, "client_uuid": str(uuid.uuid4())}).status_code == 201
    sold_out = client.post(ORDERS, {"item": towel.pk, "client_uuid": str(uuid.uuid4())}, format="json", **EN)
    assert sold_out.status_code == 409 and "out of stock" in sold_out.json()["detail"]
    for item in (2_000_000, shop["items"]["retired"].pk, "x", None):
        answer = client.post(ORDERS, {"item": item, "client_uuid": str(uuid.uuid4())}, format="json")
        assert answer.status_code == 400 and "item" in answer.json(), item
    assert client.post(ORDERS, {"item": towel.pk, "client_uuid": "nope"}, format="json").status_code == 400
    assert MallOrder.objects.count() == 1 and points_balance(person=person) == 90


def test_an_account_without_a_member_record_cannot_order(shop, territory, people, api_as):
    body = {"item": shop["items"]["water"].pk, "client_uuid": str(uuid.uuid4())}
    assert api_as(people["dispatcher_a"]).post(ORDERS, body, format="json").status_code == 403
    assert api_as(people["dispatcher_a"]).get(MINE).status_code == 403
    assert not MallOrder.objects.exists()


# ---- my orders and cancelling ----------------------------------------------------------------------------------


def test_my_orders_are_mine_newest_first_in_a_fixed_number_of_queries(
    shop, territory, api_as, django_assert_max_num_queries
):
    account, _ = member_with(territory, "m1", 1000)
    other, _ = member_with(territory, "m2", 1000, "李四")
    client = api_as(account)
    made = [
        client.post(ORDERS, {"item": shop["items"][k].pk, "client_uuid": str(uuid.uuid4())}).json()["id"]
        for k in ("water", "umbrella", "helmet")
    ]
    api_as(other).post(ORDERS, {"item": shop["items"]["water"].pk, "client_uuid": str(uuid.uuid4())})
    with django_assert_max_num_queries(10):
        page = client.get(MINE).json()
    assert [o["id"] for o in page["results"]] == made[::-1]
    assert all(o["pickup_qr"] for o in page["results"])


def test_cancelling_returns_the_points_and_the_stock_once(shop, territory, api_as):
    account, person = member_with(territory, "m1", 100)
    client = api_as(account)
    water = shop["items"]["water"]
    order = client.post(ORDERS, {"item": water.pk, "client_uuid": str(uuid.uuid4())}).json()
    cancelled = client.post(cancel_url(order["id"]))
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["pickup_qr"] is None
    again = client.post(cancel_url(order["id"]))
    assert again.status_code == 200
    water.refresh_from_db()
    assert water.stock == 5 and points_balance(person=person) == 100
    refund = PointsEntry.objects.get(person=person, reason=MALL_REFUND)
    assert refund.amount == 20 and PointsEntry.objects.filter(person=person).count() == 3


def test_another_members_order_cannot_be_cancelled_nor_a_picked_up_one(shop, territory, api_as):
    account, _ = member_with(territory, "m1", 100)
    other, _ = member_with(territory, "m2", 100, "李四")
    order = api_as(account).post(ORDERS, {"item": shop["items"]["water"].pk, "client_uuid": str(uuid.uuid4())})
    order_id = order.json()["id"]
    assert api_as(other).post(cancel_url(order_id)).status_code == 404
    assert api_as(other).post(cancel_url(2_000_000)).status_code == 404
    MallOrder.objects.filter(pk=order_id).update(status=MallOrder.Status.PICKED_UP)
    assert api_as(account).post(cancel_url(order_id)).status_code == 409
    assert not PointsEntry.objects.filter(reason=MALL_REFUND).exists()


# ---- pickup ------------------------------------------------------------------------------------------------------


@pytest.fixture
def ordered(shop, territory, api_as):
    account, person = member_with(territory, "m1", 100, "张三丰")
    answer = api_as(account).post(ORDERS, {"item": shop["items"]["water"].pk, "client_uuid": str(uuid.uuid4())})
    keeper = UserFactory(username="keeper", role=Role.RESIDENT)
    StationKeeper.objects.create(station=shop["near"], account=keeper)
    other_keeper = UserFactory(username="keeper-2", role=Role.RESIDENT)
    StationKeeper.objects.create(station=shop["mid"], account=other_keeper)
    return {"order": answer.json(), "keeper": keeper, "other_keeper": other_keeper, "member": account}


def test_the_keeper_of_the_station_confirms_a_pickup_once_and_a_second_use_names_the_code(ordered, api_as):
    code = ordered["order"]["pickup_code"]
    client = api_as(ordered["keeper"])
    done = client.post(PICKUPS, {"pickup_code": code}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "picked_up" and done.json()["member"] == "张**"
    order = MallOrder.objects.get(pk=ordered["order"]["id"])
    assert order.picked_up_by == ordered["keeper"] and order.picked_up_at is not None
    twice = client.post(PICKUPS, {"pickup_code": code}, format="json", **EN)
    assert twice.status_code == 409 and code in twice.json()["detail"]


def test_a_typed_code_in_lower_case_with_dashes_is_the_same_code(ordered, api_as):
    code = ordered["order"]["pickup_code"]
    typed = f"{code[:4].lower()}-{code[4:8]} {code[8:]}"
    assert api_as(ordered["keeper"]).post(PICKUPS, {"pickup_code": typed}, format="json").status_code == 200


def test_other_stations_keepers_get_404_and_non_keepers_403(ordered, people, api_as):
    code = ordered["order"]["pickup_code"]
    other = api_as(ordered["other_keeper"]).post(PICKUPS, {"pickup_code": code}, format="json")
    unknown = api_as(ordered["other_keeper"]).post(PICKUPS, {"pickup_code": "0" * 12}, format="json")
    assert other.status_code == unknown.status_code == 404
    assert api_as(ordered["member"]).post(PICKUPS, {"pickup_code": code}, format="json").status_code == 403
    assert api_as(people["admin"]).post(PICKUPS, {"pickup_code": code}, format="json").status_code == 403
    assert MallOrder.objects.get(pk=ordered["order"]["id"]).status == MallOrder.Status.ORDERED


def test_a_cancelled_orders_code_and_bad_codes_are_refused(ordered, api_as):
    code = ordered["order"]["pickup_code"]
    api_as(ordered["member"]).post(cancel_url(ordered["order"]["id"]))
    client = api_as(ordered["keeper"])
    assert client.post(PICKUPS, {"pickup_code": code}, format="json").status_code == 409
    for bad in ("", "!!!!", "x" * 41, None, "码码码"):
        answer = client.post(PICKUPS, {"pickup_code": bad}, format="json")
        assert answer.status_code == 400 and "pickup_code" in answer.json(), bad


def test_stock_added_under_the_lock_never_goes_below_zero(shop):
    towel = shop["items"]["towel"]
    assert mall_item_stock_add(item=towel, count=4).stock == 5
    assert mall_item_stock_add(item=towel, count=-9).stock == 0


def test_the_admin_pages_of_the_mall_and_the_ledger_open_and_stock_is_added_not_overwritten(shop, territory, client):
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(superuser, backend="django.contrib.auth.backends.ModelBackend")
    account, _ = member_with(territory, "m1", 100)
    water = shop["items"]["water"]
    for url in (
        "/admin/engagement/mallitem/",
        "/admin/engagement/mallorder/",
        "/admin/engagement/pointsentry/",
        "/admin/engagement/pointsrule/",
        f"/admin/engagement/mallitem/{water.pk}/change/",
    ):
        assert client.get(url).status_code == 200, url
    MallItem.objects.filter(pk=water.pk).update(stock=2)  # orders took three since the form opened
    form = {"name": water.name, "description": "", "price": 20, "station": shop["near"].pk, "active": "on"}
    saved = client.post(f"/admin/engagement/mallitem/{water.pk}/change/", {**form, "stock_added": 4})
    assert saved.status_code == 302, saved.content[:500]
    water.refresh_from_db()
    assert water.stock == 6
