"""The grid app speaks Simplified Chinese by default and English on request, and its catalogue is complete."""

import ast
import gettext
import re
import shutil
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

import grid
from tests.factories import GridFactory

GRID_DIR = Path(grid.__file__).resolve().parent
LC_MESSAGES = GRID_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"

OUTSIDE = {"lon": 100.0, "lat": 30.0}  # far west of the test territory: in no grid


# --- API and admin -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "language", "message"),
    [
        ({}, "zh-hans", "该位置不在辖区内任何网格范围内。"),
        ({"HTTP_ACCEPT_LANGUAGE": "en"}, "en", "This point lies outside every grid of the territory."),
    ],
)
def test_a_report_outside_every_grid_is_refused_in_the_requested_language(
    api_as, people, territory, headers, language, message
):
    body = {**OUTSIDE, "category": "litter", "client_uuid": str(uuid.uuid4())}
    response = api_as(people["worker"]).post("/api/v1/incidents/", body, format="json", **headers)
    assert response.status_code == 400
    assert response.json() == {"location": [message]}
    assert response["Content-Language"] == language


@pytest.mark.parametrize(
    ("headers", "language", "message"),
    [
        ({}, "zh-hans", "该位置不在任何网格内。"),
        ({"HTTP_ACCEPT_LANGUAGE": "en"}, "en", "No grid contains this point."),
    ],
)
def test_locating_a_point_outside_every_grid_is_a_404_in_the_requested_language(
    api, territory, headers, language, message
):
    response = api.get("/api/v1/areas/locate/", {"lon": 100, "lat": 30}, **headers)
    assert response.status_code == 404
    assert response.json() == {"detail": message}
    assert response["Content-Language"] == language


def _title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1)


@pytest.fixture
def a_grid(db):
    # Named without 网格, so that only the verbose names can put it on the page.
    return GridFactory(code="G-1", name="东片一区")


def test_the_grid_change_list_speaks_chinese_by_default(admin_client, a_grid):
    html = admin_client.get(reverse("admin:grid_grid_changelist")).content.decode()
    assert "网格" in _title(html)
    assert "辖区、站点与事件" in html  # the app's verbose name in the breadcrumbs
    for column in ("编码", "名称", "社区", "户数"):  # list_display's field verbose names
        assert column in html


def test_the_grid_change_list_speaks_english_on_request(admin_client, a_grid):
    html = admin_client.get(reverse("admin:grid_grid_changelist"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "grid" in _title(html)
    assert "Households" in html
    assert "网格" not in html


# --- The catalogue -------------------------------------------------------------------------------------------------


def read_po(path: Path) -> list[dict]:
    """The entries of a .po file (header included, obsolete #~ entries left out), with the stdlib only.

    Each entry: {"msgid", "msgid_plural", "msgstr": [str, …], "flags": set, "line"} (and "msgctxt" if any).
    """
    entries: list[dict] = []
    entry: dict | None = None
    target: tuple[str, int | None] | None = None  # the string that a continuation line ("…") extends

    def current(number: int) -> dict:
        # A comment or msgid after an entry's msgstr begins the next entry, blank line or not.
        nonlocal entry
        if entry is None or entry["msgstr"]:
            entry = {"msgid": None, "msgid_plural": None, "msgstr": [], "flags": set(), "line": number}
            entries.append(entry)
        return entry

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            entry, target = None, None
        elif line.startswith("#~"):
            target = None
        elif line.startswith("#,"):
            current(number)["flags"].update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            current(number)
        elif line.startswith("msgctxt "):
            current(number)["msgctxt"], target = ast.literal_eval(line[len("msgctxt ") :]), ("msgctxt", None)
        elif line.startswith("msgid_plural "):
            entry["msgid_plural"], target = ast.literal_eval(line[len("msgid_plural ") :]), ("msgid_plural", None)
        elif line.startswith("msgid "):
            current(number)["msgid"], target = ast.literal_eval(line[len("msgid ") :]), ("msgid", None)
        elif match := re.fullmatch(r"msgstr(?:\[\d+\])?\s+(\".*\")", line):
            entry["msgstr"].append(ast.literal_eval(match.group(1)))
            target = ("msgstr", len(entry["msgstr"]) - 1)
        elif line.startswith('"') and target is not None:
            key, index = target
            if key == "msgstr":
                entry["msgstr"][index] += ast.literal_eval(line)
            else:
                entry[key] += ast.literal_eval(line)
        else:
            raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    # Comments and flags with no msgid of their own belong to obsolete (#~) entries.
    return [e for e in entries if e["msgid"] is not None]


PLACEHOLDER = re.compile(r"%\(\w+\)[a-z]|%[a-z%]|\{\{|\}\}|\{\w*\}")


def catalogue_problems(entries: list[dict]) -> list[str]:
    problems = []
    for e in entries:
        where = f"line {e['line']} {e['msgid']!r}"
        if "fuzzy" in e["flags"]:
            problems.append(f"{where}: fuzzy")
        if not e["msgstr"] or not all(s.strip() for s in e["msgstr"]):
            problems.append(f"{where}: untranslated")
        elif e["msgid"]:
            for s in e["msgstr"]:
                if Counter(PLACEHOLDER.findall(s)) != Counter(PLACEHOLDER.findall(e["msgid"])):
                    problems.append(f"{where}: placeholders differ in {s!r}")
    return problems


def test_every_entry_of_the_chinese_catalogue_is_translated_and_not_fuzzy():
    entries = read_po(PO)
    assert entries[0]["msgid"] == "" and "Language: zh_Hans" in entries[0]["msgstr"][0]
    assert len(entries) > 50  # the parser read the file, not just its header
    assert catalogue_problems(entries) == []


def test_the_compiled_catalogue_matches_the_po_file():
    """django.mo is what Django reads: it must hold every translation of django.po (recompile after edits)."""
    with MO.open("rb") as f:
        mo = gettext.GNUTranslations(f)
    stale = [
        e["msgid"] for e in read_po(PO)[1:] if e["msgid_plural"] is None and mo.gettext(e["msgid"]) != e["msgstr"][0]
    ]
    assert stale == [], "run `../.venv/bin/python ../manage.py compilemessages` in grid/"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext (msgfmt) is not installed")
def test_msgfmt_accepts_the_catalogue():
    import subprocess

    result = subprocess.run(["msgfmt", "--check", "-o", "/dev/null", str(PO)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgmerge") is None,
    reason="GNU gettext (xgettext, msgmerge) is not installed",
)
def test_every_string_of_the_source_is_in_the_catalogue(tmp_path, monkeypatch):
    """makemessages over a copy of grid/ adds no new (empty or fuzzy) entry: nothing was left out of django.po."""
    copy = tmp_path / "grid"
    shutil.copytree(GRID_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "static", "*.mo"))
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["zh_Hans"], verbosity=0)
    assert catalogue_problems(read_po(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")) == []
