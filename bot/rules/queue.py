"""The bot-owned queue summary at the top of the request page: rendering and placing it, pure.

This module owns one region of the request page, between the ``START`` and ``END``
marker comments: ``render_queue`` turns the open requests into that region (a sortable
table, oldest first, with a backlog notice), ``queue_region`` finds the region on a page
and ``apply_queue`` puts a new one in place changing no other byte. The region lives
in the preamble, before the first heading, so it never becomes part of a request
section. A region is only recognised there, as a live ``START`` followed by a live
``END`` (markers inside ``<nowiki>``-like tags or other comments do not count); when
there is none, a half-deleted one or one moved below a heading included, a fresh
region goes at the very top and the leftovers are left for a human: replacing text up
to a marker that is not where the bot put it could delete what people wrote. Which
requests are open and how long they have waited is decided elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bot.rules.page import hidden_spans

__all__ = ["END", "START", "QueueEntry", "apply_queue", "queue_region", "render_queue"]

START = "<!-- ats-queue:start (maintained by the bot; edits here are overwritten) -->"
END = "<!-- ats-queue:end -->"


@dataclass(frozen=True)
class QueueEntry:
    """One open request as the queue shows it; ``key`` is ``RequestSection.key``."""

    key: str
    heading: str
    state: str
    requester: str
    waiting_days: int


# Characters that could start markup in a table cell, a link, a parser-function argument
# or a pre-save transform (signatures ~~~, magic words __X__, free links http:, tags,
# comments, quotes): written as numeric entities, which MediaWiki shows as the character
# and {{anchorencode:}} decodes before it encodes the anchor.
_UNSAFE = frozenset("!\"#$%&'*:;<=>[]_{|}~")
_DUPLICATE = re.compile(r" #([0-9]+)\Z")


def _escape(text: str) -> str:
    return "".join(f"&#{ord(c)};" if c in _UNSAFE else c for c in " ".join(text.split()))


def _link(entry: QueueEntry) -> str:
    """``[[#anchor|heading]]``; a repeated heading links to MediaWiki's ``_2``-style anchor.

    MediaWiki numbers repeated anchors over all headings of the page while request keys
    count requests only, so a discussion with the same heading can shift the number.
    """
    anchor = f"{{{{anchorencode:{_escape(entry.heading)}}}}}"
    suffix = _DUPLICATE.search(entry.key)
    if suffix and entry.key[: suffix.start()] == entry.heading:
        anchor += f"_{suffix.group(1)}"
    return f"[[#{anchor}|{_escape(entry.heading)}]]"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def render_queue(
    entries: Sequence[QueueEntry], *, backlog_days: int, status_template: str = "ATS status"
) -> str:
    """The whole region, markers included: a backlog notice if due, then the table.

    Rows are ordered by days waiting (most first), then by key, so the same requests give
    the same bytes whatever order they come in and an unchanged queue costs no edit.
    """
    lines = [START]
    if not entries:
        lines += ["No open requests.", END]
        return "\n".join(lines)
    rows = sorted(entries, key=lambda e: (-e.waiting_days, e.key))
    late = [e for e in rows if e.waiting_days > backlog_days]
    if late:
        lines.append(
            f"'''Backlog:''' {_plural(len(late), 'request has', 'requests have')} waited "
            f"more than {_plural(backlog_days, 'day', 'days')}; the oldest has waited "
            f"{_plural(late[0].waiting_days, 'day', 'days')}."
        )
    lines += [
        '{| class="wikitable sortable"',
        '! Request !! State !! Requester !! data-sort-type="number" | Days waiting',
    ]
    for entry in rows:
        lines += [
            "|-",
            f"| {_link(entry)}",
            f"| {{{{{status_template}|{_escape(entry.state)}}}}}",
            f"| {_escape(entry.requester)}",
            f"| {entry.waiting_days}",
        ]
    lines += ["|}", END]
    return "\n".join(lines)


# --- finding the region ---------------------------------------------------------------


def _preamble_markers(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, marker) of each live marker comment before the first heading line.

    Any line starting with ``=`` outside comments and unparsed tags ends the preamble: a
    superset of the level-1/2 headings bot.rules.page splits on, so the region never reaches
    into a section. Only the preamble is scanned, however long the page.
    """
    if text.startswith("="):
        return
    visible = 0
    for start, end, _ in hidden_spans(text):
        # A hidden stretch is blanked on one line, so only visible text can hold "\n=".
        if text.find("\n=", visible, start) >= 0:
            return
        if text[start:end] in (START, END):
            yield start, end, text[start:end]
        visible = end


def _find(text: str) -> tuple[int, int] | None:
    """The first live START...END pair in the preamble with no other marker between."""
    if START not in text:
        return None
    opened = None
    for start, end, marker in _preamble_markers(text):
        if marker == START:
            opened = start
        elif opened is not None:
            return opened, end
    return None


def queue_region(text: str) -> str | None:
    """The current region, markers included, or None when the page has no whole one."""
    found = _find(text)
    return None if found is None else text[found[0] : found[1]]


def apply_queue(text: str, region: str) -> str:
    """``text`` with its region replaced by ``region``, or ``region`` added at the top.

    Every byte outside the replaced region is kept. Broken or misplaced markers are not
    repaired: a fresh region goes first on the page, where the next call finds it.
    """
    if queue_region(region) != region:
        raise ValueError("a queue region must be START, lines without headings, then END")
    found = _find(text)
    if found is None:
        return region + "\n" + text
    return text[: found[0]] + region + text[found[1] :]
