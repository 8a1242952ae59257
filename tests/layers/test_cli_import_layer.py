"""manage.py import_layer: the same import as the API, from a shell, in Chinese by default or in English."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from layers.models import ImportJob, Place


def write_csv(path, rows, encoding="utf-8"):
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_layer", *args, stdout=out, verbosity=0)
    return out.getvalue()


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_a_gbk_file_is_imported_and_summed_up_in_chinese(territory, tmp_path):
    path = write_csv(tmp_path / "场所.csv", [["编码", "名称", "经度", "纬度"], ["P1", "驿站甲", 109.93, 35.19]], "gbk")
    out = run(str(path), "--layer", "places")
    assert "1 条记录，新建 1 条，更新 0 条" in out
    assert Place.objects.get(code="P1").name == "驿站甲"


def test_english_on_request_and_a_dry_run_writes_nothing(territory, tmp_path):
    path = write_csv(tmp_path / "p.csv", [["编码", "名称", "经度", "纬度"], ["P1", "a", 109.93, 35.19]])
    out = run(str(path), "--layer", "places", "--dry-run", "--language", "en")
    assert "1 rows, 1 created, 0 updated (dry run: nothing written)" in out
    assert not Place.objects.exists()


def test_a_bad_row_is_reported_with_its_row_and_nothing_is_written(territory, tmp_path):
    rows = [["编码", "名称", "经度", "纬度"], ["P1", "a", 109.93, 35.19], ["P2", "b", 200, 35.19]]
    path = write_csv(tmp_path / "p.csv", rows)
    with pytest.raises(CommandError):
        call_command("import_layer", str(path), "--layer", "places", "--language", "en", stdout=io.StringIO())
    job = ImportJob.objects.get()
    assert any(e.get("row") == 3 for e in job.report)
    assert not Place.objects.exists()
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_layer", str(path), "--layer", "places", "--language", "en", stdout=out)
    assert "error: row 3" in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent.csv", "--layer", "places"], "没有文件"),
        (["{file}", "--layer", "places", "--user", "nobody"], "没有账号 nobody"),
        (["{file}", "--layer", "places", "--mapping", "{not json"], "--mapping"),
        (["/nonexistent.csv", "--layer", "places", "--language", "en"], "No file"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(territory, tmp_path, args, message):
    path = write_csv(tmp_path / "p.csv", [["编码", "名称", "经度", "纬度"], ["P1", "a", 109.93, 35.19]])
    with pytest.raises(CommandError, match=message):
        call_command("import_layer", *[a.replace("{file}", str(path)) for a in args], stdout=io.StringIO())
