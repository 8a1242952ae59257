"""Import files as a hostile importer crafts them: zips that inflate, too many members, large side files,
workbooks with XML entities; and the source file, which holds plain ID-card numbers, is gone when the job ends."""

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.urls import include, path
from openpyxl import Workbook

from layers.io.imports import import_run
from layers.io.readers import XLSX_REFUSED, ReadError, read_table
from layers.models import ImportJob, JobStatus, Person, Place, Thing
from layers.tasks import import_run_task, layers_files_purge_task
from tests.layers.test_imports import PEOPLE_HEADER, _shapefile_zip, csv_bytes, job_for, people_rows

urlpatterns = [path("api/v1/", include("layers.api.urls"))]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def problems(job: ImportJob) -> str:
    return " ".join(e["problem"] for e in job.report)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def post(client, content: bytes, name: str, layer: str = "things"):
    upload = ContentFile(content, name=name)
    return client.post("/api/v1/imports/", {"file": upload, "layer": layer}, format="multipart")


def with_member(shapefile: bytes, name: str, data: bytes) -> bytes:
    """The zipped Shapefile with one more member."""
    buffer = io.BytesIO(shapefile)
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def nothing_decompressed(monkeypatch):
    """arm() → from then on, opening (reading) any zip member fails the test."""

    def refuse(self, name, *args, **kwargs):
        raise AssertionError(f"{name} was read before the zip was judged")

    return lambda: monkeypatch.setattr(zipfile.ZipFile, "open", refuse)


# --- zips -------------------------------------------------------------------------------------------------------------


def test_a_zip_that_inflates_past_the_limit_is_refused_before_any_member_is_read(
    territory, settings, tmp_path, nothing_decompressed
):
    settings.IMPORT_ZIP_MAX_BYTES = 1_000_000
    bomb = zipped({"things.shp": bytes(5_000_000), "things.shx": b"", "things.dbf": b""})
    assert len(bomb) < 20_000  # five megabytes of zeros in a few kilobytes
    source = tmp_path / "bomb.zip"
    source.write_bytes(bomb)
    nothing_decompressed()
    with pytest.raises(ReadError, match="5.0 MB"):
        read_table(source, max_bytes=10**7)


def test_a_zip_bomb_is_a_400_over_the_api_and_a_failed_job_from_a_worker(territory, people, api_as, settings):
    settings.IMPORT_ZIP_MAX_BYTES = 1_000_000
    bomb = zipped({"things.shp": bytes(3_000_000), "things.shx": b"", "things.dbf": b""})
    response = post(api_as(people["admin"]), bomb, "bomb.zip")
    assert response.status_code == 400 and "3.0 MB" in " ".join(response.json()["file"])
    assert not ImportJob.objects.exists() and not Path(settings.MEDIA_ROOT).exists()
    job = import_run(job=job_for(bomb, "bomb.zip", "things", people["admin"]))
    assert job.status == JobStatus.FAILED and "3.0 MB" in problems(job)
    assert not Thing.objects.exists()


def test_a_zip_of_too_many_members_is_refused(territory, people, api_as, settings, tmp_path):
    settings.IMPORT_ZIP_MAX_MEMBERS = 10
    shapefile = _shapefile_zip(tmp_path, encoding="UTF-8")
    members = {f"junk{i}.txt": b"x" for i in range(11 - len(zipfile.ZipFile(io.BytesIO(shapefile)).namelist()))}
    crowded = shapefile
    for name, data in members.items():
        crowded = with_member(crowded, name, data)
    assert len(zipfile.ZipFile(io.BytesIO(crowded)).namelist()) == 11
    response = post(api_as(people["admin"]), crowded, "crowded.zip")
    assert response.status_code == 400 and "11" in " ".join(response.json()["file"])
    job = import_run(job=job_for(crowded, "crowded.zip", "things", people["admin"]))
    assert job.status == JobStatus.FAILED and not Thing.objects.exists()
    # the same Shapefile without the junk imports
    assert import_run(job=job_for(shapefile, "t.zip", "things", people["admin"])).status == JobStatus.DONE


@pytest.mark.parametrize("side", ["things.cpg", "things.prj", "fields.csv"])
def test_a_large_side_file_is_refused(territory, people, api_as, settings, tmp_path, side):
    settings.IMPORT_SIDE_FILE_MAX_BYTES = 1000
    shapefile = _shapefile_zip(tmp_path, encoding="UTF-8", cpg=side != "things.cpg", prj=side != "things.prj")
    large = with_member(shapefile, side, b"UTF-8" + b" " * 2000)
    response = post(api_as(people["admin"]), large, "t.zip")
    assert response.status_code == 400 and side in " ".join(response.json()["file"])
    job = import_run(job=job_for(large, "t.zip", "things", people["admin"]))
    assert job.status == JobStatus.FAILED and side in problems(job)
    assert not Thing.objects.exists()


def test_side_files_within_the_limit_import_as_before(territory, people, settings, tmp_path):
    settings.IMPORT_SIDE_FILE_MAX_BYTES = 1000
    job = import_run(job=job_for(_shapefile_zip(tmp_path, encoding="GBK"), "t.zip", "things", people["admin"]))
    assert job.status == JobStatus.DONE, job.report
    assert Thing.objects.count() == 2


# --- workbooks --------------------------------------------------------------------------------------------------------


