"""The register in the admin: masked personal fields, a read-only audit log."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from grid.models import Role
from layers.models import AuditEntry, ExportJob, Person
from layers.services import audit_record
from tests.factories import UserFactory
from tests.layers.helpers import person

ID_CARD = "610526199001011234"
BIRTH = dt.date(1990, 1, 1)


def staff_client(*, clearance: bool, areas, role=Role.ADMINISTRATOR) -> Client:
    """A signed-in staff account (not a superuser) that may view and change people and read the audit log."""
    user = UserFactory(role=role, areas=areas, is_staff=True, sensitive_clearance=clearance)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="layers", codename__in=["view_person", "change_person", "view_auditentry"]
        )
    )
    client = Client()
    client.force_login(user)
    return client


def test_person_pages_show_masked_values_and_never_the_stored_columns(admin_client, territory):
    zhang = person("张三", "A-S", ["registered"], id_card=ID_CARD, phone="13812345678")
    stored = Person.objects.get(pk=zhang.pk)
    for url in (reverse("admin:layers_person_changelist"), reverse("admin:layers_person_change", args=[zhang.pk])):
        html = admin_client.get(url).content.decode()
        assert "**************1234" in html and "*******5678" in html
        assert ID_CARD not in html and "13812345678" not in html
        assert stored.id_card_encrypted not in html and stored.id_card_hash not in html
    # an exact ID-card number finds the person through its keyed hash
    found = admin_client.get(reverse("admin:layers_person_changelist"), {"q": ID_CARD})
    assert "张三" in found.content.decode()


def test_a_new_phone_entered_in_the_admin_is_stored_encrypted(admin_client, territory):
    zhang = person("张三", "A-S", ["registered"], id_card=ID_CARD)
    url = reverse("admin:layers_person_change", args=[zhang.pk])
    form = admin_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "location"}
    data.update(categories="registered", new_phone="13900001111", location="")
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    zhang.refresh_from_db()
    assert zhang.phone_encrypted and "13900001111" not in zhang.phone_encrypted


def test_the_audit_log_is_read_only_in_the_admin(admin_client, db):
    entry = audit_record(actor=None, action=AuditEntry.Action.EXPORT, target="places")
    assert admin_client.get(reverse("admin:layers_auditentry_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:layers_auditentry_add")).status_code == 403
    change = admin_client.get(reverse("admin:layers_auditentry_change", args=[entry.pk]))
    assert change.status_code == 200 and not change.context["has_change_permission"]
    delete = admin_client.post(reverse("admin:layers_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_register_pages_render(admin_client, territory):
    for model in ("household", "place", "thing", "organization", "person", "importjob", "exportjob"):
        assert admin_client.get(reverse(f"admin:layers_{model}_changelist")).status_code == 200
    for model in ("household", "place", "thing", "organization", "person"):
        assert admin_client.get(reverse(f"admin:layers_{model}_add")).status_code == 200


@pytest.fixture
def zhang(territory):
    return person("张三", "A-S", ["registered"], id_card=ID_CARD, phone="13812345678", gender="male", birth_date=BIRTH)


def test_staff_without_clearance_see_no_birth_date_and_no_unmasked_value(territory, zhang):
    client = staff_client(clearance=False, areas=[territory.county])
    changelist = client.get(reverse("admin:layers_person_changelist"))
    change = client.get(reverse("admin:layers_person_change", args=[zhang.pk]))
    assert changelist.status_code == change.status_code == 200
    for response in (changelist, change):
        html = response.content.decode()
        assert "张三" in html and "1990-1999" in html and "**************1234" in html
        for leaked in (ID_CARD, "13812345678", "1990-01-01", "19900101", "1990年1月1日", ID_CARD[:6]):
            assert leaked not in html
    # neither shown nor editable in the change form
    assert "birth_date" not in change.context["adminform"].form.fields


def test_staff_without_clearance_cannot_test_guesses_through_search_or_filters(territory, zhang):
    client = staff_client(clearance=False, areas=[territory.county])
    url = reverse("admin:layers_person_changelist")
    # an exact ID-card number or phone would confirm a guess of the masked digits
    for term in (ID_CARD, "13812345678"):
        assert "张三" not in client.get(url, {"q": term}).content.decode()
    # so would a lookup on the birth date or the hashes in the query string
    for params in ({"birth_date": BIRTH.isoformat()}, {"birth_date__year": "1990"}, {"id_card_hash": "x"}):
        response = client.get(url, params)
        assert response.status_code in (302, 400) and "张三" not in response.content.decode()
    # with clearance the same searches and lookups find the person, and the birth date is shown
    cleared = staff_client(clearance=True, areas=[territory.county])
    assert "张三" in cleared.get(url, {"q": ID_CARD}).content.decode()
    found = cleared.get(url, {"birth_date__year": "1990"})
    assert found.status_code == 200 and "张三" in found.content.decode()
    change = cleared.get(reverse("admin:layers_person_change", args=[zhang.pk]))
    assert "birth_date" in change.context["adminform"].form.fields


def test_the_audit_log_in_the_admin_is_scoped_like_the_api(territory):
    audit_record(actor=None, action=AuditEntry.Action.EXPORT, target="in-street-a", area=territory.community_a)
    audit_record(actor=None, action=AuditEntry.Action.EXPORT, target="in-street-b", area=territory.street_b)
    auditor_a = staff_client(clearance=False, areas=[territory.street_a], role=Role.AUDITOR)
    html = auditor_a.get(reverse("admin:layers_auditentry_changelist")).content.decode()
    assert "in-street-a" in html and "in-street-b" not in html


def test_staff_see_their_own_jobs_only_and_never_a_link_to_the_file(territory):
    own = UserFactory(role=Role.ADMINISTRATOR, areas=[territory.county], is_staff=True)
    own.user_permissions.add(*Permission.objects.filter(codename__in=["view_exportjob", "view_importjob"]))
    other = UserFactory(role=Role.ADMINISTRATOR, areas=[territory.county], sensitive_clearance=True)
    mine = ExportJob.objects.create(created_by=own, layer="places", format="csv", file="exports/2026/12/mine.csv")
    theirs = ExportJob.objects.create(created_by=other, layer="people", format="csv", file="exports/2026/12/full.csv")
    client = Client()
    client.force_login(own)
    listing = client.get(reverse("admin:layers_exportjob_changelist")).content.decode()
    assert reverse("admin:layers_exportjob_change", args=[mine.pk]) in listing
    assert reverse("admin:layers_exportjob_change", args=[theirs.pk]) not in listing
    assert client.get(reverse("admin:layers_exportjob_change", args=[theirs.pk])).status_code == 302  # not found
    change = client.get(reverse("admin:layers_exportjob_change", args=[mine.pk]))
    assert change.status_code == 200 and "mine.csv" not in change.content.decode()
