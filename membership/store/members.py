"""The members room: what the bridge learns about a person — who proved they own a wiki
account (OAuth identity), which terms they accepted, their SSH keys, and who attested
their identification.

Identification keeps who attested, when and how, never a document or an ID number.
A key is active until removed; the same key cannot be active twice for one member
(a partial unique index), which `add_ssh_key` reports as `DuplicateKeyError`. The
`with_*` methods answer for many people at once (a page listing requests asks once,
not once per row): which of them have that fact.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from membership.records import (
    DuplicateKeyError,
    IdentificationRecord,
    IdentityRecord,
    SSHKeyRecord,
)
from membership.store.connection import Query, StoreConnection, each
from policies.times import iso
from policies.words import Words


class MembersRoom(StoreConnection):
    # -- identity and terms --------------------------------------------------------

    def record_identity(self, username: str, central_id: str, oauth_version: int) -> IdentityRecord:
        """Remember that the owner of `username` proved it (now) through OAuth."""
        self.db.table("identities").upsert(
            {
                "username": username,
                "central_id": str(central_id),
                "oauth_version": int(oauth_version),
                "verified_at": iso(),
            },
            pk="username",
        )
        record = self.identity(username)
        assert record is not None
        return record

    def identity(self, username: str) -> IdentityRecord | None:
        return self.answer(self.identity_query(username))

    def identity_query(self, username: str) -> Query[IdentityRecord | None]:
        """`identity`, as a query to read with others (`read`)."""
        return self._later_first(
            "identities", "username = ?", [username], lambda row: IdentityRecord(**row)
        )

    def accept_terms(self, username: str, version: str) -> bool:
        """Record the acceptance; False when this version was already accepted."""
        if self.terms_accepted(username, version):
            return False
        self.db.table("terms_acceptances").insert(
            {"username": username, "version": version, "accepted_at": iso()}
        )
        return True

    def terms_accepted(self, username: str, version: str) -> str | None:
        """When `username` accepted this version of the terms, or None."""
        return self.answer(self.terms_accepted_query(username, version))

    def terms_accepted_query(self, username: str, version: str) -> Query[str | None]:
        """`terms_accepted`, as a query to read with others (`read`)."""
        where = "username = ? AND version = ?"
        return self._later_first(
            "terms_acceptances", where, [username, version], lambda row: row["accepted_at"]
        )

    # -- SSH keys ------------------------------------------------------------------

    def add_ssh_key(
        self,
        username: str,
        *,
        type: str,
        bits: int,
        key: str,
        fingerprint: str,
        comment: str = "",
    ) -> SSHKeyRecord:
        """Add an active key; DuplicateKeyError if the member already has it active."""
        row = {
            "username": username,
            "type": type,
            "bits": bits,
            "key": key,
            "fingerprint": fingerprint,
            "comment": comment,
            "added_at": iso(),
            "removed_at": None,
        }
        try:
            key_id = self._insert("ssh_keys", row)
        except sqlite3.IntegrityError:
            raise DuplicateKeyError(
                Words(
                    f"the key {fingerprint} is already on your account",
                    "ats-sshkey-duplicate",
                    fingerprint=fingerprint,
                )
            ) from None
        added = self._first("ssh_keys", "id = ?", [key_id])
        assert added is not None
        return SSHKeyRecord(**added)

    def remove_ssh_key(self, username: str, key_id: int) -> SSHKeyRecord | None:
        """Mark one of `username`'s active keys removed; None if there is no such key."""
        row = self._first(
            "ssh_keys", "id = ? AND username = ? AND removed_at IS NULL", [key_id, username]
        )
        if not row:
            return None
        self._update("ssh_keys", key_id, {"removed_at": iso()})
        return SSHKeyRecord(**row)

    def ssh_keys(self, username: str, *, active: bool = True) -> list[SSHKeyRecord]:
        return self.answer(self.ssh_keys_query(username, active=active))

    def ssh_keys_query(self, username: str, *, active: bool = True) -> Query[list[SSHKeyRecord]]:
        """`ssh_keys`, as a query to read with others (`read`)."""
        where = "username = ?" + (" AND removed_at IS NULL" if active else "")
        return self._later("ssh_keys", where, [username], each(lambda row: SSHKeyRecord(**row)))

    # -- identification ------------------------------------------------------------

    def attest_identification(
        self, username: str, *, attested_by: str, method: str
    ) -> IdentificationRecord:
        row_id = self._insert(
            "identifications",
            {
                "username": username,
                "attested_by": attested_by,
                "attested_at": iso(),
                "method": method,
            },
        )
        row = self._first("identifications", "id = ?", [row_id])
        assert row is not None
        return IdentificationRecord(**row)

    def identifications(self, username: str) -> list[IdentificationRecord]:
        return self.answer(self.identifications_query(username))

    def identifications_query(self, username: str) -> Query[list[IdentificationRecord]]:
        """`identifications`, as a query to read with others (`read`)."""
        return self._later_matching(
            "identifications", each(lambda row: IdentificationRecord(**row)), username=username
        )

    # -- many people at once -------------------------------------------------------

    def with_identity(self, usernames: Iterable[str]) -> set[str]:
        """Those of `usernames` who proved their wiki account (`identity`)."""
        return self._present("identities", "username", usernames)

    def with_terms(self, usernames: Iterable[str], version: str) -> set[str]:
        """Those of `usernames` who accepted this version of the terms."""
        return self._present("terms_acceptances", "username", usernames, "version = ?", [version])

    def with_active_key(self, usernames: Iterable[str]) -> set[str]:
        """Those of `usernames` who have an active SSH key."""
        return self._present("ssh_keys", "username", usernames, "removed_at IS NULL")

    def with_identification(self, usernames: Iterable[str]) -> set[str]:
        """Those of `usernames` whose identification an admin attested."""
        return self._present("identifications", "username", usernames)
