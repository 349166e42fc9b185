"""The reminders room: the yearly renewal's reminders, and the claims on them.

Each reminder is recorded once per member, period (the last covered day) and stage
(days before), with its outcome (posted, with its revision, or why not). A run claims
a reminder's row before it reads the talk page (membership/reminder_claims.py), so
two runs at once remind a member once. Nothing here is deleted but a claim dropped
unsettled.
"""

from __future__ import annotations

from datetime import datetime

from membership.records import ReminderRecord
from membership.store.connection import StoreConnection
from policies.times import iso


class RemindersRoom(StoreConnection):
    # -- reminders (0007, 0015) ----------------------------------------------------

    def reminder(self, member: str, period: str, stage: int) -> ReminderRecord | None:
        row = self._first(
            "reminders", "member = ? AND period = ? AND stage = ?", [member, period, int(stage)]
        )
        return ReminderRecord(**row) if row else None

    def record_reminder(
        self,
        member: str,
        period: str,
        stage: int,
        outcome: str,
        *,
        revid: int | None = None,
        note: str = "",
        now: datetime | None = None,
    ) -> bool:
        """Remember a reminder (posted, or why not); False if it was already recorded."""
        recorded = self._changed(
            "INSERT OR IGNORE INTO reminders (member, period, stage, outcome, revid, note, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [member, period, int(stage), outcome, revid, note, iso(now)],
        )
        return recorded == 1

    def reminders(self, member: str | None = None) -> list[ReminderRecord]:
        return [ReminderRecord(**row) for row in self._matching("reminders", member=member)]

    # -- reminder claims (0015; membership/reminder_claims.py) ---------------------

    def claim_reminder(
        self, member: str, period: str, stage: int, holder: tuple[str, str, int], at: str
    ) -> bool:
        """Write the reminder's row as `claimed` by `holder` (token, host, pid); False if
        it already has a row (claimed by someone, or decided)."""
        claimed = self._changed(
            "INSERT OR IGNORE INTO reminders (member, period, stage, outcome, note, at, "
            "claim_token, claim_host, claim_pid, claimed_at) "
            "VALUES (?, ?, ?, 'claimed', '', ?, ?, ?, ?, ?)",
            [member, period, int(stage), at, *holder, at],
        )
        return claimed == 1

    def take_over_claim(
        self, reminder_id: int, previous: str | None, holder: tuple[str, str, int], at: str
    ) -> None:
        """Make `holder` the claimant of a claim still held by the token `previous`."""
        self._changed(
            "UPDATE reminders SET claim_token = ?, claim_host = ?, claim_pid = ?, "
            "claimed_at = ? WHERE id = ? AND outcome = 'claimed' AND claim_token IS ?",
            [*holder, at, reminder_id, previous],
        )

    def settle_claim(
        self,
        member: str,
        period: str,
        stage: int,
        token: str,
        outcome: str,
        *,
        revid: int | None,
        note: str,
        at: str,
    ) -> bool:
        """Record the outcome of a claim `token` holds; False if it no longer holds it."""
        settled = self._changed(
            "UPDATE reminders SET outcome = ?, revid = ?, note = ?, at = ? WHERE member = ? "
            "AND period = ? AND stage = ? AND outcome = 'claimed' AND claim_token = ?",
            [outcome, revid, note, at, member, period, int(stage), token],
        )
        return settled == 1

    def drop_claim(self, member: str, period: str, stage: int, token: str) -> None:
        """Forget a claim `token` holds and did not settle: the reminder is due again."""
        self._changed(
            "DELETE FROM reminders WHERE member = ? AND period = ? AND stage = ? "
            "AND outcome = 'claimed' AND claim_token = ?",
            [member, period, int(stage), token],
        )
