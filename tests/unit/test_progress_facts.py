"""The gates' facts read for many requests at once (`progress.known_about`, what a page
listing requests uses) are the facts the store gives for each request's people one by
one, and a member's requests are found by their name as MediaWiki writes it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from membership import gates, progress
from membership.ledger import LedgerEntry, net_payments
from membership.records import RequestRecord
from membership.store import Store
from policies.fees import FeePolicy, fee_settled
from policies.usernames import canonical_username
from tests.builders import add_request, seed_queue

TERMS = "2"
FEES = FeePolicy()
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
TODAY = NOW.date()


def one_by_one(store: Store, record: RequestRecord, today: date) -> gates.Facts:
    """The facts about `record`, each asked of the store alone for its one person."""
    subject = canonical_username(record.subject or record.requester)
    payments = net_payments(store.ledger_entries(member=subject), subject)
    waived = any(w.status == "granted" for w in store.waivers(subject))
    maintainers = []
    if record.type == "tool":
        for name in gates.tool_maintainers(record):
            account = store.account_of(name)
            held = account is not None
            maintainers.append(
                gates.Maintainer(name, account=held, suspended=bool(account and account.suspended))
            )
    return gates.Facts(
        identity=store.identity(subject) is not None,
        terms=store.terms_accepted(subject, TERMS) is not None,
        ssh_key=bool(store.ssh_keys(subject)),
        identified=bool(store.identifications(subject)),
        fee=waived or fee_settled(FEES, payments, today),
        eligible=gates.eligible(record),
        maintainers=tuple(maintainers),
    )


@pytest.fixture
def varied(store: Store) -> Store:
    """A seeded queue, and members whose every fact differs from the next one's."""
    seed_queue(store, 40, NOW)
    for n in range(8):
        who = f"Varied {n}"
        add_request(
            store, who, key=f"varied-{n}", subject=f"varied_{n}", state="awaiting-requester"
        )
        if n % 2:
            store.record_identity(who, f"central-{n}", 2)
        store.accept_terms(who, TERMS if n % 3 else "1")  # an older version is not enough
        if n % 4 == 1:
            key = store.add_ssh_key(
                who, type="ssh-ed25519", bits=256, key=f"k{n}", fingerprint=f"f{n}"
            )
            store.remove_ssh_key(who, key.id)  # a removed key is no key
        elif n % 4 == 2:
            store.add_ssh_key(who, type="ssh-ed25519", bits=256, key=f"k{n}", fingerprint=f"f{n}")
        if n % 3 == 0:
            store.attest_identification(who, attested_by="Admin One", method="video call")
        if n in (3, 4):
            waiver = store.request_waiver(who, "between jobs")
            store.decide_waiver(waiver.id, "Admin One", status="granted" if n == 3 else "refused")
        if n in (5, 6, 7):
            paid_on = (TODAY - timedelta(days=400 if n == 7 else 10)).isoformat()
            payment = store.record_payment(
                who,
                amount=FEES.annual_fee,
                currency=FEES.currency,
                paid_on=paid_on,
                method="bank",
                reference=f"VARIED-{n}",
                recorded_by="Admin One",
            )
            if n == 6:  # refunded in part: no longer the whole fee
                entry = next(
                    e for e in store.ledger_entries(member=who) if e.payment_id == payment.id
                )
                store.add_ledger_entry(
                    LedgerEntry("refund", 1, FEES.currency, TODAY, member=who, refund_of=entry.id)
                )
    store.record_account("varied1", "person", "Varied 1", 30_001)
    store.record_account("varied2", "person", "Varied 2", 30_002)
    store.set_account_suspended("varied2", "lapsed")
    add_request(
        store,
        "Varied 1",
        key="varied-tool",
        type="tool",
        fields={"type": "tool", "tool": "vt", "license": "MIT", "maintainers": "varied_2, Nobody"},
        state="awaiting-approval",
    )
    return store


def test_the_facts_read_at_once_are_the_facts_read_one_by_one(varied: Store) -> None:
    records = varied.requests()
    known = progress.known_about(varied, records, TERMS)
    for record in records:
        expected = one_by_one(varied, record, TODAY)
        assert progress.facts_from(known, record, FEES, TODAY) == expected, record.key
    # The varied members do differ: every fact is found both true and false.
    facts = [one_by_one(varied, r, TODAY) for r in records if r.key.startswith("varied")]
    for name in ("identity", "terms", "ssh_key", "identified", "fee"):
        assert {getattr(f, name) for f in facts} == {True, False}, name
    (tool,) = [f for f in facts if f.maintainers]
    assert [(m.account, m.suspended) for m in tool.maintainers] == [
        (False, False),  # Nobody
        (True, False),  # Varied 1, the requester
        (True, True),  # Varied 2, suspended
    ]


def test_the_reports_of_many_are_each_ones_report(varied: Store) -> None:
    records = varied.requests()
    reports = progress.reports_for(varied, records, TERMS, FEES)
    today = datetime.now(UTC).date()
    for record, report in zip(records, reports, strict=True):
        assert report == gates.evaluate(record, one_by_one(varied, record, today)), record.key


def test_a_members_requests_are_found_by_their_name_as_mediawiki_writes_it(store: Store) -> None:
    first = add_request(store, "Example", key="a", subject="example_user  one")
    add_request(store, "Example", key="b", subject="Example user one two")
    second = add_request(store, "Example", key="c", subject=" Example_user_one")
    found = [r.id for r in progress.requests_of(store, "Example user one")]
    assert found == [second.id, first.id]  # newest first
    assert [r.id for r in progress.requests_of(store, "example_user_one")] == found

    store.update_request(first.id, subject="Someone")  # the key follows the subject
    assert [r.id for r in progress.requests_of(store, "Example user one")] == [second.id]
    assert [r.id for r in progress.requests_of(store, "someone")] == [first.id]
    assert progress.requests_of(store, "Nobody") == []
