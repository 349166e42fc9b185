"""Replies of this bot's own account already on the page that this store did not post.

Two deployments of the same bot with separate stores (a move between hosts, a store
restored from an old backup) read the same page, and each would answer a request it
has not seen as new. Before adding a reply line, the clerk asks here whether the same
reply (state and text; the signature aside) already stands under that request, put
there by the bot's account in a revision this store has not seen — after the page
revision it last recorded. Such a reply is recorded as posted instead of added again.
A reply with the same text that this store itself posted earlier stands in a revision
the store has seen, so a legitimately repeated identical reply is still posted.

Authorship comes from the history, never from the signature: the page's provenance
(`bot.page_history`) knows, for each status line under a request, the revision that
first showed it in that request and who saved it. Sections without a line that looks
like a planned reply cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.rules import replies
from bot.rules.page import RequestPage, RequestSection
from bot.rules.provenance import Origin

Origins = Callable[[RequestSection], Sequence[tuple[str, Origin | None]]]


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
    body, want = line.strip().lstrip(":*"), prefix.lstrip(":")
    return body.startswith(want) and (len(body) == len(want) or body[len(want)].isspace())


def find(
    parsed: RequestPage,
    planned: Mapping[str, Sequence[tuple[str, str]]],
    *,
    status_template: str,
    bot_user: str,
    known_revid: int | None,
    origins: Origins,
) -> list[Echo]:
    """The planned replies (section key -> [(state, text)]) that the bot's account
    already put under their request after `known_revid`, the store's last revision.

    `origins(section)` gives each status line of a section with the revision and user
    that first showed it there.
    """
    found: list[Echo] = []
    for key, wanted in planned.items():
        section = parsed.get(key)
        if section is None or not wanted:
            continue
        prefixes = [replies.reply_prefix(status_template, s, t) for s, t in wanted]
        if not any(says(r.line, p) for r in section.replies for p in prefixes):
            continue
        fresh = [
            (line, origin.revid)
            for line, origin in origins(section)
            if origin is not None
            and origin.user == bot_user
            and (known_revid is None or origin.revid > known_revid)
        ]
        for (state, text), prefix in zip(wanted, prefixes, strict=True):
            match = next((f for f in fresh if says(f[0], prefix)), None)
            if match is not None:
                fresh.remove(match)
                found.append(Echo(key, state, text, match[1]))
    return found
