"""The retention room: what `ats purge` forgets (policies/privacy.md, membership/retention.py).

Each method forgets one kind of personal data older than a cutoff and says how many
rows it changed: waiver reasons, identification methods, expired sessions, old login
attempts, cached user facts, a closed request's evaluation, and everything the bridge
holds about someone who never became a member. Payments and the ledger are
bookkeeping and stay.
"""

from __future__ import annotations

from datetime import datetime

from membership.store.connection import StoreConnection
from policies.times import iso

# What the bridge holds about a person, by username (see `forget_person`).
_PERSONAL = ("identities", "terms_acceptances", "ssh_keys", "identifications")


class RetentionRoom(StoreConnection):
    def forget_waiver_reasons(self, decided_before: datetime) -> int:
        """Blank the reasons of waivers decided (or confirmed) before the cutoff."""
        return self._changed(
            "UPDATE waivers SET reason = '' WHERE reason != '' AND status != 'requested' "
            "AND max(coalesce(decided_at, ''), coalesce(confirmed_at, '')) < ?",
            [iso(decided_before)],
        )

    def forget_identification_methods(self, attested_before: datetime) -> int:
        """Keep only "attested" as the method of attestations older than the cutoff."""
        return self._changed(
            "UPDATE identifications SET method = 'attested' "
            "WHERE method != 'attested' AND attested_at < ?",
            [iso(attested_before)],
        )

    def forget_sessions(self, expired_before: datetime) -> int:
        return self._changed("DELETE FROM sessions WHERE expires_at <= ?", [iso(expired_before)])

    def forget_login_attempts(self, before: datetime) -> int:
        return self._changed("DELETE FROM login_attempts WHERE at < ?", [iso(before)])

    def forget_cached_users(self, fetched_before: datetime) -> int:
        return self._changed("DELETE FROM users WHERE fetched_at < ?", [iso(fetched_before)])

    def forget_person(self, username: str) -> dict[str, int]:
        """Delete what the bridge holds about someone who is not a member: their login,
        terms acceptances, SSH keys, identification attestations and waiver reasons.

        Payments and the ledger are bookkeeping and stay.
        """
        counts = {}
        with self.transaction():
            for table in _PERSONAL:
                counts[table] = self.db.table(table).count_where("username = ?", [username])
                self.db.table(table).delete_where("username = ?", [username])
            counts["waiver_reasons"] = self._changed(
                "UPDATE waivers SET reason = '' WHERE username = ? AND reason != ''", [username]
            )
        return counts

    def clear_request_detail(self, request_id: int) -> None:
        """Forget what the last evaluation found (edit counts, blocks) for a closed request."""
        self._changed("UPDATE requests SET detail = '{}', fields = '{}' WHERE id = ?", [request_id])