def workbook(rows: list[list]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def with_sheet_xml(xlsx: bytes, edit) -> bytes:
    """The workbook with its first sheet's XML rewritten by `edit`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = edit(data.decode()).encode()
            target.writestr(info, data)
    return out.getvalue()


PLACES = [["编码", "名称", "经度", "纬度"], ["P1", "LAUGH", 109.93, 35.19]]

# a small billion laughs: ten levels of ten would be 10^10 copies; three levels show the parser expands entities
LAUGHS = (
    '<!DOCTYPE worksheet [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
)
EXTERNAL = '<!DOCTYPE worksheet [<!ENTITY c SYSTEM "file:///etc/hostname">]>'


@pytest.mark.parametrize("doctype", [LAUGHS, EXTERNAL], ids=["entity expansion", "external entity"])
def test_a_workbook_with_xml_entities_is_refused(
    territory, people, api_as, doctype, django_capture_on_commit_callbacks
):
    def edit(xml: str) -> str:  # the name cell holds the entity, declared by a DOCTYPE before the root
        assert "<t>LAUGH</t>" in xml
        return doctype + xml.replace("<t>LAUGH</t>", "<t>&c;</t>")

    crafted = with_sheet_xml(workbook(PLACES), edit)
    assert b"<!ENTITY" in zipfile.ZipFile(io.BytesIO(crafted)).read("xl/worksheets/sheet1.xml")
    client = api_as(people["admin"])
    with django_capture_on_commit_callbacks(execute=False):
        response = post(client, crafted, "places.xlsx", "places")
    assert response.status_code == 201, response.content
    import_run_task(job_id=response.json()["id"])
    body = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert body["status"] == JobStatus.FAILED
    assert [e["problem"] for e in body["report"]] == [str(XLSX_REFUSED)]
    assert not Place.objects.exists()


def test_a_plain_workbook_still_imports(territory, people):
    job = import_run(job=job_for(workbook(PLACES), "places.xlsx", "places", people["admin"]))
    assert job.status == JobStatus.DONE, job.report
    assert Place.objects.get().name == "LAUGH"


def test_a_workbook_that_inflates_past_the_limit_is_refused(territory, people, settings, nothing_decompressed):
    settings.IMPORT_ZIP_MAX_BYTES = 100_000
    crafted = with_sheet_xml(workbook(PLACES), lambda xml: xml + " " * 500_000)
    job = job_for(crafted, "places.xlsx", "places", people["admin"])
    nothing_decompressed()
    job = import_run(job=job)
    assert job.status == JobStatus.FAILED and "0.5 MB" in problems(job)
    assert not Place.objects.exists()


# --- the source file is deleted when the job ends ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, dry_run, status",
    [
        (csv_bytes([PEOPLE_HEADER, *people_rows(3)]), False, JobStatus.DONE),
        (csv_bytes([PEOPLE_HEADER, *people_rows(3)]), True, JobStatus.DONE),
        (csv_bytes([PEOPLE_HEADER, *people_rows(2), ["张", "12345", "", 109.93, 35.19, ""]]), False, JobStatus.FAILED),
        (b"\xff\xfe\x00not text", False, JobStatus.FAILED),
    ],
    ids=["written", "dry run", "bad row", "unreadable"],
)
def test_the_source_file_is_deleted_when_the_job_ends(territory, people, content, dry_run, status):
    job = job_for(content, "people.csv", "people", people["admin"], dry_run=dry_run)
    stored = Path(job.source.path)
    assert stored.read_bytes() == content
    job = import_run(job=job)
    assert job.status == status, job.report
    assert not stored.exists()
    job.refresh_from_db()
    assert not job.source
    assert import_run(job=job).status == status  # a redelivery of the ended job needs no file


def test_the_source_file_is_deleted_when_the_server_fails(territory, people, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("layers.io.imports.rows.validate_rows", broken)
    job = job_for(csv_bytes([PEOPLE_HEADER, *people_rows(3)]), "people.csv", "people", people["admin"])
    stored = Path(job.source.path)
    job = import_run(job=job)
    assert job.status == JobStatus.FAILED and job.error and "a bug" not in job.error
    assert not stored.exists() and not Person.objects.exists()


def test_the_purge_task_deletes_sources_that_ended_jobs_left(territory, people):
    left = job_for(b"a,b\n1,2\n", "left.csv", "people", people["admin"], status=JobStatus.DONE)
    pending = job_for(b"a,b\n1,2\n", "pending.csv", "people", people["admin"])
    left_path, pending_path = Path(left.source.path), Path(pending.source.path)
    assert layers_files_purge_task()["imports"] == 1
    assert not left_path.exists() and pending_path.exists()  # a pending job still needs its file
    assert layers_files_purge_task()["imports"] == 0


# --- formulas neutralised by a CSV export -----------------------------------------------------------------------------


def test_a_csv_import_takes_the_quote_off_cells_a_csv_export_neutralised(territory):
    # cells as the export writes them (one quote more before a formula character, quotes before it included)
    exported = ['\'=HYPERLINK("http://x","y")', "'+1", "'-2", "'@SUM(A1)", "''=kept quote", "'plain", "it's"]
    stored = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "'=kept quote", "'plain", "it's"]
    rows = [[f"P{i}", name, 109.93, 35.19] for i, name in enumerate(exported)]
    job = import_run(job=job_for(csv_bytes([["编码", "名称", "经度", "纬度"], *rows]), "p.csv", "places"))
    assert job.status == JobStatus.DONE, job.report
    assert [Place.objects.get(code=f"P{i}").name for i in range(len(stored))] == stored
