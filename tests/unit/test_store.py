"""The SQLite store: migrations, pragmas, the append-only audit log, the reply outbox,
concurrent writers and the user cache."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from membership import store as store_module
from membership.records import OpenWaiverError, RequestRecord
from membership.store import Store
from tests.builders import add_request

PAGE = "Toolserver/Requests"


def add(store: Store, key: str, page: str = PAGE, **changes: Any) -> RequestRecord:
    values: dict[str, Any] = {
        "page": page,
        "key": key,
        "heading": f"Account request: {key}",
        "content_hash": "h-" + key,
        "intro_revid": 10,
        "detail": {"why": "new"},
    }
    return add_request(store, "Example", **{**values, **changes})


def test_migrations_are_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "ats.sqlite"
    for _ in range(3):
        Store(path).close()
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT migration_set, name FROM _sqlite_migrations ORDER BY id").fetchall()
    conn.close()
    names = store_module.MIGRATIONS
    assert rows == [("ats", name) for name in names]
    assert len(rows) == len(set(rows))


def test_wal_mode_and_busy_timeout(tmp_path: Path) -> None:
    opened = Store(tmp_path / "ats.sqlite", busy_timeout_ms=4321)
    conn = opened.db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 4321
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    opened.close()


def test_the_audit_log_is_append_only(store: Store) -> None:
    record = add(store, "a")
    store.audit("ClerkBot", "evaluated:received", record.id, revid=10, edits=2431)
    (entry,) = store.audit_log(record.id)
    assert (entry.actor, entry.action, entry.evidence) == (
        "ClerkBot",
        "evaluated:received",
        {"edits": 2431, "revid": 10},
    )
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("UPDATE audit SET actor = 'Mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("DELETE FROM audit")
    assert [e.actor for e in store.audit_log()] == ["ClerkBot"]


def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        add(store, "a")
        store.audit("ClerkBot", "x")
        raise RuntimeError("crash between two writes")
    assert store.requests() == []
    assert store.audit_log() == []


def test_on_behalf_is_set_when_subject_is_not_the_requester(store: Store) -> None:
    own = add(store, "own")
    other = add(store, "other", subject="Someone Else")
    assert own.on_behalf is False
    assert other.on_behalf is True
    assert other.fields == {"type": "account", "purpose": "bots"}
    assert other.detail == {"why": "new"}
    assert other.lang == "en"
    moved = store.update_request(other.id, subject="Example")
    assert moved.on_behalf is False


def test_every_queued_reply_stays_pending_in_order(store: Store) -> None:
    """Nothing said is lost: a later reply does not replace one not yet posted."""
    first, second = add(store, "a"), add(store, "b")
    old = store.queue_reply(first.id, "received", "checking")
    other = store.queue_reply(second.id, "received", "checking too")
    new = store.queue_reply(first.id, "awaiting-identity", "eligible")
    statuses = {r.id: r.status for r in store.replies(first.id)}
    assert statuses == {old.id: "pending", new.id: "pending"}
    assert [r.id for r in store.pending_replies(PAGE)] == [old.id, other.id, new.id]


def test_mark_posted_and_last_reply(store: Store) -> None:
    record = add(store, "a")
    posted = store.queue_reply(record.id, "received", "checking")
    store.mark_posted([posted.id], revid=42)
    (done,) = store.replies(record.id)
    assert (done.status, done.posted_revid) == ("posted", 42)
    assert done.posted_at is not None
    assert store.pending_replies(PAGE) == []
    pending = store.queue_reply(record.id, "invalid", "fix it")
    replaced = store.queue_reply(record.id, "invalid", "fix it, please")
    assert [r.status for r in store.replies(record.id)] == ["posted", "pending", "pending"]
    last = store.last_reply(record.id)
    assert last is not None and last.id == replaced.id != pending.id
    store.mark_posted([replaced.id], revid=43)
    last = store.last_reply(record.id)
    assert last is not None and (last.id, last.status) == (replaced.id, "posted")


def test_last_reply_ignores_superseded_replies(store: Store) -> None:
    record = add(store, "a")
    assert store.last_reply(record.id) is None
    store.queue_reply(record.id, "received", "one")
    store.db.execute("UPDATE replies SET status = 'superseded'")
    assert store.last_reply(record.id) is None


def test_pending_replies_only_for_the_page(store: Store) -> None:
    here = add(store, "a")
    there = add(store, "a", page="Other/Requests")
    mine = store.queue_reply(here.id, "received", "x")
    store.queue_reply(there.id, "received", "y")
    assert [r.id for r in store.pending_replies(PAGE)] == [mine.id]
    assert store.pending_replies("Nowhere") == []


def test_page_revision(store: Store) -> None:
    assert store.page_revision(PAGE) is None
    store.set_page_revision(PAGE, 5, "2025-01-01T00:00:00Z")
    store.set_page_revision(PAGE, 7, "2025-01-02T00:00:00Z")
    assert store.page_revision(PAGE) == 7


def test_two_stores_in_two_threads_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ats.sqlite"
    Store(path).close()
    per_thread, errors = 60, []
    start = threading.Barrier(2)

    def writer(name: str) -> None:
        try:
            mine = Store(path, busy_timeout_ms=20_000)
            start.wait()
            for i in range(per_thread):
                with mine.transaction():
                    record = add(mine, f"{name}-{i}")
                    mine.queue_reply(record.id, "received", f"{name} {i}")
                    mine.audit(name, "added", record.id, i=i)
            mine.close()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    check = Store(path)
    assert len(check.requests(PAGE)) == 2 * per_thread
    assert len(check.pending_replies(PAGE)) == 2 * per_thread
    assert len(check.audit_log()) == 2 * per_thread
    check.close()


def test_the_user_cache_honours_max_age(store: Store) -> None:
    record = {"name": "Example", "editcount": 2431}
    assert store.cached_user("Example", timedelta(hours=24)) is None
    store.cache_user("Example", record)
    assert store.cached_user("Example", timedelta(hours=24)) == record
    store.db.execute(
        "UPDATE users SET fetched_at = ? WHERE name = 'Example'", ["2000-01-01T00:00:00+00:00"]
    )
    assert store.cached_user("Example", timedelta(hours=24)) is None
    assert store.cached_user("Example", timedelta(days=365 * 100)) == record
    store.cache_user("Example", {**record, "editcount": 2432})
    assert store.cached_user("Example", timedelta(minutes=1)) == {**record, "editcount": 2432}


def test_page_provenance_and_forged_lines_are_remembered(store: Store) -> None:
    assert store.provenance("P") is None
    store.save_provenance("P", 7, {"v": 2, "cursor": 7, "live": [["5.1", "abc"]]})
    store.save_provenance("P", 9, {"v": 2, "cursor": 9, "live": []})
    assert store.provenance("P") == {"v": 2, "cursor": 9, "live": []}
    assert not store.forged_line_answered("P", "5.1", "t1")
    for _ in range(2):  # answered once: a second record changes nothing
        store.record_forged_line(
            "P", "5.1", "t1", request_id=None, author="Mallory", revid=8, line=":{{x}}"
        )
    assert store.forged_line_answered("P", "5.1", "t1")
    assert not store.forged_line_answered("P", "5.1", "t2")
    assert store.db["forged_lines"].count == 1


def test_a_transaction_spans_rooms_and_nests(store: Store) -> None:
    record = add(store, "t")
    with pytest.raises(RuntimeError, match="stop"), store.transaction():
        store.audit("Admin", "terms-accepted", record.id)
        with store.transaction():  # a room's own transaction joins the outer one
            store.record_payment(
                "Example", amount=100, currency="USD", paid_on="2025-01-01",
                method="card", reference="R-1", recorded_by="Admin",
            )  # fmt: skip
        store.accept_terms("Example", "1")
        raise RuntimeError("stop")
    assert (store.audit_log(record.id), store.payments(), store.ledger_entries()) == ([], [], [])
    assert store.terms_accepted("Example", "1") is None
    with store.transaction():
        store.accept_terms("Example", "1")
        store.audit("Example", "terms-accepted", record.id)
    assert store.terms_accepted("Example", "1") is not None
    assert [e.action for e in store.audit_log(record.id)] == ["terms-accepted"]


def test_a_constraint_a_room_expects_stays_its_own_error(store: Store) -> None:
    store.request_waiver("Example", "reason")
    with pytest.raises(OpenWaiverError), store.transaction():
        store.request_waiver("Example", "again")
    assert len(store.waivers("Example")) == 1


def decide(store: Store, request: RequestRecord, kind: str, at: str, *, honoured: bool) -> None:
    with time_machine.travel(at, tick=False):
        store.add_decision(
            request.id,
            kind=kind,
            params={},
            wikitext=f"{{{{ATS {kind}}}}} {at}",
            ordinal=1,
            revid=None,
            actor="Admin",
            honoured=honoured,
            reason="",
        )


def test_first_decided_is_the_earliest_honoured_decision_of_the_kinds_asked(
    store: Store,
) -> None:
    decided, held, open_ = add(store, "a"), add(store, "b"), add(store, "c")
    decide(store, decided, "decline", "2026-01-02T00:00:00Z", honoured=False)
    decide(store, decided, "decline", "2026-01-04T00:00:00Z", honoured=True)
    decide(store, decided, "approve", "2026-01-03T00:00:00Z", honoured=True)
    decide(store, held, "hold", "2026-01-01T00:00:00Z", honoured=True)

    assert store.first_decided(("approve", "decline")) == {decided.id: "2026-01-03T00:00:00+00:00"}
    assert store.first_decided(("hold",)) == {held.id: "2026-01-01T00:00:00+00:00"}
    assert open_.id not in store.first_decided(("approve", "decline", "hold"))


def test_request_summaries_list_what_a_list_shows_in_order_of_filing(store: Store) -> None:
    first = add(store, "a", subject="Someone else")
    second = add(store, "b", state="done", intro_timestamp=None)

    assert [(s.id, s.heading, s.requester, s.subject) for s in store.request_summaries()] == [
        (first.id, "Account request: a", "Example", "Someone else"),
        (second.id, "Account request: b", "Example", "Example"),
    ]
    [done] = store.request_summaries(state="done")
    assert (done.id, done.state, done.intro_timestamp) == (second.id, "done", None)
    assert done.created_at == second.created_at
