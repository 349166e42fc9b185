"""What one cycle plans for one request section, before anything is written.

`Planned` holds the values to record, the replies to say, the audit entries and the
decisions to keep; `ForgedLine` is a status line the bot did not write, answered in
the cycle. Planning (`planning.py`), judging (`judging.py`) and deciding
(`decisions.py`) fill a `Planned` in; the clerk then records it in the store
(`bot/recording.py`) and saves the page. Plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.rules import page
from membership.records import RequestRecord
from membership.states import State


@dataclass(frozen=True)
class ForgedLine:
    """A status line the bot did not write, answered in this cycle (remembered once)."""

    key: str
    token: str
    author: str
    revid: int | None
    line: str


@dataclass
class Planned:
    """What the cycle decided about one request section, before anything is written."""

    section: page.RequestSection
    record: RequestRecord | None
    values: dict[str, Any]
    replies: list[tuple[str, str]] = field(default_factory=list)  # (state, text)
    audit: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)  # for Store.add_decision
    forged: list[ForgedLine] = field(default_factory=list)

    @property
    def state(self) -> str:
        return self.values.get("state") or (self.record.state if self.record else "")

    @property
    def requester(self) -> str:
        return self.values.get("requester") or (self.record.requester if self.record else "")

    @property
    def subject(self) -> str:
        return self.values.get("subject") or (self.record.subject if self.record else "")

    @property
    def lang(self) -> str:
        return self.values.get("lang") or (self.record.lang if self.record else "en")

    def changed_state(self) -> bool:
        return "state" in self.values and (
            self.record is None or self.values["state"] != self.record.state
        )

    def set_state(self, state: State, text: str) -> None:
        self.values["state"] = str(state)
        self.replies.append((str(state), text))
