"""Replies of this bot's own account already on the page that this store did not post.

Two deployments of the same bot with separate stores (a move between hosts, a store
restored from an old backup) read the same page, and each would answer a request it
has not seen as new. Before adding a reply line, the clerk asks here whether the same
reply (state and text; the signature aside) already stands under that request, put
there by the bot's account in a revision this store has not seen — after the page
revision it last recorded. Such a reply is recorded as posted instead of added again.
A reply with the same text that this store itself posted earlier stands in a revision
the store has seen, so a legitimately repeated identical reply is still posted.

Authorship comes from the history, never from the signature: each candidate line's
first appearance is found with `bot.attribution`'s search over the revisions since the
store's, whose keys here are whole lines under their section's heading line (two
requests by the same person answered in the same minute get the very same line, so
the section is part of the key). It costs nothing unless a matching line is on the
page.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot import attribution, replies
from bot.page import RequestPage
from bot.wiki import RevisionMeta

_HEADING = re.compile(r"^==[^=].*==[ \t]*$")


@dataclass(frozen=True)
class Echo:
    """A planned reply already on the page: say nothing, record it as posted in `revid`."""

    key: str
    state: str
    text: str
    revid: int


def says(line: str, prefix: str) -> bool:
    """Whether a reply line on the page is the reply `prefix` (`replies.reply_prefix`),
    whatever signature follows it."""
    body, want = line.lstrip(":*"), prefix.lstrip(":")
    return body.startswith(want) and (len(body) == len(want) or body[len(want)].isspace())


def find(
    parsed: RequestPage,
    planned: Mapping[str, Sequence[tuple[str, str]]],
    *,
    status_template: str,
    bot_user: str,
    known_revid: int | None,
    history: Callable[[], list[RevisionMeta]],
    fetch_texts: Callable[[list[int]], Mapping[int, str]],
) -> list[Echo]:
    """The planned replies (section key -> [(state, text)]) that the bot's account
    already put under their request after `known_revid`, the store's last revision."""
    candidates: dict[str, list[str]] = {}  # section key -> matching lines on the page
    headings: dict[str, str] = {}  # section key -> its heading line
    for key, wanted in planned.items():
        section = parsed.get(key)
        if section is None or not wanted:
            continue
        prefixes = [replies.reply_prefix(status_template, s, t) for s, t in wanted]
        lines = [r.line.rstrip("\n") for r in section.replies]
        found = [line for line in lines if any(says(line, p) for p in prefixes)]
        if found:
            candidates[key] = found
            headings[key] = parsed.text[section.start :].split("\n", 1)[0].strip()
    if not candidates:
        return []

    # A key is (heading line, reply line, n-th such line under that heading).
    wanted_lines = {line for lines in candidates.values() for line in lines}
    on_page = _keys_in(parsed.text, wanted_lines)
    keyed: dict[str, list[str]] = {}
    for key, lines in candidates.items():
        seen: Counter[str] = Counter()
        for line in lines:
            seen[line] += 1
            keyed.setdefault(key, []).append(_key(headings[key], line, seen[line]))
    if not any(k in on_page for ks in keyed.values() for k in ks):
        return []  # the page's sections could not be told apart by their heading lines

    def keys_in(text: str) -> frozenset[str]:
        return _keys_in(text, wanted_lines)

    revisions: list[RevisionMeta] = list(history())
    if known_revid:
        # The store's own revision first: a line already there is not new to it.
        revisions.insert(0, RevisionMeta(known_revid, "", "", 0))
    introduced = attribution.introductions(
        revisions, {k for ks in keyed.values() for k in ks}, fetch_texts, keys_in
    )

    echoes: list[Echo] = []
    for key, wanted in planned.items():
        fresh = [
            (line, rev.revid)
            for line, occurrence in zip(candidates.get(key, []), keyed.get(key, []), strict=True)
            if (rev := introduced.get(occurrence)) is not None
            and rev.revid != known_revid
            and rev.user == bot_user
        ]
        for state, text in wanted:
            prefix = replies.reply_prefix(status_template, state, text)
            match = next((f for f in fresh if says(f[0], prefix)), None)
            if match is not None:
                fresh.remove(match)
                echoes.append(Echo(key, state, text, match[1]))
    return echoes


def _keys_in(text: str, wanted: set[str]) -> frozenset[str]:
    """The keys of the wanted reply lines in `text`, each under its heading line."""
    counts: Counter[tuple[str, str]] = Counter()
    heading = ""
    for line in text.splitlines():
        if _HEADING.match(line):
            heading = line.strip()
        elif line in wanted:
            counts[(heading, line)] += 1
    return frozenset(
        _key(heading, line, n) for (heading, line), c in counts.items() for n in range(1, c + 1)
    )


def _key(heading: str, line: str, n: int) -> str:
    return f"{heading}\x1f{line}\x1f{n}"
