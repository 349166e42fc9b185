"""Plain data for the clerk's pure core: a page history, records, users, settings.

Builds what a cycle would have read (the page text, its provenance walk, the store's
records) without a wiki or a store, so judging and deciding are tested as functions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.rules import judging, page, planning
from bot.rules.history import History
from bot.rules.planned import Planned
from bot.rules.provenance import PageHistory, Revision, sha1_of, walk
from bot.rules.settings import ClerkSettings
from membership.records import RequestRecord
from policies.eligibility import EligibilityPolicy, UserRecord

NOW = datetime(2026, 5, 2, 12, 0, tzinfo=UTC)
SETTINGS = ClerkSettings(
    page="Requests",
    bot_user="ClerkBot",
    bridge_url="https://bridge.example",
    policy=EligibilityPolicy(admins=("ChapterAdmin",), admin_group="toolserver-admin"),
)


def request(heading: str, *lines: str, username: str = "", purpose: str = "Tools.") -> str:
    """A request section; `lines` follow the template (signatures, decisions)."""
    fields = [" | type = account", f" | purpose = {purpose}"]
    if username:
        fields.append(f" | username = {username}")
    return "\n".join([f"== {heading} ==", "{{ATS request", *fields, "}}", *lines]) + "\n"


class Wiki:
    """A request page edited revision by revision, as the page history shows it."""

    def __init__(self) -> None:
        self.revisions: list[Revision] = []

    def edit(self, user: str, text: str) -> Wiki:
        revid = len(self.revisions) + 1
        stamp = f"2026-05-01T10:{revid:02d}:00Z"
        self.revisions.append(Revision(revid, user, sha1_of(text), (), text, stamp))
        return self

    def append(self, user: str, text: str) -> Wiki:
        return self.edit(user, self.text() + text)

    def text(self) -> str:
        if not self.revisions:
            return "Requests.\n\n"
        return self.revisions[-1].text or ""

    def read(self) -> tuple[page.RequestPage, History]:
        """The page parsed and keyed by identity, and its history: what a cycle reads."""
        state = walk(PageHistory(), self.revisions)
        parsed = planning.rekeyed(page.parse(self.text()), state.current())
        return parsed, History(state, self.text(), page.DEFAULT_VOCABULARY, SETTINGS.bot_user)


def record(section: page.RequestSection, **changes: Any) -> RequestRecord:
    """The store's record of `section`, unchanged since it was judged."""
    values: dict[str, Any] = {
        "id": 1,
        "page": SETTINGS.page,
        "key": section.key,
        "heading": section.heading,
        "requester": "Veteran",
        "subject": "Veteran",
        "on_behalf": False,
        "type": "account",
        "fields": dict(section.fields or {}),
        "content_hash": section.content_hash,
        "intro_revid": 1,
        "intro_timestamp": "2026-05-01T10:01:00Z",
        "state": "awaiting-identity",
        "detail": {},
        "lang": "en",
        "created_at": "2026-05-01T10:01:00+00:00",
        "updated_at": "2026-05-01T10:01:00+00:00",
        "progress_at": "2026-05-01T10:01:00+00:00",
        "fields_hash": judging.fields_hash(section),
    }
    values.update(changes)
    return RequestRecord(**values)


def planned_new(wiki: Wiki) -> tuple[list[Planned], History]:
    """Plans for the requests of a page the store has never seen, attributed."""
    parsed, history = wiki.read()
    items = planning.select(parsed, {}, NOW, SETTINGS)
    return judging.attribute(items, history, SETTINGS.bot_user), history


def veteran(name: str = "Veteran", **changes: Any) -> UserRecord:
    """An account that meets every rule of the default policy."""
    values: dict[str, Any] = {
        "name": name,
        "editcount": 2431,
        "registration": NOW - timedelta(days=2000),
        "recent_edits": 50,
    }
    values.update(changes)
    return UserRecord(**values)
