"""The sessions room: the bridge's server-side sessions and its count of login attempts.

A session's data lives here, not in the browser's cookie, and is gone once expired.
Login attempts are counted per client (an opaque key, e.g. a keyed hash of the IP)
to limit them; attempts older than a day are forgotten as new ones come.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from membership.store.connection import StoreConnection
from policies.times import iso


class SessionsRoom(StoreConnection):
    def live_session(self, session_id: str) -> tuple[dict[str, Any], datetime] | None:
        """The data of a live session and when it expires, or None when it is unknown
        or expired (an expired one is deleted)."""
        row = self._first("sessions", "id = ?", [session_id])
        if not row:
            return None
        expires_at = datetime.fromisoformat(row["expires_at"])
        if expires_at <= datetime.now(UTC):
            self.delete_session(session_id)
            return None
        data: dict[str, Any] = json.loads(row["data"])
        return data, expires_at

    def save_session(self, session_id: str, data: Mapping[str, Any], expires_at: datetime) -> None:
        self._changed(
            "INSERT INTO sessions (id, data, created_at, expires_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
            "created_at = excluded.created_at, expires_at = excluded.expires_at",
            [
                session_id,
                json.dumps(dict(data), ensure_ascii=False, default=str),
                iso(),
                iso(expires_at),
            ],
        )

    def extend_session(self, session_id: str, expires_at: datetime) -> None:
        """Move a session's expiry, its data unchanged."""
        self._changed(
            "UPDATE sessions SET expires_at = ? WHERE id = ?", [iso(expires_at), session_id]
        )

    def delete_session(self, session_id: str) -> None:
        self._changed("DELETE FROM sessions WHERE id = ?", [session_id])

    def purge_expired_sessions(self) -> int:
        return self._changed("DELETE FROM sessions WHERE expires_at <= ?", [iso()])

    def count_login_attempts(self, client: str, since: datetime) -> int:
        """Attempts by `client` (an opaque key, e.g. a keyed hash of the IP) since then."""
        return self.db.table("login_attempts").count_where(
            "client = ? AND at > ?", [client, iso(since)]
        )

    def record_login_attempt(self, client: str, *, keep: timedelta = timedelta(days=1)) -> None:
        """Count one attempt, and forget attempts older than `keep`."""
        with self.transaction():
            self._changed(
                "DELETE FROM login_attempts WHERE at < ?", [iso(datetime.now(UTC) - keep)]
            )
            self._insert("login_attempts", {"client": client, "at": iso()})

    def withdraw_login_attempt(self, client: str) -> None:
        """Uncount `client`'s latest attempt: it finished as a sign-in (bridge rate limit)."""
        self._changed(
            "DELETE FROM login_attempts WHERE id = "
            "(SELECT max(id) FROM login_attempts WHERE client = ?)",
            [client],
        )
