"""`ats purge`: exactly the expired private data is forgotten, per policies/retention.toml;
bookkeeping stays; the audit log gains counts only; a dry run changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from membership.retention import purge
from membership.store import Store
from policies.eligibility import PolicyError
from policies.retention import load_retention
from tests import builders

NOW = datetime.now(UTC).replace(microsecond=0)
SECRET_REASONS = ("old reason", "gone reason")


def ago(days: float) -> str:
    return (NOW - timedelta(days=days)).isoformat(timespec="seconds")


def add_request(store: Store, subject: str, key: str, state: str, closed_days: float | None):
    record = builders.add_request(
        store,
        subject,
        key=key,
        fields={"purpose": "private-ish purpose"},
        intro_timestamp=ago(300),
        state=state,
        detail={"edits": 12},
    )
    if closed_days is not None:
        store.update_request(record.id, closed_at=ago(closed_days), archived_at=ago(closed_days))
    return record


def person(store: Store, name: str, reason: str) -> None:
    store.record_identity(name, f"c-{name}", 2)
    store.accept_terms(name, "2025-01")
    store.add_ssh_key(name, type="ssh-ed25519", bits=256, key=f"k-{name}", fingerprint=f"f{name}")
    store.attest_identification(name, attested_by="Admin", method="video call")
    store.request_waiver(name, reason)
    store.record_payment(
        name,
        amount=2000,
        currency="USD",
        paid_on="2025-01-01",
        method="card",
        reference=f"r-{name}",
        recorded_by="Admin",
    )


@pytest.fixture
def store(store: Store) -> Store:
    """The shared store with something of every kind retention.toml speaks of."""
    opened, db = store, store.db
    # Sessions and login attempts.
    opened.save_session("expired", {"u": 1}, NOW - timedelta(minutes=1))
    opened.save_session("live", {"u": 2}, NOW + timedelta(hours=1))
    db.execute(
        "INSERT INTO login_attempts (client, at) VALUES ('old', ?), ('new', ?)", [ago(2), ago(0.1)]
    )
    opened.cache_user("Old cached", {"editcount": 1})
    opened.cache_user("New cached", {"editcount": 1})
    db.execute("UPDATE users SET fetched_at = ? WHERE name = 'Old cached'", [ago(40)])
    # A member with an old and a new attestation, and an old and a new decided waiver.
    add_request(opened, "Member", "m1", "done", None)
    add_request(opened, "Member", "m2", "declined", 400)
    opened.attest_identification("Member", attested_by="Admin", method="passport seen")
    opened.attest_identification("Member", attested_by="Admin2", method="video call")
    db.execute(
        "UPDATE identifications SET attested_at = ? WHERE method = 'passport seen'", [ago(40)]
    )
    for reason, decided in (("old reason", 100), ("new reason", 10)):
        waiver = opened.request_waiver("Member", reason)
        opened.decide_waiver(waiver.id, "Admin", status="granted")
        db.execute("UPDATE waivers SET decided_at = ? WHERE id = ?", [ago(decided), waiver.id])
    pending = opened.request_waiver("Member", "pending reason")
    db.execute("UPDATE waivers SET requested_at = ? WHERE id = ?", [ago(300), pending.id])
    # Someone declined long ago, someone declined recently.
    add_request(opened, "Gone", "g1", "declined", 200)
    person(opened, "Gone", "gone reason")
    add_request(opened, "Recent", "r1", "withdrawn", 10)
    person(opened, "Recent", "recent reason")
    db.execute("UPDATE identifications SET attested_at = ? WHERE username = 'Recent'", [ago(5)])
    return opened


def snapshot(store: Store) -> dict[str, list[tuple]]:
    tables = (
        "sessions",
        "login_attempts",
        "users",
        "identifications",
        "waivers",
        "identities",
        "terms_acceptances",
        "ssh_keys",
        "payments",
        "ledger",
        "requests",
        "audit",
    )
    return {t: store.db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}  # noqa: S608


def test_purge_forgets_exactly_what_expired(store: Store) -> None:
    ledger_before = store.ledger_entries()
    report = purge(store, NOW)
    assert not report.dry_run and report.people == 1
    assert report.counts == {
        "sessions": 1,
        "login_attempts": 1,
        "user_cache": 1,
        "identification_methods": 1,
        "waiver_reasons": 2,  # Member's 100-day-old one, then Gone's
        "request_details": 1,
        "identities": 1,
        "terms_acceptances": 1,
        "ssh_keys": 1,
        "identifications": 1,
    }
    live = store.live_session("live")
    assert live is not None and live[0] == {"u": 2}
    assert store.db.execute("SELECT client FROM login_attempts").fetchall() == [("new",)]
    assert [r[0] for r in store.db.execute("SELECT name FROM users")] == ["New cached"]
    methods = [(i.attested_by, i.method) for i in store.identifications("Member")]
    assert methods == [("Admin", "attested"), ("Admin2", "video call")]
    reasons = [(w.reason, w.status) for w in store.waivers("Member")]
    assert reasons == [("", "granted"), ("new reason", "granted"), ("pending reason", "requested")]
    # Gone is forgotten by the bridge; their bookkeeping stays.
    assert store.identity("Gone") is None and store.ssh_keys("Gone", active=False) == []
    assert store.identifications("Gone") == [] and store.terms_accepted("Gone", "2025-01") is None
    assert [w.reason for w in store.waivers("Gone")] == [""]
    assert [p.reference for p in store.payments("Gone")] == ["r-Gone"]
    assert store.ledger_entries() == ledger_before
    gone = store.request("Toolserver/Requests", "g1")
    assert gone is not None and gone.fields == {} and gone.detail == {}
    assert gone.state == "declined" and gone.heading == "Account request: Gone"
    # Recent is kept whole; so is the member's declined old request.
    assert store.identity("Recent") is not None and store.ssh_keys("Recent")
    assert [i.method for i in store.identifications("Recent")] == ["video call"]
    assert [w.reason for w in store.waivers("Recent")] == ["recent reason"]
    member_old = store.request("Toolserver/Requests", "m2")
    assert member_old is not None and member_old.fields == {"purpose": "private-ish purpose"}
    # The audit log: one entry with counts, and no private fact anywhere in it.
    entries = store.audit_log()
    assert [e.action for e in entries] == ["purge"]
    assert entries[0].evidence == {"counts": report.counts, "people": 1}
    dumped = json.dumps([e.__dict__ for e in entries], default=str)
    for private in (*SECRET_REASONS, "passport seen", "Gone", "private-ish"):
        assert private not in dumped


def test_a_second_purge_forgets_nothing_more(store: Store) -> None:
    purge(store, NOW)
    before = snapshot(store)
    again = purge(store, NOW)
    assert again.total == 0 and "nothing has expired" in again.summary()
    assert snapshot(store) == before


def test_a_dry_run_counts_and_changes_nothing(store: Store) -> None:
    before = snapshot(store)
    dry = purge(store, NOW, dry_run=True)
    assert snapshot(store) == before
    assert dry.total == 11 and "would forget" in dry.summary()
    assert purge(store, NOW).counts == dry.counts


def test_periods_come_from_the_policy(store: Store) -> None:
    keep_all = load_retention(
        {
            "waiver_reason_days": 1000,
            "identification_method_days": 1000,
            "closed_request_days": 1000,
            "user_cache_days": 1000,
            "login_attempt_days": 1000,
            "session_days_after_expiry": 1000,
        }
    )
    assert purge(store, NOW, keep_all).total == 0
    with pytest.raises(PolicyError, match="whole number of days"):
        load_retention({"waiver_reason_days": -1})
    with pytest.raises(PolicyError, match="unknown retention key"):
        load_retention({"waiver_days": 1})
