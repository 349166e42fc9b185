"""The suspensions room: each suspension of a lapsed member, and its restore.

A suspension is recorded with the member's shell name, why, the last day their fee
covered and the job that suspends the account; a member who renews gets the
suspension's restore (and its job) written on the same row. Nothing here is deleted.
"""

from __future__ import annotations

from datetime import datetime

from membership.records import SuspensionRecord
from membership.store.connection import Query, StoreConnection
from policies.times import iso


class SuspensionsRoom(StoreConnection):
    # -- suspensions (0007) --------------------------------------------------------

    def open_suspension(self, member: str) -> SuspensionRecord | None:
        return self.answer(self.open_suspension_query(member))

    def open_suspension_query(self, member: str) -> Query[SuspensionRecord | None]:
        """`open_suspension`, as a query to read with others (`read`)."""
        where = "member = ? AND restored_at IS NULL"
        return self._later_first(
            "suspensions", where, [member], lambda row: SuspensionRecord(**row)
        )

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
