"""The renewal room: shell accounts and who holds them, and the yearly renewal's reminders
and suspensions.

An account row says which wiki user (or tool) holds a shell name (and a tool made
directly, its maintainers); `suspended_at` is
the decision to suspend it (the worker makes it so in the directory). Each reminder
is recorded once per member, period (the last covered day) and stage (days before);
each suspension of a lapsed member keeps its restore. Nothing here is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from membership.records import AccountRecord, ReminderRecord, SuspensionRecord
from membership.store.connection import StoreConnection
from policies.times import iso


class RenewalRoom(StoreConnection):
    # -- accounts (0004, 0006) -----------------------------------------------------

    def record_account(self, shell_name: str, kind: str, owner: str, uid: int | None) -> None:
        self._changed(
            "INSERT INTO accounts (shell_name, kind, owner, uid, created_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (shell_name) DO UPDATE SET uid = excluded.uid",
            [shell_name, kind, owner, uid, iso()],
        )

    def account_of(self, owner: str, kind: str = "person") -> AccountRecord | None:
        row = self._first("accounts", "owner = ? AND kind = ?", [owner, kind])
        return AccountRecord(**row) if row else None

    def accounts(self, kind: str | None = None) -> list[AccountRecord]:
        rows = self._matching("accounts", order_by="shell_name", kind=kind)
        return [AccountRecord(**row) for row in rows]

    def set_account_suspended(self, shell_name: str, reason: str | None) -> None:
        """Record the decision to suspend (`reason`) or restore (None) an account."""
        self._changed(
            "UPDATE accounts SET suspended_at = ?, suspended_reason = ? WHERE shell_name = ?",
            [iso() if reason is not None else None, reason, shell_name],
        )

    # -- a tool's maintainers, set directly (0017) --------------------------------

    def set_tool_maintainers(self, tool: str, wiki_users: Sequence[str], by: str) -> None:
        """`wiki_users` become the tool's maintainers (replacing any set before)."""
        with self.transaction():
            self._changed("DELETE FROM tool_maintainers WHERE tool = ?", [tool])
            for wiki_user in sorted(set(wiki_users)):
                self._changed(
                    "INSERT INTO tool_maintainers (tool, wiki_user, set_by, set_at) "
                    "VALUES (?, ?, ?, ?)",
                    [tool, wiki_user, by, iso()],
                )

    def tool_maintainers_set(self, tool: str) -> tuple[str, ...] | None:
        """The tool's maintainers as set directly; None when none were."""
        rows = self._rows("tool_maintainers", "tool = ?", [tool], order_by="wiki_user")
        return tuple(row["wiki_user"] for row in rows) or None

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

    # -- suspensions (0007) --------------------------------------------------------

    def open_suspension(self, member: str) -> SuspensionRecord | None:
        row = self._first("suspensions", "member = ? AND restored_at IS NULL", [member])
        return SuspensionRecord(**row) if row else None

    def record_suspension(
        self,
        member: str,
        shell_name: str,
        reason: str,
        *,
        paid_until: str | None,
        job_id: int | None,
        now: datetime | None = None,
    ) -> SuspensionRecord:
        row_id = self._insert(
            "suspensions",
            {
                "member": member,
                "shell_name": shell_name,
                "reason": reason,
                "paid_until": paid_until,
                "suspended_at": iso(now),
                "suspend_job": job_id,
            },
        )
        row = self._first("suspensions", "id = ?", [row_id])
        assert row is not None
        return SuspensionRecord(**row)

    def record_restore(
        self, suspension_id: int, reason: str, *, job_id: int | None, now: datetime | None = None
    ) -> None:
        self._changed(
            "UPDATE suspensions SET restored_at = ?, restore_job = ?, restore_reason = ? "
            "WHERE id = ? AND restored_at IS NULL",
            [iso(now), job_id, reason, suspension_id],
        )

    def suspensions(self, member: str | None = None) -> list[SuspensionRecord]:
        return [SuspensionRecord(**row) for row in self._matching("suspensions", member=member)]
