"""Every app's Simplified Chinese catalogue is complete, compiled and matches its source: one set of checks,
applied to each app that speaks Chinese."""

import ast
import gettext
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command

import engagement
import grid
import layers
import map_ui
import vision

APPS = {
    module.__name__: Path(module.__file__).resolve().parent for module in (engagement, grid, layers, map_ui, vision)
}


def po_of(app_dir: Path) -> Path:
    return app_dir / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


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


# A placeholder, with a conversion that may carry flags, width and precision ("%(size).1f MB"), or a brace.
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|\{\{|\}\}|\{\w*\}")


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


@pytest.mark.parametrize("app", APPS)
def test_every_entry_of_the_chinese_catalogue_is_translated_and_not_fuzzy(app):
    entries = read_po(po_of(APPS[app]))
    assert entries[0]["msgid"] == "" and "Language: zh_Hans" in entries[0]["msgstr"][0]
    assert len(entries) > 10  # the parser read the file, not just its header
    assert catalogue_problems(entries) == []


def test_a_placeholder_with_a_precision_is_checked():
    entry = {"msgid": "%(size).1f MB", "msgstr": ["%(size)s 兆"], "flags": set(), "line": 1}
    assert catalogue_problems([entry]) == ["line 1 '%(size).1f MB': placeholders differ in '%(size)s 兆'"]


@pytest.mark.parametrize("app", APPS)
def test_the_compiled_catalogue_matches_the_po_file(app):
    """django.mo is what Django reads: it must hold every translation of django.po (recompile after edits)."""
    po = po_of(APPS[app])
    with po.with_suffix(".mo").open("rb") as f:
        mo = gettext.GNUTranslations(f)

    def compiled(entry: dict) -> str:
        context = entry.get("msgctxt")
        return mo.pgettext(context, entry["msgid"]) if context is not None else mo.gettext(entry["msgid"])

    stale = [e["msgid"] for e in read_po(po)[1:] if e["msgid_plural"] is None and compiled(e) != e["msgstr"][0]]
    assert stale == [], f"run `../.venv/bin/python ../manage.py compilemessages` in {app}/"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext (msgfmt) is not installed")
@pytest.mark.parametrize("app", APPS)
def test_msgfmt_accepts_the_catalogue(app):
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(po_of(APPS[app]))], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgmerge") is None,
    reason="GNU gettext (xgettext, msgmerge) is not installed",
)
@pytest.mark.parametrize("app", APPS)
def test_every_string_of_the_source_is_in_the_catalogue(app, tmp_path, monkeypatch):
    """makemessages over a copy of the app adds no new (empty or fuzzy) entry: nothing was left out of django.po."""
    copy = tmp_path / app
    shutil.copytree(APPS[app], copy, ignore=shutil.ignore_patterns("__pycache__", "static", "*.mo"))
    monkeypatch.chdir(copy)
    call_command("makemessages", locale=["zh_Hans"], verbosity=0)
    assert catalogue_problems(read_po(po_of(copy))) == []
