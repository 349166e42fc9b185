"""The waivers room: members' requests to have the fee waived, the admins' decisions on
them, and the queue of granted waivers waiting for the fund to pay them.

A member has at most one open request (`requested`, which includes a grant waiting
for a second admin or for the fund: a partial unique index), which `request_waiver`
reports as `OpenWaiverError`. A waiver's reason is private: shown to admins only,
never logged or published, and blanked by retention once decided.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from membership.records import OpenWaiverError, QueuedWaiver, WaiverRecord
from membership.store.connection import Query, StoreConnection, each
from policies.times import iso


class WaiversRoom(StoreConnection):
    def request_waiver(self, username: str, reason: str) -> WaiverRecord:
        """A new open request; `OpenWaiverError` if the member already has one open."""
        try:
            with self.transaction():
                row_id = self._insert(
                    "waivers",
                    {
                        "username": username,
                        "reason": reason,
                        "status": "requested",
                        "requested_at": iso(),
                    },
                )
        except sqlite3.IntegrityError:
            existing = self.waivers(username, status="requested")
            if not existing:
                raise
            raise OpenWaiverError(existing[0]) from None
        record = self.waiver(row_id)
        assert record is not None
        return record

    def waiver(self, waiver_id: int) -> WaiverRecord | None:
        row = self._first("waivers", "id = ?", [waiver_id])
        return WaiverRecord(**row) if row else None

    def waivers(self, username: str | None = None, status: str | None = None) -> list[WaiverRecord]:
        return self.answer(self.waivers_query(username, status))

    def waivers_query(
        self, username: str | None = None, status: str | None = None
    ) -> Query[list[WaiverRecord]]:
        """`waivers`, as a query to read with others (`read`)."""
        return self._later_matching(
            "waivers", each(lambda row: WaiverRecord(**row)), username=username, status=status
        )

    def with_granted_waiver(self, usernames: Iterable[str]) -> set[str]:
        """Those of `usernames` with a granted waiver (any year: as `waivers`)."""
        return self._present("waivers", "username", usernames, "status = 'granted'")

    def decide_waiver(self, waiver_id: int, admin: str, *, status: str) -> WaiverRecord:
        """The first admin's decision: `granted`, `refused`, or `requested` (granted,
        waiting for a second admin's confirmation)."""
        assert status in ("requested", "granted", "refused")
        self._update(
            "waivers", waiver_id, {"status": status, "decided_by": admin, "decided_at": iso()}
        )
        record = self.waiver(waiver_id)
        assert record is not None
        return record

    def confirm_waiver(self, waiver_id: int, admin: str) -> WaiverRecord:
        """The second admin's confirmation of a grant."""
        self._update(
            "waivers",
            waiver_id,
            {"status": "granted", "confirmed_by": admin, "confirmed_at": iso()},
        )
        record = self.waiver(waiver_id)
        assert record is not None
        return record

    def withdraw_waiver(self, waiver_id: int, actor: str) -> bool:
        """Close an open request (the year was settled otherwise) and take it out of the
        fund's queue; False if it was no longer open."""
        with self.transaction():
            withdrawn = self._changed(
                "UPDATE waivers SET status = 'withdrawn', decided_by = ?, decided_at = ? "
                "WHERE id = ? AND status = 'requested'",
                [actor, iso(), waiver_id],
            )
            self._changed(
                "UPDATE waiver_queue SET released_at = ? "
                "WHERE waiver_id = ? AND released_at IS NULL",
                [iso(), waiver_id],
            )
        return withdrawn == 1

    # -- the waiver queue (0005) ---------------------------------------------------

    def queue_waiver(
        self, waiver_id: int, *, amount: int, currency: str, operation: str, queued_by: str
    ) -> bool:
        """Put a granted waiver in line for the fund; False if it is already there."""
        queued = self._changed(
            "INSERT OR IGNORE INTO waiver_queue (waiver_id, amount, currency, operation, "
            "queued_by, queued_at) VALUES (?, ?, ?, ?, ?, ?)",
            [waiver_id, int(amount), currency, operation, queued_by, iso()],
        )
        return queued == 1

    def queued_waivers(self) -> list[QueuedWaiver]:
        """Waivers waiting for the fund, first queued first."""
        return self.answer(self.queued_waivers_query())

    def queued_waivers_query(self) -> Query[list[QueuedWaiver]]:
        """`queued_waivers`, as a query to read with others (`read`)."""
        return self._later(
            "waiver_queue",
            "released_at IS NULL",
            [],
            each(lambda row: QueuedWaiver(**row)),
            order_by="queued_at, waiver_id",
        )

    def release_queued_waiver(self, waiver_id: int) -> None:
        self._changed(
            "UPDATE waiver_queue SET released_at = ? WHERE waiver_id = ?", [iso(), waiver_id]
        )
