"""Stock and balances under concurrency, with real threads, each on its own database connection: 50 members ordering
the last 10 items at once buy exactly 10, and no balance ever goes below zero, also when one member spends from two
threads at once."""

import threading
import uuid

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models import Sum

from engagement.models import MallItem, MallOrder, PointsEntry
from engagement.models.points import MALL_ORDER
from engagement.services.mall import OutOfStock, mall_order_place
from engagement.services.points import InsufficientPoints, points_balance, points_credit, points_spend
from layers.models import Person, PersonCategory
from tests.factories import StationFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the threads must see committed rows


def _member(n: int, points: int) -> Person:
    person = Person.objects.create(
        name=f"并发{n}", location=Point(109.93, 35.19, srid=4326), categories=[PersonCategory.GIG_WORKER]
    )
    points_credit(person=person, amount=points, reason="correction", source="test", key=f"seed:{person.pk}")
    return person


def _all_at_once(calls) -> tuple[list, list]:
    """Run each call in its own thread, released together; their results and the exceptions they raised."""
    barrier = threading.Barrier(len(calls))
    results, raised, lock = [], [], threading.Lock()

    def run(call):
        try:
            barrier.wait(timeout=30)
            value = call()
            with lock:
                results.append(value)
        except Exception as exc:  # noqa: BLE001 - each one is sorted by the test
            with lock:
                raised.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return results, raised


def test_fifty_members_ordering_the_last_ten_items_at_once_buy_exactly_ten():
    price = 30
    item = MallItem.objects.create(name="最后十件", price=price, stock=10, station=StationFactory())
    members = [_member(n, points=45) for n in range(50)]
    calls = [
        (lambda person=person: mall_order_place(person=person, item=item, client_uuid=uuid.uuid4()))
        for person in members
    ]
    results, raised = _all_at_once(calls)
    assert len(results) == 10
    assert len(raised) == 40 and all(isinstance(exc, OutOfStock) for exc in raised), {type(e) for e in raised}
    item.refresh_from_db()
    assert item.stock == 0
    assert MallOrder.objects.filter(item=item).count() == 10
    spent = PointsEntry.objects.filter(reason=MALL_ORDER).aggregate(total=Sum("amount"))["total"]
    assert spent == -10 * price
    balances = sorted(points_balance(person=p) for p in members)
    assert min(balances) >= 0
    assert balances == [45 - price] * 10 + [45] * 40


def test_one_member_ordering_two_items_from_two_threads_never_goes_below_zero():
    station = StationFactory()
    first = MallItem.objects.create(name="甲", price=20, stock=5, station=station)
    second = MallItem.objects.create(name="乙", price=20, stock=5, station=station)
    person = _member(1, points=30)
    results, raised = _all_at_once(
        [
            lambda: mall_order_place(person=person, item=first, client_uuid=uuid.uuid4()),
            lambda: mall_order_place(person=person, item=second, client_uuid=uuid.uuid4()),
        ]
    )
    assert len(results) == 1 and len(raised) == 1 and isinstance(raised[0], InsufficientPoints)
    assert (raised[0].balance, raised[0].needed) == (10, 20)
    assert points_balance(person=person) == 10
    assert MallItem.objects.filter(stock=5).count() == 1 and MallItem.objects.filter(stock=4).count() == 1


def test_one_member_spending_from_many_threads_at_once_never_goes_below_zero():
    person = _member(1, points=50)
    calls = [
        (lambda n=n: points_spend(person=person, amount=20, reason="mall_order", source="t", key=f"spend:{n}"))
        for n in range(8)
    ]
    results, raised = _all_at_once(calls)
    assert len(results) == 2 and all(isinstance(exc, InsufficientPoints) for exc in raised)
    assert points_balance(person=person) == 10


def test_the_same_order_resent_from_two_threads_at_once_is_one_order():
    item = MallItem.objects.create(name="重发", price=10, stock=5, station=StationFactory())
    person = _member(1, points=100)
    client_uuid = uuid.uuid4()
    results, raised = _all_at_once([lambda: mall_order_place(person=person, item=item, client_uuid=client_uuid)] * 2)
    assert raised == []
    assert len({order.pk for order, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, True]
    assert points_balance(person=person) == 90
