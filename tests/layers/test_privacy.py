import datetime as dt
import importlib

import pytest
from cryptography.fernet import Fernet
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction

from grid.models import Role
from layers import crypto
from layers.models import AuditEntry, Person
from layers.registry import LAYERS
from layers.selectors import people_for
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


def test_masks_keep_the_last_four_characters_behind_a_fixed_run_of_stars():
    assert crypto.mask_id_card(ID_CARD) == "**************1234"
    assert crypto.mask_id_card("61052619900101123x") == "**************123X"
    assert crypto.mask_phone("13812345678") == "*******5678"
    assert crypto.mask_phone("0913-6123456") == "*******3456"
    # the length is not told either: a short or an old 15-digit number shows nothing
    assert crypto.mask_id_card("610526900101123") == crypto.mask_id_card("12") == "*" * 18
    assert crypto.mask_phone("12345") == "*" * 11
    assert crypto.mask_id_card("") == crypto.mask_phone("") == ""
    assert crypto.mask_birth_date(dt.date(1990, 1, 1)) == crypto.mask_birth_date(dt.date(1999, 12, 31)) == "1990-1999"
    assert crypto.mask_birth_date(dt.date(2000, 1, 1)) == "2000-2009" and crypto.mask_birth_date(None) == ""


def test_unmasked_read_needs_clearance_and_is_audited(person, people):
    with pytest.raises(PermissionDenied):
        person_sensitive_read(person=person, user=people["dispatcher_a"], reason="核实")
    cleared = UserFactory(role=Role.DISPATCHER, sensitive_clearance=True)
    assert person_sensitive_read(person=person, user=cleared, reason="核实身份") == {
        "id_card": ID_CARD,
        "phone": "13812345678",
        "birth_date": "",
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


def test_other_apps_ask_layers_which_people_an_account_may_see(territory, people):
    plain = person_save(person=Person(name="李四", location=Point(109.92, 35.17, srid=4326), categories=["veteran"]))
    hidden = person_save(
        person=Person(name="王五", location=Point(109.92, 35.17, srid=4326), categories=["registered", "drug_rehab"])
    )
    cleared = UserFactory(role=Role.DISPATCHER, areas=[territory.community_a], sensitive_clearance=True)
    assert set(people_for(people["dispatcher_a"])) == {plain}
    assert set(people_for(cleared)) == {plain, hidden}
    assert not people_for(people["dispatcher_a"]).filter(pk=hidden.pk).exists()
    assert people_for(cleared).filter(pk=hidden.pk).exists()
    assert not people_for(people["dispatcher_street_b"]).filter(pk=plain.pk).exists()  # another street


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


def test_entries_written_before_areas_existed_are_placed_by_the_migration(territory, people):
    # given entries without an area, as the table held them: a read of a person, an export by a dispatcher of one
    # community, an export by a grid worker, and one by an account of no area
    migration = importlib.import_module("layers.migrations.0005_audit_entry_area")
    zhang = person_save(person=Person(name="张三", location=Point(109.97, 35.17, srid=4326), categories=["veteran"]))
    read = AuditEntry.objects.create(actor=None, action="unmasked_read", target=f"layers.person:{zhang.pk}")
    export = AuditEntry.objects.create(actor=people["dispatcher_a"], action="export", target="people")
    worker = AuditEntry.objects.create(actor=people["worker"], action="export", target="people")
    nobody = AuditEntry.objects.create(actor=people["resident"], action="export", target="places")
    # when the migration's statement runs
    with connection.cursor() as cursor:
        cursor.execute(migration.PLACE_EXISTING)
    # then each is placed where it belongs (the person lives in grid B-S), and the log is append-only again
    placed = dict(AuditEntry.objects.values_list("pk", "area__code"))
    assert placed == {
        read.pk: territory.community_b.code,
        export.pk: territory.community_a.code,
        worker.pk: territory.community_a.code,
        nobody.pk: None,
    }
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE layers_auditentry SET target = 'x'")
