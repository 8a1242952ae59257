"""Imports write only what their importer may read: stored rows matched inside the importer's scope only, rows
placed there only, sensitive categories only with clearance; and a refusal never tells whether a key exists."""

import io

import pytest
from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.urls import include, path

from grid.models import Role
from layers import crypto
from layers.io.imports import KEY_REFUSED, import_run
from layers.models import AuditEntry, Household, ImportJob, JobStatus, Organization, Person, Place
from layers.tasks import import_run_task
from tests.factories import UserFactory
from tests.layers.helpers import person
from tests.layers.test_imports import PEOPLE_HEADER, credit_code, csv_bytes, id_card, job_for

urlpatterns = [path("api/v1/", include("layers.api.urls"))]

A_SOUTH = (109.92, 35.17)  # in grid A-S, the dispatcher of community A's
B_SOUTH = (109.97, 35.17)  # in grid B-S, another street's


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def foreign(territory):
    """A person of street B (grid B-S) with a phone, as another area registered them."""
    return person("东城人", "B-S", ["registered"], id_card=id_card(7), phone="13900000007")


def people_row(number: int, phone: str, where=A_SOUTH, category: str = "流动人口") -> list:
    return [f"张{number}", id_card(number), phone, *where, category]


def errors(job: ImportJob) -> list[tuple]:
    return [(e["row"], e["column"], e["problem"]) for e in job.report if e["level"] == "error"]


def run_as(user, rows: list[list], layer: str = "people", header=PEOPLE_HEADER, **fields) -> ImportJob:
    return import_run(job=job_for(csv_bytes([header, *rows]), f"{layer}.csv", layer, user, **fields))


@pytest.mark.urls(__name__)
def test_a_foreign_id_card_is_refused_over_the_api_and_the_person_stays_as_they_are(
    foreign, people, api_as, django_capture_on_commit_callbacks
):
    client = api_as(people["dispatcher_a"])
    upload = ContentFile(csv_bytes([PEOPLE_HEADER, people_row(7, "13111111111")]), name="feed.csv")
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post("/api/v1/imports/", {"file": upload, "layer": "people"}, format="multipart")
    assert response.status_code == 201, response.content
    import_run_task(job_id=response.json()["id"])
    body = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert body["status"] == JobStatus.FAILED
    assert (body["created_count"], body["updated_count"]) == (0, 0)
    assert [(e["row"], e["column"], e["problem"]) for e in body["report"] if e["level"] == "error"] == [
        (2, "身份证号", str(KEY_REFUSED))
    ]
    foreign.refresh_from_db()
    assert foreign.grid.code == "G-B-S" and foreign.location == Point(109.97, 35.17, srid=4326)
    assert crypto.decrypt(foreign.phone_encrypted) == "13900000007" and foreign.name == "东城人"
    assert Person.objects.count() == 1
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.IMPORT).exists()


def test_a_dry_run_counts_a_foreign_key_nowhere_and_answers_as_for_a_hidden_one(foreign, people, territory):
    # an in-scope person of a sensitive category is invisible to an account without clearance: a key out of
    # reach for another reason, and the answer must be the same one
    hidden = person("隐藏人", "A-S", ["released"], id_card=id_card(8), phone="13900000008")
    rows = [people_row(7, "13111111111"), people_row(8, "13111111112"), people_row(9, "13111111113")]
    job = run_as(people["dispatcher_a"], rows, dry_run=True)
    assert job.status == JobStatus.DONE
    assert (job.created_count, job.updated_count) == (0, 0)
    assert errors(job) == [(2, "身份证号", str(KEY_REFUSED)), (3, "身份证号", str(KEY_REFUSED))]
    report_text = " ".join(e["problem"] for e in job.report)
    for revealing in ("G-B-S", territory.street_b.name, territory.community_b.name, "东城人", "隐藏人"):
        assert revealing not in report_text
    # with the refused rows skipped, the dry run counts only the new person
    job = import_run(
        job=job_for(csv_bytes([PEOPLE_HEADER, *rows]), "p.csv", "people", people["dispatcher_a"], dry_run=True),
        skip_invalid=True,
    )
    assert (job.created_count, job.updated_count) == (1, 0)
    assert Person.objects.count() == 2
    hidden.refresh_from_db()
    assert crypto.decrypt(hidden.phone_encrypted) == "13900000008"


def test_skipping_invalid_rows_writes_the_others_and_leaves_the_foreign_person_alone(foreign, people):
    rows = [people_row(7, "13111111111"), people_row(3, "13111111113")]
    job = import_run(
        job=job_for(csv_bytes([PEOPLE_HEADER, *rows]), "p.csv", "people", people["dispatcher_a"]), skip_invalid=True
    )
    assert job.status == JobStatus.DONE, job.report
    assert (job.created_count, job.updated_count) == (1, 0)
    foreign.refresh_from_db()
    assert foreign.grid.code == "G-B-S" and crypto.decrypt(foreign.phone_encrypted) == "13900000007"
    assert Person.objects.get(id_card_hash=crypto.search_hash(id_card(3))).grid.code == "G-A-S"


def test_the_write_itself_leaves_rows_out_of_reach_alone(foreign, people, monkeypatch):
    # a row stored out of reach between the check and the write (here: the check skipped) is not updated
    monkeypatch.setattr("layers.io.imports.rows.refuse_unwritable", lambda *args, **kwargs: None)
    job = run_as(people["dispatcher_a"], [people_row(7, "13111111111")])
    assert job.status == JobStatus.DONE and (job.created_count, job.updated_count) == (0, 0)
    foreign.refresh_from_db()
    assert foreign.grid.code == "G-B-S" and crypto.decrypt(foreign.phone_encrypted) == "13900000007"


