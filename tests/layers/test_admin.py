"""The register in the admin: masked personal fields, a read-only audit log."""

from django.urls import reverse

from layers.models import AuditEntry, Person
from layers.services import audit_record
from tests.layers.helpers import person

ID_CARD = "610526199001011234"


def test_person_pages_show_masked_values_and_never_the_stored_columns(admin_client, territory):
    zhang = person("张三", "A-S", ["registered"], id_card=ID_CARD, phone="13812345678")
    stored = Person.objects.get(pk=zhang.pk)
    for url in (reverse("admin:layers_person_changelist"), reverse("admin:layers_person_change", args=[zhang.pk])):
        html = admin_client.get(url).content.decode()
        assert "610526********1234" in html and "138****5678" in html
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
