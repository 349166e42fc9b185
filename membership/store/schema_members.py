"""Migrations of the members side: identities, terms, SSH keys, identification,
payments and waivers as first made, sessions and login attempts (0003), and the daily
re-check of members' standing (0012).

Each function is one named step of `schema.STEPS` and stays as it was first written.
"""

from __future__ import annotations

from sqlite_utils import Database


def gates(db: Database) -> None:
    # The bridge's facts. Identification keeps who attested, when and how, and has
    # no column for documents or ID numbers on purpose: the chapter never stores them.
    db.table("identities").create(
        {
            "username": str,
            "central_id": str,
            "oauth_version": int,
            "verified_at": str,
        },
        pk="username",
        not_null={"central_id", "verified_at"},
    )
    db.table("identities").create_index(["central_id"])
    db.table("terms_acceptances").create(
        {"id": int, "username": str, "version": str, "accepted_at": str}, pk="id"
    )
    db.table("terms_acceptances").create_index(["username", "version"], unique=True)
    db.table("ssh_keys").create(
        {
            "id": int,
            "username": str,
            "type": str,
            "bits": int,
            "key": str,  # type and base64 blob, no comment
            "fingerprint": str,
            "comment": str,
            "added_at": str,
            "removed_at": str,
        },
        pk="id",
        not_null={"username", "type", "key", "fingerprint", "added_at"},
    )
    db.table("identifications").create(
        {"id": int, "username": str, "attested_by": str, "attested_at": str, "method": str},
        pk="id",
        not_null={"username", "attested_by", "attested_at", "method"},
    )
    db.table("identifications").create_index(["username"])
    db.table("payments").create(
        {
            "id": int,
            "username": str,
            "amount": int,  # minor units (cents)
            "currency": str,
            "paid_on": str,
            "method": str,
            "reference": str,
            "recorded_by": str,
            "recorded_at": str,
        },
        pk="id",
        not_null={"username", "amount", "currency", "paid_on", "recorded_by", "recorded_at"},
    )
    db.table("payments").create_index(["username"])
    db.table("waivers").create(
        {
            "id": int,
            "username": str,
            "reason": str,  # private: shown to admins only, never logged or published
            "status": str,  # requested | granted | refused
            "requested_at": str,
            "decided_by": str,  # the admin who granted (first of two) or refused
            "decided_at": str,
            "confirmed_by": str,  # the second admin, when the policy asks for one
            "confirmed_at": str,
        },
        pk="id",
        not_null={"username", "status", "requested_at"},
    )
    db.table("waivers").create_index(["username", "status"])
    db.table("sessions").create(
        {"id": str, "data": str, "created_at": str, "expires_at": str},
        pk="id",
        not_null={"data", "expires_at"},
    )
    db.table("login_attempts").create({"id": int, "client": str, "at": str}, pk="id")
    db.table("login_attempts").create_index(["client", "at"])
    db.executescript(
        """
        CREATE UNIQUE INDEX ssh_keys_active ON ssh_keys (username, fingerprint)
        WHERE removed_at IS NULL;
        """
    )


def member_standing(db: Database) -> None:
    # The daily re-check of members (membership/standing.py): what the wiki last said
    # about each member's locks and blocks, as the facts it gave (JSON), since when they
    # are flagged, when they were last checked and last cleared. One row per member.
    db.table("member_standing").create(
        {
            "member": str,
            "state": str,  # good | flagged
            "findings": str,  # JSON list of {kind, wiki, expiry, reason, seen}
            "flagged_since": str,
            "last_checked": str,
            "cleared_at": str,
        },
        pk="member",
        not_null={"state", "findings", "last_checked"},
    )
