"""The store: the SQLite database that is the source of truth for every request.

The bot, the bridge and the provisioning worker open it from separate processes, so
it runs in WAL mode with a busy timeout, and every write goes through `transaction()`
(`BEGIN IMMEDIATE`, so two writers queue instead of failing). The schema is built by
named migrations (sqlite-utils' `Migrations`); the audit log is append-only, enforced
by triggers. Replies pass through an outbox: recorded as pending before the page is
saved, marked posted with the revision id after, so a crash in between neither loses
nor duplicates one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("ats")


@migrations(name="0001_requests_replies_audit")
def _initial(db: Database) -> None:
    db["pages"].create(
        {"page": str, "last_revid": int, "last_timestamp": str, "updated_at": str}, pk="page"
    )
    db["requests"].create(
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
    db["requests"].create_index(["page", "key"], unique=True)
    db["requests"].create_index(["state"])
    db["replies"].create(
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
    db["replies"].create_index(["request_id", "status"])
    db["audit"].create(
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
    db["audit"].create_index(["request_id"])
    db.executescript(
        """
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """
    )
    db["users"].create({"name": str, "record": str, "fetched_at": str}, pk="name")


@migrations(name="0002_decisions_cursors_lifecycle")
def _decisions(db: Database) -> None:
    db["decisions"].create(
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
    db["decisions"].create_index(["request_id", "wikitext", "ordinal"], unique=True)
    db["cursors"].create({"name": str, "value": str, "updated_at": str}, pk="name")
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
        db["requests"].add_column(column, str)
    db["requests"].add_column("approval_revid", int)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RequestRecord:
    id: int
    page: str
    key: str
    heading: str
    requester: str
    subject: str
    on_behalf: bool
    type: str
    fields: Mapping[str, str]
    content_hash: str
    intro_revid: int | None
    intro_timestamp: str | None
    state: str
    detail: Mapping[str, Any]
    lang: str
    created_at: str
    updated_at: str
    progress_at: str | None = None
    approved_by: str | None = None
    override: str | None = None
    closed_at: str | None = None
    archived_at: str | None = None
    archive_page: str | None = None
    gates: str | None = None
    fields_hash: str | None = None
    approval_revid: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RequestRecord:
        values = dict(row)
        values["fields"] = json.loads(values["fields"] or "{}")
        values["detail"] = json.loads(values["detail"] or "{}")
        values["on_behalf"] = bool(values["on_behalf"])
        values["lang"] = values["lang"] or "en"
        return cls(**values)


@dataclass(frozen=True)
class DecisionRecord:
    id: int
    request_id: int
    kind: str
    params: Mapping[str, str]
    wikitext: str
    ordinal: int
    revid: int | None
    actor: str
    honoured: bool
    reason: str
    created_at: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DecisionRecord:
        values = dict(row)
        values["params"] = json.loads(values["params"] or "{}")
        values["honoured"] = bool(values["honoured"])
        return cls(**values)


@dataclass(frozen=True)
class ReplyRecord:
    id: int
    request_id: int
    state: str
    text: str
    status: str
    created_at: str
    posted_revid: int | None
    posted_at: str | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    request_id: int | None
    action: str
    evidence: Mapping[str, Any]


class Store:
    """One connection to the shared database; cheap to open, safe across processes."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: a statement outside transaction() commits at once.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        self.db = Database(conn)
        with self.transaction():
            migrations.apply(self.db)

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """A write transaction; nested calls join the outer one."""
        conn = self.db.conn
        if conn.in_transaction:
            yield self
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- pages -------------------------------------------------------------

    def page_revision(self, page: str) -> int | None:
        row = self._one("SELECT last_revid FROM pages WHERE page = ?", [page])
        return row["last_revid"] if row else None

    def set_page_revision(self, page: str, revid: int, timestamp: str) -> None:
        self.db["pages"].upsert(
            {
                "page": page,
                "last_revid": revid,
                "last_timestamp": timestamp,
                "updated_at": now_iso(),
            },
            pk="page",
        )

    # -- requests ----------------------------------------------------------

    def request(self, page: str, key: str) -> RequestRecord | None:
        row = self._one("SELECT * FROM requests WHERE page = ? AND key = ?", [page, key])
        return RequestRecord.from_row(row) if row else None

    def request_by_id(self, request_id: int) -> RequestRecord | None:
        row = self._one("SELECT * FROM requests WHERE id = ?", [request_id])
        return RequestRecord.from_row(row) if row else None

    def requests(self, page: str | None = None, state: str | None = None) -> list[RequestRecord]:
        where, args = [], []
        if page is not None:
            where.append("page = ?")
            args.append(page)
        if state is not None:
            where.append("state = ?")
            args.append(state)
        sql = "SELECT * FROM requests"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.db.execute(sql + " ORDER BY id", args)
        return [RequestRecord.from_row(_as_dict(rows, r)) for r in rows.fetchall()]

    def add_request(
        self,
        *,
        page: str,
        key: str,
        heading: str,
        requester: str,
        subject: str,
        type: str,
        fields: Mapping[str, str],
        content_hash: str,
        intro_revid: int | None,
        intro_timestamp: str | None,
        state: str,
        detail: Mapping[str, Any],
        lang: str = "en",
    ) -> RequestRecord:
        stamp = now_iso()
        with self.transaction():
            self.db["requests"].insert(
                {
                    "page": page,
                    "key": key,
                    "heading": heading,
                    "requester": requester,
                    "subject": subject,
                    "on_behalf": int(subject != requester),
                    "type": type,
                    "fields": json.dumps(dict(fields), ensure_ascii=False),
                    "content_hash": content_hash,
                    "intro_revid": intro_revid,
                    "intro_timestamp": intro_timestamp,
                    "state": state,
                    "detail": json.dumps(detail, ensure_ascii=False, default=str),
                    "lang": lang,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        record = self.request(page, key)
        assert record is not None
        return record

    def update_request(self, request_id: int, **changes: Any) -> RequestRecord:
        """Change columns of one request; `fields` and `detail` may be given as mappings."""
        for name in ("fields", "detail"):
            if name in changes and not isinstance(changes[name], str):
                changes[name] = json.dumps(dict(changes[name]), ensure_ascii=False, default=str)
        if "subject" in changes and "requester" not in changes:
            current = self.request_by_id(request_id)
            assert current is not None
            changes["on_behalf"] = int(changes["subject"] != current.requester)
        changes["updated_at"] = now_iso()
        self.db["requests"].update(request_id, changes)
        record = self.request_by_id(request_id)
        assert record is not None
        return record

    # -- replies (the outbox) ---------------------------------------------

    def queue_reply(self, request_id: int, state: str, text: str) -> ReplyRecord:
        """Queue a reply to be posted; every queued reply is posted once, in order."""
        reply_id = (
            self.db["replies"]
            .insert(
                {
                    "request_id": request_id,
                    "state": state,
                    "text": text,
                    "status": "pending",
                    "created_at": now_iso(),
                }
            )
            .last_pk
        )
        return self._reply(reply_id)

    def pending_replies(self, page: str) -> list[ReplyRecord]:
        rows = self.db.execute(
            "SELECT replies.* FROM replies JOIN requests ON requests.id = replies.request_id "
            "WHERE requests.page = ? AND replies.status = 'pending' ORDER BY replies.id",
            [page],
        )
        return [ReplyRecord(**_as_dict(rows, r)) for r in rows.fetchall()]

    def mark_posted(self, reply_ids: list[int], revid: int) -> None:
        with self.transaction():
            for reply_id in reply_ids:
                self.db["replies"].update(
                    reply_id, {"status": "posted", "posted_revid": revid, "posted_at": now_iso()}
                )

    def replies(self, request_id: int) -> list[ReplyRecord]:
        rows = self.db.execute(
            "SELECT * FROM replies WHERE request_id = ? ORDER BY id", [request_id]
        )
        return [ReplyRecord(**_as_dict(rows, r)) for r in rows.fetchall()]

    def last_reply(self, request_id: int) -> ReplyRecord | None:
        """The newest reply that is posted or about to be."""
        row = self._one(
            "SELECT * FROM replies WHERE request_id = ? AND status != 'superseded' "
            "ORDER BY id DESC LIMIT 1",
            [request_id],
        )
        return ReplyRecord(**row) if row else None

    def _reply(self, reply_id: int) -> ReplyRecord:
        row = self._one("SELECT * FROM replies WHERE id = ?", [reply_id])
        assert row is not None
        return ReplyRecord(**row)

    # -- audit log ---------------------------------------------------------

    def audit(
        self, actor: str, action: str, request_id: int | None = None, **evidence: Any
    ) -> None:
        self.db["audit"].insert(
            {
                "at": now_iso(),
                "actor": actor,
                "request_id": request_id,
                "action": action,
                "evidence": json.dumps(evidence, ensure_ascii=False, default=str, sort_keys=True),
            }
        )

    def audit_log(self, request_id: int | None = None) -> list[AuditEntry]:
        if request_id is None:
            rows = self.db.execute("SELECT * FROM audit ORDER BY id")
        else:
            rows = self.db.execute(
                "SELECT * FROM audit WHERE request_id = ? ORDER BY id", [request_id]
            )
        entries = []
        for raw in rows.fetchall():
            row = _as_dict(rows, raw)
            row["evidence"] = json.loads(row["evidence"])
            entries.append(AuditEntry(**row))
        return entries

    # -- decisions ---------------------------------------------------------

    def decision(self, request_id: int, wikitext: str, ordinal: int) -> DecisionRecord | None:
        row = self._one(
            "SELECT * FROM decisions WHERE request_id = ? AND wikitext = ? AND ordinal = ?",
            [request_id, wikitext, ordinal],
        )
        return DecisionRecord.from_row(row) if row else None

    def add_decision(
        self,
        request_id: int,
        *,
        kind: str,
        params: Mapping[str, str],
        wikitext: str,
        ordinal: int,
        revid: int | None,
        actor: str,
        honoured: bool,
        reason: str,
    ) -> DecisionRecord:
        with self.transaction():
            self.db["decisions"].insert(
                {
                    "request_id": request_id,
                    "kind": kind,
                    "params": json.dumps(dict(params), ensure_ascii=False),
                    "wikitext": wikitext,
                    "ordinal": ordinal,
                    "revid": revid,
                    "actor": actor,
                    "honoured": int(honoured),
                    "reason": reason,
                    "created_at": now_iso(),
                }
            )
        record = self.decision(request_id, wikitext, ordinal)
        assert record is not None
        return record

    def decisions(self, request_id: int) -> list[DecisionRecord]:
        rows = self.db.execute(
            "SELECT * FROM decisions WHERE request_id = ? ORDER BY id", [request_id]
        )
        return [DecisionRecord.from_row(_as_dict(rows, r)) for r in rows.fetchall()]

    # -- cursors (where a follower stopped reading) ---------------------------

    def cursor(self, name: str) -> str | None:
        row = self._one("SELECT value FROM cursors WHERE name = ?", [name])
        return row["value"] if row else None

    def set_cursor(self, name: str, value: str) -> None:
        self.db["cursors"].upsert(
            {"name": name, "value": value, "updated_at": now_iso()}, pk="name"
        )

    # -- user look-up cache ------------------------------------------------

    def cached_user(self, name: str, max_age: timedelta) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM users WHERE name = ?", [name])
        if not row:
            return None
        fetched = datetime.fromisoformat(row["fetched_at"])
        if datetime.now(UTC) - fetched > max_age:
            return None
        return json.loads(row["record"])

    def cache_user(self, name: str, record: Mapping[str, Any]) -> None:
        self.db["users"].upsert(
            {
                "name": name,
                "record": json.dumps(record, ensure_ascii=False, default=str),
                "fetched_at": now_iso(),
            },
            pk="name",
        )

    # -- helpers -----------------------------------------------------------

    def _one(self, sql: str, args: list[Any]) -> dict[str, Any] | None:
        cursor = self.db.execute(sql, args)
        row = cursor.fetchone()
        return _as_dict(cursor, row) if row else None


def _as_dict(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}
