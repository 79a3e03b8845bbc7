"""Issue #14, point 23: the dashboard's pages are one module each, and the small import circles are gone.

The import graph is read from the source (every ``import``, also those inside functions), so a circle hidden
behind a late import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The bot.* modules a file imports anywhere in it (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("bot")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("bot"):
                continue
            out.add(target)
            for a in node.names:  # "from . import charts" imports a module
                if (BOT.parent / (target + "." + a.name).replace(".", "/")).with_suffix(".py").exists():
                    out.add(target + "." + a.name)
    return out


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in BOT.rglob("*.py")}


def reaches(g: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m == goal:
            return True
        if m in seen:
            continue
        seen.add(m)
        todo.extend(g.get(m, ()))
    return False


@pytest.mark.parametrize("a, b", [
    ("bot.cli", "bot.dashboard"),  # over CliError
    ("bot.core.encoders", "bot.core.token_states"),  # over the self-check texts
])
def test_no_import_circle(a, b):
    g = graph()
    assert not (reaches(g, a, b) and reaches(g, b, a)), f"{a} and {b} import each other"


def test_cli_error_is_shared_not_imported_from_the_cli():
    from bot.cli import CliError as from_cli
    from bot.errors import CliError

    assert from_cli is CliError  # the CLI still catches the dashboard's errors
    assert not any(m == "bot.cli" for m in imports_of(BOT / "dashboard" / "__init__.py"))


PAGES = {  # URL -> the module that serves it
    "/login": "auth_routes", "/logout": "auth_routes", "/overview": "overview", "/incidents": "queue",
    "/incidents/bulk": "queue", "/incidents/export.{fmt}": "queue", "/incidents/{id}": "incident",
    "/incidents/{id}/resolve": "incident", "/points": "points", "/points/{tp}": "points",
    "/points/{tp}/policy": "points", "/exemplars": "exemplars", "/exemplars/promoted.yaml": "exemplars",
    "/exemplars/{id}/promote": "exemplars", "/audit": "audit",
    "/campaigns": "campaigns", "/campaigns/{id}/resolve": "campaigns",
    "/narratives": "narratives", "/narratives/{id}": "narratives", "/narratives/{id}/draft": "narratives",
}


def test_each_page_is_served_by_its_own_module(bot_app):
    import re

    from bot.dashboard.app import create_app

    app = create_app(bot_app, bot_app.config)
    served: dict[str, str] = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        handler = getattr(route.handler, "__wrapped__", route.handler)
        if path and not path.startswith("/static") and path != "/":
            served[re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)] = handler.__module__
    assert served == {p: f"bot.dashboard.routes.{m}" for p, m in PAGES.items()}
    # and app.py is only the application: no page handler lives there any more
    assert len((BOT / "dashboard" / "app.py").read_text(encoding="utf-8").splitlines()) < 150
