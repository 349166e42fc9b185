"""Moving closed requests to monthly archive pages: the plan of both edits, pure.

This module owns the text side of contract §2 "Archive": given a parsed request page, the
requests to archive now and when each was closed, and the current text of the archive
pages, ``plan_archive`` returns the new text of each archive page (the sections
appended, byte for byte) and of the request page (the same sections cut out, every
other byte kept). The caller saves the archives first and the request page second; a
section already found in its archive is not appended again, so planning again after a
crash between the two saves only removes it. Which requests are closed, and for how
long, is decided elsewhere; saving is the adapter's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from bot.rules.page import RequestPage, mask

__all__ = ["ArchiveMove", "ArchivePlan", "archive_title", "is_archived", "plan_archive"]

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class ArchiveMove:
    """One request section leaving the page: ``page.text[start:end]`` exactly."""

    key: str
    archive_title: str
    section_text: str


@dataclass(frozen=True)
class ArchivePlan:
    """Both edits: the archives whose text changes (save these first), then the page."""

    moves: tuple[ArchiveMove, ...]
    archive_texts: Mapping[str, str]
    page_text: str


def _utc(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC, the wiki's clock."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC)


def archive_title(request_page: str, closed_at: datetime) -> str:
    """``<request page>/Archive/<YYYY>-<MM>`` for the (UTC) month the request closed."""
    moment = _utc(closed_at)
    return f"{request_page}/Archive/{moment.year:04d}-{moment.month:02d}"


def _header(request_page: str, closed_at: datetime) -> str:
    moment = _utc(closed_at)
    return (
        f"Archived requests from [[{request_page}]], "
        f"{_MONTHS[moment.month - 1]} {moment.year:04d}.\n"
    )


def is_archived(archive_text: str, section_text: str) -> bool:
    """Whether the section's text stands in the archive as whole lines.

    Trailing whitespace is not compared, because MediaWiki trims it from the end of a
    saved page; the match must start a line and end one, so a section is not taken for
    archived because it appears inside a longer line. A section that is the start of a
    longer archived one still counts: all its bytes are in the archive.
    """
    core = section_text.rstrip()
    if not core:
        return True
    at = archive_text.find(core)
    while at >= 0:
        after = at + len(core)
        line_end = archive_text.find("\n", after)
        tail = archive_text[after:] if line_end < 0 else archive_text[after:line_end]
        if (at == 0 or archive_text[at - 1] == "\n") and not tail.strip(" \t"):
            return True
        at = archive_text.find(core, at + 1)
    return False


def _append(archive: str, section: str) -> str:
    """``archive`` + a blank line + ``section``; a comment left open by it is closed."""
    if archive.endswith("\n\n"):
        glue = ""
    elif archive.endswith("\n"):
        glue = "\n"
    else:
        glue = "\n\n"
    # A comment the section never closes would hide every later archived section.
    if "<!--" in section and mask(section)[1] is not None:
        section += ("" if section.endswith("\n") else "\n") + "-->\n"
    return archive + glue + section


def plan_archive(
    page: RequestPage,
    closed: Mapping[str, datetime],
    current_archives: Mapping[str, str],
    *,
    request_page: str,
) -> ArchivePlan:
    """The archive and page texts once the ``closed`` requests on the page have moved.

    Keys of ``closed`` not on the page are skipped. ``current_archives`` maps an archive
    title to its text ("" for a missing page; a title it lacks counts as missing);
    ``request_page`` is the page's title, which the archive titles are built on.
    ``archive_texts`` holds only the archives whose text changes. Sections are cut as
    ``text[start:end]`` (the heading to the next heading, trailing blank lines included),
    so the blank lines that separated them from the next section go with them and
    nothing is glued or doubled; the archived copy holds every byte of each.
    """
    found = (page.get(key) for key in closed)
    sections = sorted((s for s in found if s is not None), key=lambda s: s.start)
    if not sections:
        return ArchivePlan((), MappingProxyType({}), page.text)
    moves: list[ArchiveMove] = []
    texts: dict[str, str] = {}
    kept: list[str] = []
    pos = 0
    for section in sections:
        when = closed[section.key]
        title = archive_title(request_page, when)
        body = page.text[section.start : section.end]
        moves.append(ArchiveMove(section.key, title, body))
        if title not in texts:
            texts[title] = current_archives.get(title, "")
        if not is_archived(texts[title], body):
            if not texts[title].strip():
                texts[title] = _header(request_page, when)
            texts[title] = _append(texts[title], body)
        kept.append(page.text[pos : section.start])
        pos = section.end
    kept.append(page.text[pos:])
    changed = {t: text for t, text in texts.items() if text != current_archives.get(t, "")}
    return ArchivePlan(tuple(moves), MappingProxyType(changed), "".join(kept))
