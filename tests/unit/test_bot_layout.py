"""The bot's layout holds: pywikibot is imported in one module, the rules are pure."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("ats", "bot", "bridge", "membership", "policies", "provisioning")


def imported(path: Path) -> set[str]:
    """Every module `path` imports, at the top, in a function or for type checking."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_the_wiki_site_module_imports_pywikibot() -> None:
    importers = sorted(
        str(path.relative_to(ROOT))
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if any(n == "pywikibot" or n.startswith("pywikibot.") for n in imported(path))
    )
    assert importers == ["bot/wiki/site.py"]


def test_the_rules_import_neither_the_wiki_nor_the_store() -> None:
    """The direct imports only; `lint-imports` checks the indirect ones too (pyproject.toml)."""
    io = ("pywikibot", "sqlite_utils", "sqlite3", "requests", "socket", "membership.store")
    for path in sorted((ROOT / "bot" / "rules").glob("*.py")):
        names = imported(path)
        outside = {n for n in names if n.startswith("bot.") and not n.startswith("bot.rules")}
        assert not outside, (path.name, outside)
        assert not {n for n in names if n.split(".")[0] in io or n.startswith(io)}, path.name
