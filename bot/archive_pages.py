"""The clerk's archive edits: read the archive pages the due requests go to, plan the
moves (`bot.rules.archive`, pure), and save the archive pages before the request page.

The clerk calls `read` while it plans a cycle and `save` just before it saves the
request page; a section already in its archive but gone from the page (a cycle that
saved both and died before writing that down) is returned as settled, to be recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import wiki
from bot.rules import archive, page, planning
from bot.rules.settings import ClerkSettings
from membership.records import RequestRecord

__all__ = ["Archiving", "read", "save"]


@dataclass
class Archiving:
    """The archive moves a cycle makes, the archive pages as read, and requests an
    earlier, interrupted cycle archived without writing it down."""

    plan: archive.ArchivePlan | None
    bases: dict[str, wiki.PageRevision] = field(default_factory=dict)
    settled: list[tuple[RequestRecord, str]] = field(default_factory=list)


def read(
    site: Any,
    s: ClerkSettings,
    text: str,
    due: dict[str, datetime],
    records: dict[str, RequestRecord],
    identities: list[str],
) -> Archiving:
    """Read the archive pages the due requests go to, and plan the moves."""
    if not due:
        return Archiving(None)
    parsed = planning.rekeyed(page.parse(text, s.vocab), identities)
    titles = sorted({archive.archive_title(s.page, at) for at in due.values()})
    bases = wiki.read_pages(site, titles).pages
    plan = archive.plan_archive(
        parsed, due, {t: bases[t].text for t in titles}, request_page=s.page
    )
    # A section already gone from the page but present in its archive: an earlier
    # cycle saved both and died before writing that down. Record it now.
    settled = []
    for key, closed_at in due.items():
        title = archive.archive_title(s.page, closed_at)
        heading = f"== {records[key].heading} =="
        if parsed.get(key) is None and heading in bases[title].text:
            settled.append((records[key], title))
    return Archiving(plan if plan.moves else None, dict(bases), settled)


def save(
    site: Any,
    s: ClerkSettings,
    archiving: Archiving,
    before_save: Callable[[], Any],
    after_save: Callable[[], None],
) -> None:
    """Save each archive page that changed; `before_save` paces, `after_save` records
    the save (so the pace survives restarts)."""
    assert archiving.plan is not None
    for title, text in archiving.plan.archive_texts.items():
        base = archiving.bases[title]
        if base.exists and base.text == text:
            continue  # saved by an earlier, interrupted cycle
        before_save()
        wiki.save(
            site,
            title,
            text,
            base=base,
            started="",
            summary=planning.archive_summary(s.page, s.content_lang),
        )
        after_save()
