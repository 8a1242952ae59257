"""The apps stand on each other in one direction (docs/architecture.md, "Dependency direction"): read from the
import statements of every module, lazy imports inside functions included."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"grid", "layers", "vision", "engagement", "map_ui", "fixtures", "project"}
# What each app may import of ours, besides itself.
ALLOWED = {
    "grid": set(),
    "layers": {"grid"},
    "vision": {"grid", "layers"},
    "engagement": {"grid", "layers", "vision"},
    "map_ui": {"grid", "layers", "vision", "engagement"},
    "fixtures": {"grid", "layers", "vision", "engagement"},
}


def imported_apps(app: str) -> dict[str, set[str]]:
    """Each app of ours that `app` imports, with the modules that import it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue  # a migration names the apps its schema depends on, which a model's foreign key already shows
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in OURS and top != app:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("app", sorted(ALLOWED))
def test_an_app_imports_only_the_apps_below_it(app):
    wrong = {other: sorted(paths) for other, paths in imported_apps(app).items() if other not in ALLOWED[app]}
    assert wrong == {}


def test_nothing_imports_the_project_but_what_it_wires():
    assert all("project" not in imported_apps(app) for app in ALLOWED)
