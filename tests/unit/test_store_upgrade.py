"""A store written by any earlier version upgrades: built at each older migration, given
rows in every table it has, and opened by this version, it keeps every row and ends
with exactly the schema of a store made today."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from membership.store import Store, schema

AT = "2025-01-01T00:00:00+00:00"
PAGE = "Toolserver/Requests"

# One row per table, as the newest schema has it; a store at an older migration is
# given the columns it has. Tables come in the order a foreign key needs.
ROWS: dict[str, dict[str, Any]] = {
    "pages": {"page": PAGE, "last_revid": 41, "last_timestamp": "2025-01-01T00:00:00Z"}
    | {"updated_at": AT},
    "requests": {
        "id": 1,
        "page": PAGE,
        "key": "100.1",
        "heading": "Account request: Alice",
        "requester": "Alice",
        "subject": "Alice",
        "on_behalf": 0,
        "type": "account",
        "fields": '{"type": "account"}',
        "content_hash": "h1",
        "intro_revid": 100,
        "intro_timestamp": "2025-01-01T00:00:00Z",
        "state": "approved",
        "detail": '{"edits": 2431}',
        "lang": "de",
        "created_at": AT,
        "updated_at": AT,
        "approved_by": "Admin",
        "approval_revid": 101,
        "gates": "identity",
    },
    "replies": {"id": 1, "request_id": 1, "state": "approved", "text": "Approved."}
    | {"status": "posted", "created_at": AT, "posted_revid": 102, "posted_at": AT},
    "audit": {"id": 1, "at": AT, "actor": "ClerkBot", "request_id": 1}
    | {"action": "evaluated:approved", "evidence": '{"revid": 100}'},
    "users": {"name": "Alice", "record": '{"editcount": 2431}', "fetched_at": AT},
    "decisions": {"id": 1, "request_id": 1, "kind": "approve", "params": "{}"}
    | {"wikitext": "{{ATS approve}}", "ordinal": 1, "revid": 101, "actor": "Admin"}
    | {"honoured": 1, "reason": "admin", "created_at": AT},
    "cursors": {"name": "watch:recentchanges", "value": "2025-01-01T00:00:00Z|7"}
    | {"updated_at": AT},
    "identities": {"username": "Alice", "central_id": "7", "oauth_version": 2}
    | {"verified_at": AT},
    "terms_acceptances": {"id": 1, "username": "Alice", "version": "1", "accepted_at": AT},
    "ssh_keys": {"id": 1, "username": "Alice", "type": "ssh-ed25519", "bits": 256}
    | {"key": "ssh-ed25519 AAAAC3Nza", "fingerprint": "SHA256:abc", "comment": "laptop"}
    | {"added_at": AT, "removed_at": None},
    "identifications": {"id": 1, "username": "Alice", "attested_by": "Admin"}
    | {"attested_at": AT, "method": "video call"},
    "payments": {"id": 1, "username": "Alice", "amount": 2000, "currency": "USD"}
    | {"paid_on": "2025-01-01", "method": "Card", "reference": " TX-1", "recorded_by": "Admin"}
    | {"recorded_at": AT, "method_key": "card", "reference_key": "tx-1"},
    "waivers": {"id": 1, "username": "Bob", "reason": "student", "status": "requested"}
    | {"requested_at": AT, "decided_by": "Admin", "decided_at": AT},
    "sessions": {"id": "s1", "data": '{"identity": {}}', "created_at": AT}
    | {"expires_at": "2099-01-01T00:00:00+00:00"},
    "login_attempts": {"id": 1, "client": "c1", "at": AT},
    "jobs": {"id": 1, "request_id": 1, "kind": "person", "payload": '{"shell_name": "alice"}'}
    | {"state": "done", "attempts": 1, "next_attempt_at": AT, "created_at": AT}
    | {"updated_at": AT},
    "accounts": {"shell_name": "alice", "kind": "person", "owner": "Alice", "uid": 5001}
    | {"created_at": AT},
    "ledger": {"id": 50, "kind": "expense", "amount": 500, "currency": "USD"}
    | {"on_date": "2025-01-02", "member": "", "method": "", "reference": "INV-1"}
    | {"note": "hosting", "recorded_by": "Admin", "recorded_at": AT},
    "waiver_queue": {"waiver_id": 1, "amount": 2000, "currency": "USD", "operation": "decide"}
    | {"queued_by": "Admin", "queued_at": AT},
    "reminders": {"id": 1, "member": "Alice", "period": "2025-12-31", "stage": 30}
    | {"outcome": "posted", "revid": 103, "note": "", "at": AT},
    "suspensions": {"id": 1, "member": "Carol", "shell_name": "carol", "reason": "lapsed"}
    | {"paid_until": "2024-12-31", "suspended_at": AT, "suspend_job": 1},
    "page_provenance": {"page": PAGE, "cursor": 102, "state": '{"v": 1}', "updated_at": AT},
    "forged_lines": {"page": PAGE, "identity": "100.1", "token": "t", "request_id": 1}
    | {"author": "Mallory", "revid": 104, "line": "{{ATS status|approved}}", "at": AT},
    "clerk_leases": {"name": f"clerk:{PAGE}", "holder": None, "host": "h", "pid": 1}
    | {"acquired_at": AT, "expires_at": AT, "last_saved_at": AT},
    "section_readings": {"page": PAGE, "digest": "d1", "reading": "{}", "created_at": AT},
    "member_standing": {"member": "Alice", "state": "good", "findings": "[]"}
    | {"last_checked": AT},
    "fund_actions": {"id": 1, "form_id": "f1", "kind": "transfer", "amount": 1000}
    | {"currency": "USD", "on_date": "2025-01-03", "note": "", "member": ""}
    | {"proposed_by": "Admin", "proposed_at": AT, "status": "proposed"},
    "tool_job_mails": {"id": 1, "tool": "bot", "job": "feed", "run_key": "1.1", "event": "ended"}
    | {"recipients": '["alice@ts.example"]', "subject": "s", "body": "b", "state": "sent"}
    | {"attempts": 1, "next_attempt_at": AT, "created_at": AT, "sent_at": AT},
}

OLDER = schema.MIGRATIONS[1:]  # stopping before each of these leaves an older store


def build(path: Path, stop_before: str) -> dict[str, dict[str, Any]]:
    """A store at the migration before `stop_before`, with a row in each of its tables;
    the rows as written."""
    db = Database(sqlite3.connect(path, isolation_level=None))
    schema.upgrade(db, path, stop_before=stop_before)
    written = {}
    for table, row in ROWS.items():
        if not db[table].exists():
            continue
        columns = db.table(table).columns_dict
        written[table] = {name: value for name, value in row.items() if name in columns}
        db.table(table).insert(written[table])
    db.close()
    return written


def layout(path: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex%' "
        "ORDER BY type, name"
    ).fetchall()
    conn.close()
    return rows


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str]]:
    path = tmp_path_factory.mktemp("fresh") / "ats.sqlite"
    Store(path).close()
    return layout(path)


@pytest.mark.parametrize("stop_before", OLDER)
def test_an_older_store_keeps_its_rows_and_gets_todays_schema(
    tmp_path: Path, stop_before: str, fresh: list[tuple[str, str, str]]
) -> None:
    path = tmp_path / "ats.sqlite"
    written = build(path, stop_before)
    assert "requests" in written and "audit" in written  # 0001 is always there

    store = Store(path)
    for table, row in written.items():
        where = " AND ".join(f"[{name}] IS ?" for name in row)
        kept = store.db.table(table).count_where(where, list(row.values()))
        assert kept == 1, f"{table} lost its row upgrading from before {stop_before}"
    applied = [r[0] for r in store.db.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    assert applied == list(schema.MIGRATIONS)

    # The rows read back through the rooms as records.
    request = store.request_by_id(1)
    assert request is not None and (request.fields, request.lang) == ({"type": "account"}, "de")
    assert [r.posted_revid for r in store.replies(1)] == [102]
    assert [(e.actor, e.evidence) for e in store.audit_log(1)][0] == ("ClerkBot", {"revid": 100})
    if "payments" in written:  # 0003 on
        (payment,) = store.payments("Alice")
        assert store.payment_by_reference("tx-1", "card") == payment  # keyed by 0014
        assert any(e.kind == "payment" and e.payment_id == 1 for e in store.ledger_entries())
        assert [w.status for w in store.waivers("Bob")] == ["requested"]
        assert [k.fingerprint for k in store.ssh_keys("Alice")] == ["SHA256:abc"]
    store.close()

    assert layout(path) == fresh


def test_every_step_is_listed_once_and_in_order() -> None:
    names = list(schema.MIGRATIONS)
    assert names == sorted(names) and len(set(names)) == len(names)
    assert [m.name for m in schema.migrations._migrations] == names  # noqa: SLF001


def test_0022_keys_the_requests_already_there_by_their_subject_as_mediawiki_writes_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ats.sqlite"
    build(path, "0022_request_subject_key")
    db = Database(sqlite3.connect(path, isolation_level=None))
    db.table("requests").insert(ROWS["requests"] | {"id": 2, "key": "100.2", "subject": "bob_b"})
    db.close()

    store = Store(path)
    assert [r.id for r in store.requests_for("Bob b")] == [2]
    assert [r.id for r in store.requests_for("alice")] == [1]
    store.close()
