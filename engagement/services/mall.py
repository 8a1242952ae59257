"""The station mall: ordering an item for points, cancelling an order (points and stock return), and the keeper's
confirmation of a pickup.

Rows are locked in one order everywhere: the item, then the person, then the order. An order takes one from the
item's stock and the price from the person's balance in one transaction, so under any number of concurrent
orders the stock and every balance stay right.
"""

import secrets
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from engagement.models import MallItem, MallOrder
from engagement.models.points import MALL_ORDER, MALL_REFUND
from engagement.services.points import InsufficientPoints, _lock_person, points_balance, points_credit, points_spend
from grid.models import User
from layers.models import Person

# Crockford's base-32 alphabet: no I, L, O or U, so a code read aloud or typed from a screen is not misread.
# 12 characters are 60 bits: guessing one waiting code among a million would take about 10^12 tries.
PICKUP_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PICKUP_LENGTH = 12


class OutOfStock(Exception):
    def __init__(self, item: MallItem) -> None:
        super().__init__(f"{item} is out of stock")
        self.item = item


class NotOffered(Exception):
    """The item exists but is not on offer."""


class OrderConflict(Exception):
    """The order's state does not allow the step (picked up, cancelled), or its client_uuid is another order's."""

    def __init__(self, message: str, order: MallOrder | None = None) -> None:
        super().__init__(message)
        self.order = order


def pickup_code_new() -> str:
    return "".join(secrets.choice(PICKUP_ALPHABET) for _ in range(PICKUP_LENGTH))


def pickup_code_normal(text: str) -> str:
    """A code as typed or scanned, in its stored form: upper case, without spaces or dashes, with the letters that
    Crockford's alphabet reads as digits (O→0, I and L→1)."""
    cleaned = "".join(ch for ch in text.upper() if ch not in " -\t\r\n")
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def _resent(*, client_uuid: uuid.UUID, person: Person, item: MallItem) -> MallOrder | None:
    order = MallOrder.objects.filter(client_uuid=client_uuid).select_related("item__station").first()
    if order is None:
        return None
    if order.person_id != person.pk or order.item_id != item.pk:
        raise OrderConflict("client_uuid of another order")
    return order


def mall_order_place(*, person: Person, item: MallItem, client_uuid: uuid.UUID) -> tuple[MallOrder, bool]:
    """Order one `item` for `person`, paying its price in points; (order, created). A resent client_uuid answers
    the order it made. OutOfStock, NotOffered, InsufficientPoints or OrderConflict, with nothing written."""
    order = _resent(client_uuid=client_uuid, person=person, item=item)
    if order is not None:
        return order, False
    try:
        with transaction.atomic():
            locked = MallItem.objects.select_for_update().select_related("station").get(pk=item.pk)
            _lock_person(person)
            order = _resent(client_uuid=client_uuid, person=person, item=item)  # a resend that came in meanwhile
            if order is not None:
                return order, False
            if not locked.active:
                raise NotOffered
            if locked.stock < 1:
                raise OutOfStock(locked)
            balance = points_balance(person=person)
            if balance < locked.price:
                raise InsufficientPoints(balance=balance, needed=locked.price)
            order = MallOrder.objects.create(
                item=locked, person=person, points=locked.price, pickup_code=pickup_code_new(), client_uuid=client_uuid
            )
            points_spend(
                person=person,
                amount=locked.price,
                reason=MALL_ORDER,
                source=f"engagement.mallorder:{order.pk}",
                key=f"{MALL_ORDER}:engagement.mallorder:{order.pk}",
            )
            locked.stock -= 1
            locked.save(update_fields=["stock", "modified"])
            return order, True
    except IntegrityError:
        # the same client_uuid committed by a concurrent request between our check and our insert
        order = _resent(client_uuid=client_uuid, person=person, item=item)
        if order is None:
            raise
        return order, False


def mall_order_cancel(*, order: MallOrder, by: User) -> MallOrder:
    """The member's cancellation of an order not yet picked up: the points return as a new entry, the item to stock.
    Cancelling a cancelled order again changes nothing; a picked-up one is an OrderConflict."""
    with transaction.atomic():
        item = MallItem.objects.select_for_update().get(pk=order.item_id)
        _lock_person(order.person)
        order = MallOrder.objects.select_for_update().select_related("item__station").get(pk=order.pk)
        if order.status == MallOrder.Status.CANCELLED:
            return order
        if order.status == MallOrder.Status.PICKED_UP:
            raise OrderConflict("picked up", order)
        order.status = MallOrder.Status.CANCELLED
        order.cancelled_at = timezone.now()
        order.save(update_fields=["status", "cancelled_at", "modified"])
        points_credit(
            person=order.person,
            amount=order.points,
            reason=MALL_REFUND,
            source=f"engagement.mallorder:{order.pk}",
            key=f"{MALL_REFUND}:engagement.mallorder:{order.pk}",
            by=by,
        )
        item.stock += 1
        item.save(update_fields=["stock", "modified"])
        order.item = item
        return order


def mall_pickup_confirm(*, order: MallOrder, keeper: User) -> MallOrder:
    """The keeper hands the item over: the order is picked up. A code used before, or a cancelled order, is an
    OrderConflict; the caller has checked that `keeper` keeps the item's station."""
    with transaction.atomic():
        order = MallOrder.objects.select_for_update().select_related("item__station", "person").get(pk=order.pk)
        if order.status != MallOrder.Status.ORDERED:
            raise OrderConflict(order.status, order)
        order.status = MallOrder.Status.PICKED_UP
        order.picked_up_at = timezone.now()
        order.picked_up_by = keeper
        order.save(update_fields=["status", "picked_up_at", "picked_up_by", "modified"])
        return order


def mall_item_stock_add(*, item: MallItem, count: int) -> MallItem:
    """Add (or with a negative count, take away, never below zero) stock, under the item's lock."""
    with transaction.atomic():
        locked = MallItem.objects.select_for_update().get(pk=item.pk)
        locked.stock = max(0, locked.stock + count)
        locked.save(update_fields=["stock", "modified"])
        return locked
