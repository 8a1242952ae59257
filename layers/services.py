"""Writes to the register: people and their sensitive fields, the audit log."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from grid.access import may_see_sensitive
from grid.models import AdminArea, Role, User
from grid.selectors import grid_containing
from layers import crypto
from layers.models import AuditEntry, Person


def _common_area(areas: list[AdminArea]) -> AdminArea | None:
    """The narrowest area that holds all of `areas` (None for none, or for areas of different provinces)."""
    if not areas:
        return None
    chains = []
    for area in areas:
        chain = []
        while area is not None:
            chain.append(area)
            area = area.parent
        chains.append(chain[::-1])  # province first
    common = None
    for level in zip(*chains, strict=False):
        if any(a.pk != level[0].pk for a in level):
            break
        common = level[0]
    return common


def _within(inner: AdminArea, outer: AdminArea) -> bool:
    area: AdminArea | None = inner
    while area is not None:
        if area.pk == outer.pk:
            return True
        area = area.parent
    return False


def _area_of_actor(actor: User | None) -> AdminArea | None:
    if actor is None or not actor.is_authenticated or actor.is_superuser:
        return None
    if actor.role == Role.GRID_WORKER:
        areas = AdminArea.objects.filter(grids__workers=actor).distinct()
    else:
        areas = actor.areas.all()
    return _common_area(list(areas.select_related("parent__parent__parent__parent")))


def _area_of_filters(details: dict) -> AdminArea | None:
    # an export or import narrowed to an area (an AdminArea code, or a grid's: its community) is about that area
    filters = details.get("filters")
    code = filters.get("area") if isinstance(filters, dict) else None
    if not isinstance(code, str) or not code:
        return None
    return AdminArea.objects.filter(code=code).first() or AdminArea.objects.filter(grids__code=code).first()


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: str,
    reason: str = "",
    details: dict | None = None,
    area: AdminArea | None = None,
) -> AuditEntry:
    """Append one entry to the audit log (the table refuses updates and deletes), placed in the area it is about:
    `area`, else the narrower of the area its filters name and the area its actor is responsible for."""
    details = details or {}
    if area is None:
        filtered, responsible = _area_of_filters(details), _area_of_actor(actor)
        area = filtered if filtered and (responsible is None or _within(filtered, responsible)) else responsible
    return AuditEntry.objects.create(
        actor=actor if actor and actor.is_authenticated else None,
        action=action,
        target=target[:200],
        reason=reason[:300],
        details=details,
        area=area,
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


def person_member_code_ensure(*, person: Person) -> str:
    """The person's one code (一人一号), set once from the primary key: "DY…" for a party member (a category or a
    branch), "XG…" for a gig worker outside the party; "" for anybody else."""
    if person.member_code:
        return person.member_code
    categories = set(person.categories)
    if "party_member" in categories or person.branch_id is not None:
        prefix = "DY"
    elif "gig_worker" in categories:
        prefix = "XG"
    else:
        return ""
    Person.objects.filter(pk=person.pk, member_code="").update(member_code=f"{prefix}{person.pk:010d}")
    person.refresh_from_db(fields=["member_code"])
    return person.member_code


def person_sensitive_read(*, person: Person, user: User, reason: str) -> dict[str, str]:
    """The unmasked ID-card number, phone and birth date, for an account with clearance and a stated reason;
    audited, in the person's community."""
    if not may_see_sensitive(user):
        raise PermissionDenied(_("This account may not see unmasked personal fields."))
    community = AdminArea.objects.filter(grids__people=person).first() if person.grid_id else None
    with transaction.atomic():
        audit_record(
            actor=user,
            action=AuditEntry.Action.UNMASKED_READ,
            target=f"layers.person:{person.pk}",
            reason=reason,
            details={"fields": ["id_card", "phone", "birth_date"]},
            area=community,
        )
        return {
            "id_card": crypto.decrypt(person.id_card_encrypted),
            "phone": crypto.decrypt(person.phone_encrypted),
            "birth_date": person.birth_date.isoformat() if person.birth_date else "",
        }


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
