"""The layers app (the resource library) speaks Simplified Chinese by default and English on request, and its
catalogue is complete. The catalogue checks are grid's (tests/grid/test_i18n.py), applied to layers/."""

import gettext
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command

import layers
from tests.grid.test_i18n import catalogue_problems, read_po

LAYERS_DIR = Path(layers.__file__).resolve().parent
LC_MESSAGES = LAYERS_DIR / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"


# --- API -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "language", "titles"),
    [
        (
            {},
            "zh-hans",
            {
                "people": ("人口", "人口"),
                "households": ("住户", "人口"),
                "things": ("城市部件", "城市部件"),
                "party_organizations": ("党组织", "组织"),
            },
        ),
        (
            {"HTTP_ACCEPT_LANGUAGE": "en"},
            "en",
            {
                "people": ("people", "people"),
                "households": ("households", "people"),
                "things": ("things", "things"),
                "party_organizations": ("party organizations", "organizations"),
            },
        ),
    ],
)
def test_the_layer_registry_is_titled_in_the_requested_language(api_as, people, territory, headers, language, titles):
    response = api_as(people["admin"]).get("/api/v1/layers/", **headers)
    assert response.status_code == 200
    assert response["Content-Language"] == language
    legend = {layer["name"]: layer for layer in response.json()}
    assert {name: (legend[name]["title"], legend[name]["group_title"]) for name in titles} == titles


def test_filter_choices_of_the_registry_speak_chinese_by_default(api_as, people, territory):
    legend = {layer["name"]: layer for layer in api_as(people["admin"]).get("/api/v1/layers/").json()}
    kinds = {f["name"]: f for f in legend["gig_workers"]["filters"]}["kind"]["choices"]
    assert {"value": "courier", "title": "快递员"} in kinds
    assert {"value": "food_delivery", "title": "外卖骑手"} in kinds


# --- The catalogue -------------------------------------------------------------------------------------------------

# grid's PLACEHOLDER does not see a conversion with a precision, as in "%(size).1f MB"; layers has several.
FORMATTED_PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|\{\{|\}\}|\{\w*\}")


def test_every_entry_of_the_chinese_catalogue_is_translated_and_not_fuzzy():
    entries = read_po(PO)
    assert entries[0]["msgid"] == "" and "Language: zh_Hans" in entries[0]["msgstr"][0]
    assert len(entries) > 100  # the parser read the file, not just its header
    assert catalogue_problems(entries) == []


def test_placeholders_with_a_precision_are_kept():
    differ = [
        (e["msgid"], s)
        for e in read_po(PO)[1:]
        for s in e["msgstr"]
        if Counter(FORMATTED_PLACEHOLDER.findall(s)) != Counter(FORMATTED_PLACEHOLDER.findall(e["msgid"]))
    ]
    assert differ == []


def test_the_compiled_catalogue_matches_the_po_file():
    """django.mo is what Django reads: it must hold every translation of django.po (recompile after edits)."""
    with MO.open("rb") as f:
        mo = gettext.GNUTranslations(f)

    def compiled(entry: dict) -> str:
        context = entry.get("msgctxt")
        return mo.pgettext(context, entry["msgid"]) if context is not None else mo.gettext(entry["msgid"])

    stale = [e["msgid"] for e in read_po(PO)[1:] if e["msgid_plural"] is None and compiled(e) != e["msgstr"][0]]
    assert stale == [], "run `../.venv/bin/python ../manage.py compilemessages` in layers/"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext (msgfmt) is not installed")
def test_msgfmt_accepts_the_catalogue():
    result = subprocess.run(["msgfmt", "--check", "-o", "/dev/null", str(PO)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgmerge") is None,
    reason="GNU gettext (xgettext, msgmerge) is not installed",
)
def test_every_string_of_the_source_is_in_the_catalogue(tmp_path, monkeypatch):
    """makemessages over a copy of layers/ adds no new (empty or fuzzy) entry: nothing was left out of django.po."""
    copy = tmp_path / "layers"
    shutil.copytree(LAYERS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["zh_Hans"], verbosity=0)
    assert catalogue_problems(read_po(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")) == []
