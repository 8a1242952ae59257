"""The phone page opens offline only if its service worker caches every script the page loads."""

import re
from pathlib import Path

from map_ui.views.phone import SW_ASSETS

STATIC = Path(__file__).resolve().parents[2] / "map_ui" / "static"
IMPORT = re.compile(r"""^import\s[^;]*?from\s+'(\.{1,2}/[^']+)';""", re.M | re.S)


def imported(name: str) -> set[str]:
    """`name` and every module it imports, directly or not, as static names (map_ui/...)."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        path = STATIC / current
        for target in IMPORT.findall(path.read_text(encoding="utf-8")):
            todo.append((path.parent / target).resolve().relative_to(STATIC.resolve()).as_posix())
    return seen


def test_the_service_worker_caches_every_module_of_the_phone_page():
    modules = imported("map_ui/phone_report.js")

    assert {"map_ui/common.js", "map_ui/phone/sending.js"} <= modules
    assert modules <= set(SW_ASSETS)
    assert all((STATIC / name).is_file() for name in SW_ASSETS)
