"""Renewal reminders claimed before they are posted: one holder per reminder, claims of
a run that is gone taken over, settling and releasing only by the holder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from membership import renewal
from membership.reminder_claims import (
    CLAIM_TTL,
    CLAIMED,
    Claimant,
    abandoned,
    claim,
    release,
    settle,
)
from membership.renewal import Reminder
from membership.store import Store
from policies.fees import load_fees

POLICY = load_fees()
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
JANE = Reminder("Jane", "2025-06-10", 30, date(2025, 6, 11))
JOE = Reminder("Joe", "2025-06-20", 30, date(2025, 6, 21))
HOST = "clerk-host"


def run(pid: int, host: str = HOST) -> Claimant:
    return Claimant(f"token-{host}-{pid}", host, pid)


def alive(*pids: int) -> Callable[[int], bool]:
    return lambda pid: pid in pids


def test_a_reminder_claimed_by_a_live_run_is_left_to_it(store: Store) -> None:
    first, second = run(100), run(200)
    got = claim(store, [JANE, JOE], first, now=NOW, alive=alive(100, 200))
    assert got.taken == [JANE, JOE] and got.elsewhere == []
    other = claim(store, [JANE, JOE], second, now=NOW, alive=alive(100, 200))
    assert other.ours == [] and other.elsewhere == [JANE, JOE]
    [record, _] = store.reminders()
    assert (record.outcome, record.claim_token, record.claim_pid) == (CLAIMED, first.token, 100)
    assert record.claim_host == HOST and record.claimed_at is not None

    assert not settle(store, JANE, second, "posted", revid=7)  # not its claim
    assert settle(store, JANE, first, "posted", revid=7)
    assert not settle(store, JANE, first, "posted", revid=8)  # once
    posted = store.reminder("Jane", JANE.period, JANE.stage)
    assert posted is not None and (posted.outcome, posted.revid) == ("posted", 7)
    # A settled reminder is nobody's to claim again, even once its run is gone.
    assert claim(store, [JANE], second, now=NOW, alive=alive()).ours == []


def test_the_claim_of_a_dead_run_on_this_host_is_taken_over_at_once(store: Store) -> None:
    dead, later = run(100), run(200)
    claim(store, [JANE], dead, now=NOW)
    got = claim(store, [JANE], later, now=NOW, alive=alive(200))
    assert got.taken_over == [JANE] and got.taken == []
    record = store.reminder("Jane", JANE.period, JANE.stage)
    assert record is not None and record.claim_token == later.token and record.claim_pid == 200
    assert not settle(store, JANE, dead, "posted", revid=1)  # the dead run lost it
    assert settle(store, JANE, later, "posted", revid=2)


def test_an_earlier_run_of_this_process_left_its_claim(store: Store) -> None:
    earlier, now = Claimant("a", HOST, 100), Claimant("b", HOST, 100)
    claim(store, [JANE], earlier, now=NOW)
    assert claim(store, [JANE], now, now=NOW, alive=alive(100)).taken_over == [JANE]


def test_a_claim_from_another_host_waits_for_its_expiry(store: Store) -> None:
    remote, local = run(100, "elsewhere"), run(200)
    claim(store, [JANE], remote, now=NOW)
    assert claim(store, [JANE], local, now=NOW + CLAIM_TTL, alive=alive()).elsewhere == [JANE]
    later = NOW + CLAIM_TTL + timedelta(seconds=1)
    assert claim(store, [JANE], local, now=later, alive=alive()).taken_over == [JANE]


def test_abandoned_is_about_claims_only(store: Store) -> None:
    me = run(200)
    claim(store, [JANE], run(100), now=NOW)
    record = store.reminder("Jane", JANE.period, JANE.stage)
    assert record is not None
    assert abandoned(record, me, NOW, alive=alive(200))
    assert not abandoned(record, me, NOW, alive=alive(100, 200))
    settle(store, JANE, run(100), "opted-out", note="opted out")
    settled = store.reminder("Jane", JANE.period, JANE.stage)
    assert settled is not None and not abandoned(settled, me, NOW, alive=alive())


def test_release_gives_up_only_this_runs_claims(store: Store) -> None:
    mine, theirs = run(100), run(200)
    claim(store, [JANE], mine, now=NOW)
    claim(store, [JOE], theirs, now=NOW)
    release(store, [JANE, JOE], mine)
    assert [r.member for r in store.reminders()] == ["Joe"]
    assert claim(store, [JANE], theirs, now=NOW, alive=alive(100, 200)).taken == [JANE]


def test_the_plan_keeps_open_claims_due_and_drops_decided_reminders(store: Store) -> None:
    today = date(2025, 6, 1)
    store.record_account("jane", "person", "Jane", 10001)
    store.record_payment(
        "Jane",
        amount=POLICY.annual_fee,
        currency=POLICY.currency,
        paid_on=(today - timedelta(days=350)).isoformat(),
        method="bank",
        reference="r1",
        recorded_by="Treasurer",
    )
    [due] = renewal.plan(store, POLICY, today).reminders
    holder = run(100)
    claim(store, [due], holder, now=NOW)
    assert renewal.plan(store, POLICY, today).reminders == [due]  # open: still due
    settle(store, due, holder, "posted", revid=3)
    assert renewal.plan(store, POLICY, today).reminders == []