def test_an_own_person_is_updated_and_a_superuser_matches_anywhere(foreign, people, territory):
    own = person("甲人", "A-N", ["registered"], id_card=id_card(5), phone="13900000005")
    job = run_as(people["dispatcher_a"], [people_row(5, "13111111115")])
    assert job.status == JobStatus.DONE, job.report
    assert (job.created_count, job.updated_count) == (0, 1)
    own.refresh_from_db()
    assert own.grid.code == "G-A-S" and crypto.decrypt(own.phone_encrypted) == "13111111115"
    root = UserFactory(username="root", role=Role.ADMINISTRATOR, is_superuser=True)
    job = run_as(root, [people_row(7, "13111111117")])
    assert (job.status, job.updated_count) == (JobStatus.DONE, 1)
    foreign.refresh_from_db()
    assert foreign.grid.code == "G-A-S" and crypto.decrypt(foreign.phone_encrypted) == "13111111117"


def test_sensitive_categories_need_clearance_to_be_written(people, territory):
    row = people_row(4, "13111111114", category="刑满释放")
    job = run_as(people["dispatcher_a"], [row])
    assert job.status == JobStatus.FAILED and not Person.objects.exists()
    ((number, column, problem),) = errors(job)
    assert (number, column) == (2, "人员类别") and problem != str(KEY_REFUSED)
    cleared = UserFactory(role=Role.DISPATCHER, areas=[territory.community_a], sensitive_clearance=True)
    job = run_as(cleared, [row])
    assert job.status == JobStatus.DONE, job.report
    assert Person.objects.get().categories == ["released"]


def test_a_hidden_person_in_scope_is_matched_only_with_clearance(people, territory):
    hidden = person("隐藏人", "A-S", ["drug_rehab"], id_card=id_card(8), phone="13900000008")
    job = run_as(people["dispatcher_a"], [people_row(8, "13111111118")])
    assert errors(job) == [(2, "身份证号", str(KEY_REFUSED))]
    hidden.refresh_from_db()
    assert crypto.decrypt(hidden.phone_encrypted) == "13900000008"
    cleared = UserFactory(role=Role.DISPATCHER, areas=[territory.community_a], sensitive_clearance=True)
    job = run_as(cleared, [people_row(8, "13111111118")])
    assert (job.status, job.updated_count) == (JobStatus.DONE, 1)
    hidden.refresh_from_db()
    assert crypto.decrypt(hidden.phone_encrypted) == "13111111118"


PLACE_HEADER = ["编码", "名称", "经度", "纬度"]


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_foreign_place_code_is_refused_by_the_staged_path(people, territory, dry_run):
    Place.objects.create(
        code="P-B", name="乙镇超市", kind="shopping", location=Point(*B_SOUTH, srid=4326), grid=territory.grids["B-S"]
    )
    rows = [["P-B", "冒名超市", *A_SOUTH], ["P-NEW", "新店", 109.93, 35.18]]
    job = run_as(people["dispatcher_a"], rows, "places", PLACE_HEADER, dry_run=dry_run)
    assert errors(job) == [(2, "编码", str(KEY_REFUSED))]
    assert (job.created_count, job.updated_count) == (0, 0)
    assert dict(Place.objects.values_list("code", "name")) == {"P-B": "乙镇超市"}
    assert Place.objects.get().grid.code == "G-B-S"


def test_a_foreign_household_code_is_refused_and_its_number_is_no_reference(people, territory):
    Household.objects.create(
        code="H-B", address="乙镇1号", location=Point(*B_SOUTH, srid=4326), grid=territory.grids["B-S"]
    )
    job = run_as(
        people["dispatcher_a"], [["H-B", "甲社区1号", *A_SOUTH]], "households", ["编码", "地址", "经度", "纬度"]
    )
    assert errors(job) == [(2, "编码", str(KEY_REFUSED))]
    assert Household.objects.get().address == "乙镇1号"
    # a person placed by another area's household is answered as for a household that does not exist
    answers = {}
    for code in ("H-B", "H-NONE"):
        job = run_as(people["dispatcher_a"], [["张1", id_card(1), code]], header=["姓名", "身份证号", "户号"])
        answers[code] = [(r, c, p.replace(code, "#")) for r, c, p in errors(job)]
    assert answers["H-B"] == answers["H-NONE"] and answers["H-B"]
    assert not Person.objects.exists()


def test_a_foreign_organization_code_is_refused(people, territory):
    Organization.objects.create(
        code=credit_code(3),
        name="乙镇企业",
        kind="enterprise",
        geometry=Point(*B_SOUTH, srid=4326),
        grid=territory.grids["B-S"],
    )
    job = run_as(
        people["dispatcher_a"],
        [[credit_code(3), "冒名企业", *A_SOUTH]],
        "organizations",
        ["统一社会信用代码", "名称", "经度", "纬度"],
    )
    assert [(r, p) for r, _c, p in errors(job)] == [(2, str(KEY_REFUSED))]
    assert Organization.objects.get().name == "乙镇企业"


def test_the_command_applies_the_scope_of_its_user_and_none_without_one(foreign, people, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(csv_bytes([PEOPLE_HEADER, people_row(7, "13111111111")]))
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_layer", str(path), "--layer", "people", "--user", "disp-a", stdout=out)
    assert str(KEY_REFUSED) in out.getvalue()
    foreign.refresh_from_db()
    assert foreign.grid.code == "G-B-S"
    # an operator's run without an account is not limited (it is the operator's own database)
    call_command("import_layer", str(path), "--layer", "people", stdout=io.StringIO(), verbosity=0)
    foreign.refresh_from_db()
    assert foreign.grid.code == "G-A-S" and crypto.decrypt(foreign.phone_encrypted) == "13111111111"
