"""A member's file (`membership.member_file`), read in one statement, says what the
functions that read each fact from the store say: their requests and the gates of each,
their jobs, keys, terms, waivers and the fund's queue, payments, standing, an admin's
suspension and their tools."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from membership import fund, maintainers, member_file, progress, renewal, suspensions
from membership.ledger import LedgerEntry
from membership.store import Store
from policies.fees import FeePolicy
from tests.builders import QUEUE_MEMBER, add_request, seed_queue

TERMS = "1"
FEES = FeePolicy()
NOW = datetime.now(UTC)  # the store stamps decisions with the clock's day
TODAY = NOW.date()
# Besides the queue's member: a member with an account and a payment, a tool's
# maintainer, one whom an admin suspended, one renewal suspended, one with a granted
# waiver waiting for the fund, one who paid, one whose payment was refunded in part, and
# someone unknown.
MEMBERS = [
    QUEUE_MEMBER,
    "Queue user 8",
    "Queue user 0",
    "Suspended by admin",
    "Lapsed member",
    "Waived member",
    "Paid member",
    "Refunded member",
    "Nobody known",
]


@pytest.fixture
def members(store: Store) -> Store:
    seed_queue(store, 40, NOW)
    add_request(store, "Suspended by admin", key="admin-suspended", state="done")
    store.record_account("suspended", "person", "Suspended by admin", 40_001)
    store.set_account_suspended("suspended", "abuse")
    add_request(store, "Lapsed member", key="lapsed", state="done")
    store.record_account("lapsed", "person", "Lapsed member", 40_002)
    store.set_account_suspended("lapsed", "lapsed")
    store.record_suspension("Lapsed member", "lapsed", "lapsed", paid_until=None, job_id=None)
    add_request(store, "Waived member", key="waived", state="awaiting-requester")
    waiver = store.request_waiver("Waived member", "between jobs")
    store.decide_waiver(waiver.id, "Admin One", status="granted")
    store.queue_waiver(
        waiver.id, amount=FEES.annual_fee, currency=FEES.currency, operation="decide", queued_by="A"
    )
    for who in ("Paid member", "Refunded member"):
        add_request(store, who, key=who, state="awaiting-requester")
        payment = store.record_payment(
            who,
            amount=FEES.annual_fee,
            currency=FEES.currency,
            paid_on=(TODAY - timedelta(days=10)).isoformat(),
            method="bank",
            reference=f"{who} 1",
            recorded_by="Admin One",
        )
    entry = next(
        e for e in store.ledger_entries(member="Refunded member") if e.payment_id == payment.id
    )
    store.add_ledger_entry(
        LedgerEntry("refund", 1, FEES.currency, TODAY, member="Refunded member", refund_of=entry.id)
    )
    return store


@pytest.mark.parametrize("name", MEMBERS)
def test_the_file_says_what_each_fact_read_alone_says(members: Store, name: str) -> None:
    mine = member_file.read(members, name, TERMS)
    own = members.requests_for(name)
    assert mine.requests == own
    assert mine.request_jobs == members.jobs_of_requests(r.id for r in own)
    assert mine.member_jobs == members.member_jobs(name)
    assert mine.ssh_keys == members.ssh_keys(name)
    assert mine.terms_accepted == members.terms_accepted(name, TERMS)
    assert mine.waivers == members.waivers(name)
    assert mine.payments == members.payments(name)
    for waiver in mine.waivers:
        position = fund.position_in(mine.waiver_queue, waiver.id)
        assert position == fund.queue_position(members, waiver.id)
    assert mine.account == members.account_of(name)
    assert mine.suspended_by_admin == suspensions.suspended_by_admin(members, name)
    assert mine.tools() == maintainers.tools_maintained(members, name)
    assert mine.standing(FEES, TODAY) == renewal.member_standing(members, FEES, name, TODAY)
    reports = progress.reports_from(mine.known(), own, FEES, TODAY)
    assert reports == progress.reports_for(members, own, TERMS, FEES)


def test_the_members_differ_in_what_the_file_works_out(members: Store) -> None:
    files = {name: member_file.read(members, name, TERMS) for name in MEMBERS}
    assert [n for n, f in files.items() if f.suspended_by_admin] == ["Suspended by admin"]
    standings = {n: f.standing(FEES, TODAY).standing for n, f in files.items()}
    assert standings["Waived member"] == "waived"
    assert standings["Paid member"] == "paid"
    assert standings["Refunded member"] != "paid"  # refunded in part: not the whole fee
    assert files["Lapsed member"].standing(FEES, TODAY).suspended
    waived = files["Waived member"]
    assert fund.position_in(waived.waiver_queue, waived.waivers[-1].id) == 1
    assert [tool.shell_name for tool, _ in files["Queue user 0"].tools()]
    assert files[QUEUE_MEMBER].request_jobs  # its failing provisioning job
    assert files["Nobody known"].requests == []


def test_a_name_is_read_as_mediawiki_writes_it(members: Store) -> None:
    assert member_file.read(members, "queue_user_8", TERMS) == member_file.read(
        members, "Queue user 8", TERMS
    )


def test_a_file_is_one_statement_and_one_more_for_tool_requests(
    members: Store, traced: list[str]
) -> None:
    store = Store(members.path)  # opened after `traced`: its statements are counted
    try:
        member_file.read(store, "Queue user 8", TERMS)  # the columns, read once a connection
        for name, tool_requests, statements in (
            ("Queue user 8", False, 1),
            (QUEUE_MEMBER, True, 2),  # the accounts of its tool request's maintainers
        ):
            traced.clear()
            mine = member_file.read(store, name, TERMS)
            assert any(r.type == "tool" for r in mine.requests) == tool_requests
            assert len(traced) == statements, traced
    finally:
        store.close()


def test_the_standing_is_for_the_day_asked(members: Store) -> None:
    mine = member_file.read(members, "Paid member", TERMS)
    later = TODAY + timedelta(days=800)  # past what the payment covers
    assert mine.standing(FEES, later) == renewal.member_standing(
        members, FEES, "Paid member", later
    )
    assert mine.standing(FEES, TODAY).standing == "paid"
    assert mine.standing(FEES, later).standing == "lapsed"
