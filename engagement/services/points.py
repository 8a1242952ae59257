"""The points ledger: entries appended once per idempotency key, rules with caps, balances as sums."""

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from engagement.models import PointsEntry, PointsRule
from grid.models import User
from layers.models import Person


class InsufficientPoints(Exception):
    def __init__(self, *, balance: int, needed: int) -> None:
        super().__init__(f"balance {balance} < {needed}")
        self.balance, self.needed = balance, needed


def points_balance(*, person: Person) -> int:
    return PointsEntry.objects.filter(person=person).aggregate(total=Sum("amount"))["total"] or 0


def _lock_person(person: Person) -> None:
    # Every write to one person's ledger holds the person's row: the balance read and the append are then one step
    # for that person, so concurrent spends cannot both pass the balance check.
    Person.objects.select_for_update().filter(pk=person.pk).values_list("pk", flat=True).get()


def _earned_since(person: Person, rule: PointsRule, since: dt.datetime) -> int:
    return (
        PointsEntry.objects.filter(person=person, rule=rule, created__gte=since).aggregate(total=Sum("amount"))["total"]
        or 0
    )


def _capped(person: Person, rule: PointsRule, amount: int, at: dt.datetime) -> int:
    local = timezone.localtime(at)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for cap, since in ((rule.daily_cap, day), (rule.monthly_cap, day.replace(day=1))):
        if cap:
            amount = min(amount, max(0, cap - _earned_since(person, rule, since)))
    return amount


def points_award(
    *, person: Person, rule_code: str, source: str, key: str, units: int = 1, at: dt.datetime | None = None
) -> PointsEntry | None:
    """Append what `rule_code` earns for one event (times `units`, within the rule's caps), once per `key`.

    Returns the entry, the one an earlier call made for the same key, or None when the rule is off or capped.
    """
    rule = PointsRule.objects.filter(code=rule_code, active=True).first()
    if rule is None:
        return None
    existing = PointsEntry.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    at = at or timezone.now()
    with transaction.atomic():
        _lock_person(person)
        existing = PointsEntry.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        amount = _capped(person, rule, rule.amount * units, at)
        if amount == 0:
            return None
        return PointsEntry.objects.create(
            person=person, amount=amount, reason=rule.code, rule=rule, source=source, idempotency_key=key, created=at
        )


def points_spend(
    *, person: Person, amount: int, reason: str, source: str, key: str, by: User | None = None
) -> PointsEntry:
    """Take `amount` from the person's balance, once per `key`; InsufficientPoints if the balance is short.

    Call inside the caller's transaction when the spend pays for something written in the same step."""
    existing = PointsEntry.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        _lock_person(person)
        balance = points_balance(person=person)
        if balance < amount:
            raise InsufficientPoints(balance=balance, needed=amount)
        return PointsEntry.objects.create(
            person=person, amount=-amount, reason=reason, source=source, idempotency_key=key, created_by=by
        )


def points_correct(*, person: Person, amount: int, note: str, key: str, by: User) -> PointsEntry:
    """An administrator's correction: a new entry, never an edit."""
    try:
        with transaction.atomic():
            _lock_person(person)
            return PointsEntry.objects.create(
                person=person, amount=amount, reason="correction", note=note, idempotency_key=key, created_by=by
            )
    except IntegrityError:
        return PointsEntry.objects.get(idempotency_key=key)
