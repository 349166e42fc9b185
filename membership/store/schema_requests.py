"""Migrations of the requests side: pages, requests, replies, the audit log, decisions,
cursors, the user cache, page provenance, the clerk's lease, section readings and the
key a member's requests are found by.

Each function is one named step of `schema.STEPS` and stays as it was first written:
a store built by an older version replays exactly what it missed.
"""

from __future__ import annotations

from sqlite_utils import Database

from policies.usernames import canonical_username


def requests_replies_audit(db: Database) -> None:
    db.table("pages").create(
        {"page": str, "last_revid": int, "last_timestamp": str, "updated_at": str}, pk="page"
    )
    db.table("requests").create(
        {
            "id": int,
            "page": str,
            "key": str,
            "heading": str,
            "requester": str,  # who added the section, from the page history
            "subject": str,  # the wiki account the request is for
            "on_behalf": int,
            "type": str,
            "fields": str,  # JSON of the template's fields
            "content_hash": str,
            "intro_revid": int,
            "intro_timestamp": str,
            "state": str,
            "detail": str,  # JSON: what the last evaluation found
            "lang": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"page", "key", "state", "created_at", "updated_at"},
    )
    db.table("requests").create_index(["page", "key"], unique=True)
    db.table("requests").create_index(["state"])
    db.table("replies").create(
        {
            "id": int,
            "request_id": int,
            "state": str,
            "text": str,  # the reply line without the signature
            "status": str,  # pending | posted | superseded
            "created_at": str,
            "posted_revid": int,
            "posted_at": str,
        },
        pk="id",
        foreign_keys=[("request_id", "requests", "id")],
    )
    db.table("replies").create_index(["request_id", "status"])
    db.table("audit").create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "request_id": int,
            "action": str,
            "evidence": str,  # JSON
        },
        pk="id",
    )
    db.table("audit").create_index(["request_id"])
    db.executescript(
        """
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """
    )
    db.table("users").create({"name": str, "record": str, "fetched_at": str}, pk="name")


def decisions_cursors_lifecycle(db: Database) -> None:
    db.table("decisions").create(
        {
            "id": int,
            "request_id": int,
            "kind": str,  # approve | decline | hold | withdraw | recheck
            "params": str,  # JSON
            "wikitext": str,  # the template as written
            "ordinal": int,  # n-th identical template in the section
            "revid": int,  # the revision that introduced it
            "actor": str,  # who saved that revision
            "honoured": int,
            "reason": str,  # why it was honoured or ignored
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("request_id", "requests", "id")],
    )
    db.table("decisions").create_index(["request_id", "wikitext", "ordinal"], unique=True)
    db.table("cursors").create({"name": str, "value": str, "updated_at": str}, pk="name")
    for column in (
        "progress_at",
        "approved_by",
        "override",
        "closed_at",
        "archived_at",
        "archive_page",
        "gates",
        "fields_hash",
    ):
        db.table("requests").add_column(column, str)
    db.table("requests").add_column("approval_revid", int)


def page_provenance(db: Database) -> None:
    # Who wrote what on a request page (bot/rules/provenance.py): the walk's state, read once
    # and then advanced from `cursor` (the last revision taken in); and each status line
    # found not written by the bot, answered once on the page.
    db.table("page_provenance").create(
        {"page": str, "cursor": int, "state": str, "updated_at": str},
        pk="page",
        not_null={"cursor", "state"},
    )
    db.table("forged_lines").create(
        {
            "page": str,
            "identity": str,
            "token": str,
            "request_id": int,
            "author": str,
            "revid": int,
            "line": str,
            "at": str,
        },
        pk=("page", "identity", "token"),
    )


def clerk_lease(db: Database) -> None:
    # One clerk at a time per request page (membership/lease.py): who holds it (a
    # random token, the host and pid), until when, and when the bot last saved, so the
    # pace between saves survives restarts. A row is never deleted, only released.
    db.table("clerk_leases").create(
        {
            "name": str,
            "holder": str,
            "host": str,
            "pid": int,
            "acquired_at": str,
            "expires_at": str,
            "last_saved_at": str,
        },
        pk="name",
    )


def section_readings(db: Database) -> None:
    # What each request section's own text says (bot/rules/page.py `new_readings`), by the
    # digest of that text: a cycle in a new process parses only the sections that
    # changed. A cache: any row may go, and is read again from the page.
    db.table("section_readings").create(
        {"page": str, "digest": str, "reading": str, "created_at": str},
        pk=("page", "digest"),
    )
    db.table("section_readings").create_index(["page", "created_at"])


def request_subject_key(db: Database) -> None:
    # The account a request is for as MediaWiki writes the name
    # (`policies.usernames.canonical_username` of `subject`), kept beside `subject` by
    # the requests room, so a member's requests are found by an index rather than by
    # reading every request. Python computes it (SQLite has no such function): filled
    # here for the rows already there.
    db.table("requests").add_column("subject_key", str)
    rows = db.execute("SELECT id, subject FROM requests").fetchall()
    db.conn.executemany(
        "UPDATE requests SET subject_key = ? WHERE id = ?",
        [(canonical_username(subject or ""), row_id) for row_id, subject in rows],
    )
    db.table("requests").create_index(["subject_key"])
