"""What the code says about itself holds: every "contract §N" it cites is a section of
docs/contract.md (and no citation of a document the repository lacks, "SPEC §N", is
left), and the bridge's docstring names every blueprint `create_app` registers."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

import bridge

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ats", "bot", "bridge", "devtools", "membership", "policies", "provisioning", "runtime")


def _sources() -> list[Path]:
    files = [path for package in PACKAGES for path in (ROOT / package).rglob("*.py")]
    return [*files, *(ROOT / "docs").glob("*.md"), ROOT / "README.md"]


def test_every_contract_citation_names_a_section_that_exists() -> None:
    sections = set(re.findall(r"^## §(\d+) ", (ROOT / "docs" / "contract.md").read_text(), re.M))
    assert len(sections) >= 9
    cited: dict[str, set[str]] = {}
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        assert "SPEC §" not in text, f"{path.relative_to(ROOT)} cites a SPEC the repository lacks"
        for number in re.findall(r"contract §(\d+)", text):
            cited.setdefault(number, set()).add(str(path.relative_to(ROOT)))
    assert cited, "no citation found: the check has lost its way"
    missing = {number: sorted(paths) for number, paths in cited.items() if number not in sections}
    assert not missing, f"cited sections that docs/contract.md lacks: {missing}"


def test_the_bridge_docstring_names_every_blueprint(app: Flask) -> None:
    assert bridge.__doc__ is not None
    registered = set(app.blueprints)
    assert len(registered) >= 6
    unnamed = sorted(name for name in registered if f"`{name}`" not in bridge.__doc__)
    assert not unnamed, f"blueprints the bridge's docstring does not name: {unnamed}"
