"""The bot's layout holds: pywikibot is imported in one module, the cycle's core is pure."""

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


def test_judging_decisions_and_planning_touch_neither_the_wiki_nor_the_store() -> None:
    for name in ("judging", "decisions", "planning"):
        names = imported(ROOT / "bot" / f"{name}.py")
        assert not {n for n in names if n == "bot.wiki" or n.startswith("bot.wiki.")}, name
        assert "bot.lookups" not in names and "bot.recording" not in names, name
        store = {
            n for n in names if n.startswith("membership.store.") and n[17:] != "RequestRecord"
        }
        assert not store, (name, store)
