"""What the page's history says, as plain data: who first showed each request, each
decision template and each status line.

`History` is the provenance walk (`bot.rules.provenance.PageHistory`) up to the
revision the cycle read, with that revision's text; judging and deciding ask it who
filed a request (the origin of its identity, followed through reverts and restores),
who added a decision template, and which status lines the bot did not write. It does no
I/O: `bot/page_history.py` reads the revisions and builds it. `is_identity` tells a
provenance identity from an older store's heading key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.rules import page
from bot.rules.provenance import Origin, PageHistory, facts

_IDENTITY = re.compile(r"[0-9]+\.[0-9]+")


def is_identity(key: str) -> bool:
    """Whether a request key is a provenance identity (older stores keyed by heading)."""
    return _IDENTITY.fullmatch(key) is not None


@dataclass
class History:
    """The page's provenance up to the revision read, with that revision's text.

    Plain data with pure answers: who first showed a request, a decision template or a
    status line. Judging and deciding ask it; only `follow` reads the wiki and the store.
    """

    state: PageHistory
    text: str
    vocab: page.Vocabulary
    bot_user: str

    def origin(self, identity: str) -> Origin | None:
        return self.state.origin(identity)

    def decision_origin(
        self, section: page.RequestSection, decision: page.Decision
    ) -> Origin | None:
        found = facts(self.text, section, self.vocab)
        token = found.decisions.get((decision.wikitext, decision.ordinal))
        return self.state.token_origin(section.key, token) if token else None

    def status_lines(self, section: page.RequestSection) -> list[tuple[str, Origin | None]]:
        """Each status line in `section` with the revision and user that first showed it."""
        found = facts(self.text, section, self.vocab)
        return [(line, self.state.token_origin(section.key, token)) for token, line in found.lines]

    def foreign_lines(self, section: page.RequestSection) -> list[tuple[str, str, Origin | None]]:
        """(token, line, origin) of each status line in `section` the bot did not write."""
        found = facts(self.text, section, self.vocab)
        lines = []
        for token, line in found.lines:
            origin = self.state.token_origin(section.key, token)
            if origin is None or origin.user != self.bot_user:
                lines.append((token, line, origin))
        return lines
