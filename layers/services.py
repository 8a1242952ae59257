"""Writes to the register: people and their sensitive fields, the audit log."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from grid.access import may_see_sensitive
from grid.models import User
from grid.selectors import grid_containing
from layers import crypto
from layers.models import AuditEntry, Person


def audit_record(
    *, actor: User | None, action: str, target: str, reason: str = "", details: dict | None = None
) -> AuditEntry:
    """Append one entry to the audit log (the table refuses updates and deletes)."""
    return AuditEntry.objects.create(
        actor=actor if actor and actor.is_authenticated else None,
        action=action,
        target=target[:200],
        reason=reason[:300],
        details=details or {},
    )


def person_save(*, person: Person, id_card: str | None = None, phone: str | None = None) -> Person:
    """Store a person; new ID-card number or phone encrypted with their search hashes; grid from the point."""
    if id_card is not None:
        person.set_id_card(id_card)
    if phone is not None:
        person.set_phone(phone)
    if person.location is not None:
        person.grid = grid_containing(point=person.location)
    elif person.household_id is not None and person.household.grid_id is not None:
        person.grid_id = person.household.grid_id
    person.full_clean(exclude=["id_card_hash", "member_code"])
    person.save()
    if not person.member_code and {"party_member"} & set(person.categories):
        # 一人一号: derived from the primary key once, never reissued.
        Person.objects.filter(pk=person.pk, member_code="").update(member_code=f"DY{person.pk:010d}")
        person.refresh_from_db(fields=["member_code"])
    return person


def person_sensitive_read(*, person: Person, user: User, reason: str) -> dict[str, str]:
    """The unmasked ID-card number and phone, for an account with clearance and a stated reason; audited."""
    if not may_see_sensitive(user):
        raise PermissionDenied(_("This account may not see unmasked personal fields."))
    with transaction.atomic():
        audit_record(
            actor=user,
            action=AuditEntry.Action.UNMASKED_READ,
            target=f"layers.person:{person.pk}",
            reason=reason,
            details={"fields": ["id_card", "phone"]},
        )
        return {"id_card": crypto.decrypt(person.id_card_encrypted), "phone": crypto.decrypt(person.phone_encrypted)}


def people_rotate_keys(*, batch: int = 1000) -> int:
    """Re-encrypt every sensitive field with the current (first) key. Returns how many people changed."""
    changed = 0
    last = 0
    while True:
        with transaction.atomic():
            rows = list(Person.objects.filter(pk__gt=last).order_by("pk").select_for_update()[:batch])
            if not rows:
                return changed
            for person in rows:
                person.id_card_encrypted = crypto.rotate(person.id_card_encrypted)
                person.phone_encrypted = crypto.rotate(person.phone_encrypted)
            Person.objects.bulk_update(rows, ["id_card_encrypted", "phone_encrypted"])
            changed += len(rows)
            last = rows[-1].pk
