"""The standing room: what the daily re-check last found about each member's locks and
blocks (membership/standing.py holds the rules and reads these rows as `MemberStanding`).

One row per member: `good` or `flagged`, the findings as JSON, since when flagged,
when last checked and last cleared.
"""

from __future__ import annotations

from typing import Any

from membership.store.connection import StoreConnection


class StandingRoom(StoreConnection):
    def standing_row(self, member: str) -> dict[str, Any] | None:
        return self._first("member_standing", "member = ?", [member])

    def standing_rows(self, state: str) -> list[dict[str, Any]]:
        """The members in `state`, longest in it first."""
        return self._rows("member_standing", "state = ?", [state], order_by="flagged_since, member")

    def write_standing(
        self,
        member: str,
        state: str,
        findings: str,
        *,
        flagged_since: str | None,
        last_checked: str,
        cleared_at: str | None,
    ) -> None:
        self._changed(
            "INSERT INTO member_standing "
            "(member, state, findings, flagged_since, last_checked, cleared_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (member) DO UPDATE SET "
            "state = excluded.state, findings = excluded.findings, "
            "flagged_since = excluded.flagged_since, last_checked = excluded.last_checked, "
            "cleared_at = excluded.cleared_at",
            [member, state, findings, flagged_since, last_checked, cleared_at],
        )
