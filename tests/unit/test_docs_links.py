"""The README and the pages under docs/ lead where they say: every relative link
names a file of the repository, every `#anchor` a heading of the page it points
to (as GitHub makes anchors from headings), and every file the "where to find it"
maps name for today exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]+\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    found = set()
    in_code = False
    for line in page.read_text("utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_leads_somewhere(page: Path) -> None:
    text = re.sub(r"```.*?```|`[^`\n]*`", "", page.read_text("utf-8"), flags=re.S)
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        assert destination.exists(), f"{page.name}: {target}"
        if anchor and destination.suffix == ".md":
            assert anchor in anchors(destination), f"{page.name}: {target}"


def test_the_two_commands_are_on_the_first_screen() -> None:
    first = "\n".join((ROOT / "README.md").read_text("utf-8").splitlines()[:40])
    assert "scripts/demo" in first and "scripts/test" in first


def section(page: Path, heading: str) -> str:
    """The text under `heading` up to the next heading of the same level or higher."""
    level = heading.split(" ")[0]
    text = page.read_text("utf-8")
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    ends = [text.find(f"\n{'#' * n} ", start) for n in range(1, len(level) + 1)]
    return text[start : min([e for e in ends if e != -1], default=len(text))]


def named_paths(text: str) -> set[str]:
    return {p for p in re.findall(r"`([\w.*-]+/[\w./*-]+)`", text) if "." in p.rsplit("/", 1)[-1]}


def column(table: str, index: int) -> str:
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| ")]
    return "\n".join(row[index] for row in rows[1:])


def test_the_maps_name_files_that_exist() -> None:
    architecture = ROOT / "docs" / "architecture.md"
    mapped = section(architecture, "## Where to find it")
    now = mapped.split("### Before the names")[0]
    then_and_now = section(architecture, "### Before the names")
    readme = section(ROOT / "README.md", "## Where to find it")
    paths = named_paths(now) | named_paths(column(then_and_now, 3))
    paths |= named_paths(column(readme, 2))
    assert len(paths) > 20
    missing = sorted(p for p in paths if not list(ROOT.glob(p)))
    assert not missing
