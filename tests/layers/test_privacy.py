import pytest
from cryptography.fernet import Fernet
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction

from grid.models import Role
from layers import crypto
from layers.models import AuditEntry, Person
from layers.registry import LAYERS
from layers.services import audit_record, people_rotate_keys, person_save, person_sensitive_read
from tests.factories import UserFactory

ID_CARD = "610526199001011234"


@pytest.fixture
def person(territory):
    return person_save(
        person=Person(name="张三", location=Point(109.92, 35.17, srid=4326), categories=["registered", "party_member"]),
        id_card=ID_CARD,
        phone="13812345678",
    )


def test_personal_fields_are_encrypted_at_rest_and_searchable_by_exact_value(person):
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_card_encrypted, phone_encrypted FROM layers_person WHERE id = %s", [person.pk])
        stored = " ".join(cursor.fetchone())
    assert ID_CARD not in stored and "13812345678" not in stored
    assert Person.objects.get(id_card_hash=crypto.search_hash("610526 19900101 1234")) == person
    assert not Person.objects.filter(id_card_hash=crypto.search_hash("610526199001011235")).exists()
    assert person.grid.code == "G-A-S" and person.member_code == f"DY{person.pk:010d}"


def test_masks():
    assert crypto.mask_id_card(ID_CARD) == "610526********1234"
    assert crypto.mask_phone("13812345678") == "138****5678"


def test_unmasked_read_needs_clearance_and_is_audited(person, people):
    with pytest.raises(PermissionDenied):
        person_sensitive_read(person=person, user=people["dispatcher_a"], reason="核实")
    cleared = UserFactory(role=Role.DISPATCHER, sensitive_clearance=True)
    assert person_sensitive_read(person=person, user=cleared, reason="核实身份") == {
        "id_card": ID_CARD,
        "phone": "13812345678",
    }
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target, entry.reason) == (
        cleared,
        "unmasked_read",
        f"layers.person:{person.pk}",
        "核实身份",
    )


def test_the_audit_log_refuses_updates_and_deletes(db):
    entry = audit_record(actor=None, action="export", target="places")
    for statement in ("UPDATE layers_auditentry SET target = 'x'", "DELETE FROM layers_auditentry"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEntry.objects.get().target == entry.target


def test_sensitive_categories_are_invisible_without_clearance(territory, people):
    plain = person_save(person=Person(name="李四", location=Point(109.92, 35.17, srid=4326), categories=["veteran"]))
    hidden = person_save(
        person=Person(name="王五", location=Point(109.92, 35.17, srid=4326), categories=["registered", "released"])
    )
    admin = people["admin"]
    assert set(LAYERS["people"].queryset(admin)) == {plain}
    admin.sensitive_clearance = True
    assert set(LAYERS["people"].queryset(admin)) == {plain, hidden}
    # and scope: the dispatcher of community B sees nobody of community A
    assert not LAYERS["people"].queryset(people["dispatcher_street_b"]).exists()
    row = LAYERS["people"].queryset(admin).get(pk=plain.pk)
    assert {a.name: a.read(row) for a in LAYERS["people"].attributes}["id_card"] == ""


def test_key_rotation_re_encrypts_with_the_new_key(person, settings):
    old_token = Person.objects.get(pk=person.pk).id_card_encrypted
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, crypto._derived_key("field-encryption").decode()]
    crypto.reset_keys()
    try:
        assert people_rotate_keys() == 1
        token = Person.objects.get(pk=person.pk).id_card_encrypted
        assert token != old_token
        assert Fernet(new_key.encode()).decrypt(token.encode()).decode() == ID_CARD
    finally:
        crypto.reset_keys()
