"""The leases room: one clerk at a time per request page (membership/lease.py holds the rules).

A lease is one row of `clerk_leases`, never deleted, only released: who holds it (a
random token, its host and pid), since when and until when, and when the bot last
saved the page, so the pace between saves survives restarts. Checking and taking a
lease happen in one of the caller's transactions.
"""

from __future__ import annotations

from membership.records import LeaseRecord
from membership.store.connection import StoreConnection


class LeasesRoom(StoreConnection):
    def clerk_lease(self, name: str) -> LeaseRecord | None:
        row = self._first("clerk_leases", "name = ?", [name])
        return LeaseRecord(**row) if row else None

    def hold_clerk_lease(
        self,
        name: str,
        holder: tuple[str, str, int],
        expires_at: str,
        *,
        acquired_at: str | None = None,
    ) -> None:
        """Make `holder` (token, host, pid) the lease's holder until `expires_at`; since
        `acquired_at` when given (a renewal keeps the first)."""
        token, host, pid = holder
        row = {"name": name, "holder": token, "host": host, "pid": pid}
        if acquired_at is not None:
            row["acquired_at"] = acquired_at
        self.db.table("clerk_leases").upsert({**row, "expires_at": expires_at}, pk="name")

    def release_clerk_lease(self, name: str, token: str, at: str) -> None:
        """Give the lease up if `token` still holds it."""
        self._changed(
            "UPDATE clerk_leases SET holder = NULL, expires_at = ? WHERE name = ? AND holder = ?",
            [at, name, token],
        )

    def record_clerk_save(self, name: str, at: str) -> None:
        self.db.table("clerk_leases").upsert({"name": name, "last_saved_at": at}, pk="name")
