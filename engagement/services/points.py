"""The points ledger: entries appended once per idempotency key, rules with caps, balances as sums."""

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from engagement.models import PointsEntry, PointsRule
from engagement.models.points import CORRECTION
from grid.models import User
from layers.models import Person
from layers.services import audit_record

# The audit log's action for a correction of someone's points.
AUDIT_POINTS_CORRECTION = "points_correction"


class InsufficientPoints(Exception):
    def __init__(self, *, balance: int, needed: int) -> None:
        super().__init__(f"balance {balance} < {needed}")
        self.balance, self.needed = balance, needed


def points_balance(*, person: Person) -> int:
    return PointsEntry.objects.filter(person=person).aggregate(total=Sum("amount"))["total"] or 0


def _lock_person(person: Person) -> None:
    # Every write to one person's ledger holds the person's row: the balance read and the append are then one step
    # for that person, so concurrent spends cannot both pass the balance check. A caller that also locks other rows
    # (a mall item) locks those first: item, then person, everywhere, so two writers never wait on each other.
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


def _append(*, key: str, **fields) -> PointsEntry:
    """Create the entry for `key`, or hand back the one that a concurrent writer committed first: the unique key is
    the last guard, for a writer that holds another person's lock with the same key."""
    try:
        with transaction.atomic():
            return PointsEntry.objects.create(idempotency_key=key, **fields)
    except IntegrityError:
        existing = PointsEntry.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return existing


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
        # read again under the lock: a concurrent award of the same key has committed by the time we hold it
        existing = PointsEntry.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        amount = _capped(person, rule, rule.amount * units, at)
        if amount == 0:
            return None
        return _append(person=person, amount=amount, reason=rule.code, rule=rule, source=source, key=key, created=at)


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
        existing = PointsEntry.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        balance = points_balance(person=person)
        if balance < amount:
            raise InsufficientPoints(balance=balance, needed=amount)
        return _append(person=person, amount=-amount, reason=reason, source=source, key=key, created_by=by)


def points_credit(
    *, person: Person, amount: int, reason: str, source: str, key: str, note: str = "", by: User | None = None
) -> PointsEntry:
    """Give back `amount` points (a refund of a cancelled order), once per `key`: no rule, so no cap."""
    with transaction.atomic():
        _lock_person(person)
        existing = PointsEntry.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        return _append(person=person, amount=amount, reason=reason, source=source, note=note, key=key, created_by=by)


def points_correct(*, person: Person, amount: int, note: str, key: str, by: User, source: str = "") -> PointsEntry:
    """An administrator's correction: a new entry, never an edit, written to the audit log. A correction that takes
    points away may not take the balance below zero (InsufficientPoints)."""
    with transaction.atomic():
        _lock_person(person)
        existing = PointsEntry.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        if amount < 0:
            balance = points_balance(person=person)
            if balance + amount < 0:
                raise InsufficientPoints(balance=balance, needed=-amount)
        entry = _append(
            person=person, amount=amount, reason=CORRECTION, note=note, source=source, key=key, created_by=by
        )
        audit_record(
            actor=by,
            action=AUDIT_POINTS_CORRECTION,
            target=f"layers.person:{person.pk} points",
            reason=note,
            details={"entry": entry.pk, "amount": amount, "source": source},
            area=person.grid.community if person.grid_id else None,
        )
        return entry
