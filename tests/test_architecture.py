"""The layering the README promises, checked on the source: a platform-neutral core and small cogs."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_MODULES = {"discord", "nio", "aiosqlite", "asyncpg", "aiohttp"}
COG_MAX_LINES = 200


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted((ROOT / "bot" / "core").rglob("*.py")), ids=lambda p: p.name)
def test_core_never_imports_a_platform_or_database_library(path):
    assert not (_imported_roots(path) & PLATFORM_MODULES)


COGS = sorted(p for p in (ROOT / "cogs").glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("path", COGS, ids=lambda p: p.name)
def test_each_cog_is_one_small_extension_with_an_async_setup(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    setups = [n for n in tree.body if isinstance(n, ast.AsyncFunctionDef) and n.name == "setup"]
    assert len(setups) == 1 and [a.arg for a in setups[0].args.args] == ["bot"]
    assert len(path.read_text(encoding="utf-8").splitlines()) <= COG_MAX_LINES


def test_there_are_cogs_and_core_modules_to_check():
    assert len(COGS) >= 5 and len(list((ROOT / "bot" / "core").rglob("*.py"))) >= 10
