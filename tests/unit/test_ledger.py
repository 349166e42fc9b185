"""The fee ledger: no money created or lost across any sequence of entries (hypothesis),
the fund equal to its history, refunds bounded by their payment, never a float; the
store's append-only ledger; the waiver fund's decisions."""

from __future__ import annotations

import sqlite3
import tempfile
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from membership import fund, ledger
from membership.ledger import LedgerEntry, LedgerError
from membership.store import Store
from membership.waivers import decide
from policies.fees import FeePolicy, load_fees
from policies.money import MoneyError, format_minor, to_minor

DAY = date(2025, 3, 1)
MEMBERS = ("Alice", "Bob", "Chen")
amounts = st.integers(min_value=1, max_value=10**9)

# An operation: (kind, amount, member index, which earlier payment a refund targets).
operations = st.lists(
    st.tuples(
        st.sampled_from(ledger.KINDS),
        amounts,
        st.integers(0, len(MEMBERS) - 1),
        st.integers(0, 50),
    ),
    max_size=60,
)


def build(ops: list[tuple[str, int, int, int]]) -> tuple[list[LedgerEntry], list[LedgerEntry]]:
    """Apply the operations as the store would: accepted entries, and those refused."""
    entries: list[LedgerEntry] = []
    refused: list[LedgerEntry] = []
    waiver_ids = iter(range(1, 10**6))
    for kind, amount, who, target in ops:
        member = MEMBERS[who]
        extra: dict[str, object] = {}
        if kind == "refund":
            payments = [e for e in entries if e.kind == "payment"]
            if not payments:
                continue
            paid = payments[target % len(payments)]
            member, extra = paid.member, {"refund_of": paid.id}
        if kind == "waiver":
            extra = {"waiver_id": next(waiver_ids)}
        if kind == "expense":
            extra = {"note": "server"}
        entry = LedgerEntry(kind, amount, "USD", DAY, member=member, id=len(entries) + 1, **extra)
        try:
            ledger.check_entry(entries, entry)
        except LedgerError:
            refused.append(entry)
            continue
        entries.append(entry)
    return entries, refused


def total(entries: list[LedgerEntry], kind: str) -> int:
    return sum(e.amount for e in entries if e.kind == kind)


@given(operations)
def test_no_money_is_created_or_lost(ops: list[tuple[str, int, int, int]]) -> None:
    entries, _ = build(ops)
    money_in = total(entries, "payment")
    money_out = total(entries, "refund") + total(entries, "expense")
    assert money_in == money_out + ledger.balance(entries)
    assert ledger.balance(entries) == ledger.operating_balance(entries) + ledger.fund_balance(
        entries
    )
    assert sum(ledger.accounts(entries).values()) == 0
    for entry in entries:
        assert sum(change for _, change in entry.postings()) == 0


@given(operations)
def test_the_fund_is_the_sum_of_its_history(ops: list[tuple[str, int, int, int]]) -> None:
    entries, _ = build(ops)
    running = 0
    for n, entry in enumerate(entries, start=1):
        running += {"transfer": entry.amount, "waiver": -entry.amount}.get(entry.kind, 0)
        assert ledger.fund_balance(entries[:n]) == running
    assert ledger.fund_balance(entries) == total(entries, "transfer") - total(entries, "waiver")


@given(operations)
def test_refunds_never_exceed_their_payment(ops: list[tuple[str, int, int, int]]) -> None:
    entries, refused = build(ops)
    for payment in (e for e in entries if e.kind == "payment"):
        assert payment.id is not None
        assert 0 <= ledger.refunded(entries, payment.id) <= payment.amount
        assert ledger.refundable(entries, payment.id) >= 0
    for entry in refused:
        # Only a refund beyond what is left is ever refused in this model.
        assert entry.kind == "refund"


@given(operations, st.integers(1, 10**6), st.integers(0, 24))
def test_every_figure_is_an_int(
    ops: list[tuple[str, int, int, int]], cost: int, months: int
) -> None:
    entries, _ = build(ops)
    figures = [
        ledger.balance(entries),
        ledger.operating_balance(entries),
        ledger.fund_balance(entries),
        ledger.surplus(entries, cost, months),
        ledger.monthly_cost(entries, DAY),
        *ledger.accounts(entries).values(),
    ]
    runway = ledger.runway_months(entries, cost)
    assert all(type(f) is int for f in figures)
    assert runway is None or type(runway) is int


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_amount_is_refused(amount: float) -> None:
    with pytest.raises(LedgerError, match="whole minor units"):
        LedgerEntry("payment", amount, "USD", DAY, member="Alice")  # type: ignore[arg-type]


def test_other_bad_entries_are_refused() -> None:
    for kind, amount, extra in [
        ("payment", True, {"member": "A"}),
        ("payment", 0, {"member": "A"}),
        ("payment", -5, {"member": "A"}),
        ("payment", 5, {}),
        ("refund", 5, {"member": "A"}),
        ("waiver", 5, {"member": "A"}),
        ("expense", 5, {}),
        ("gift", 5, {}),
    ]:
        with pytest.raises(LedgerError):
            LedgerEntry(kind, amount, "USD", DAY, **extra)  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="one currency"):
        ledger.check_entry(
            [LedgerEntry("payment", 5, "USD", DAY, member="A", id=1)],
            LedgerEntry("transfer", 5, "EUR", DAY),
        )


def test_runway_and_surplus() -> None:
    entries = [
        LedgerEntry("payment", 120_00, "USD", DAY, member="A", id=1),
        LedgerEntry("expense", 24_00, "USD", DAY, note="server", id=2),
        LedgerEntry("transfer", 30_00, "USD", DAY, id=3),
    ]
    assert ledger.monthly_cost(entries, DAY) == 2_00
    assert ledger.operating_balance(entries) == 66_00
    assert ledger.runway_months(entries, 2_00) == 33
    assert ledger.runway_months(entries, 0) is None
    assert ledger.surplus(entries, 2_00, 6) == 54_00
    assert ledger.surplus(entries, 20_00, 6) == 0
    with pytest.raises(LedgerError):
        ledger.runway_months(entries, 2.5)  # type: ignore[arg-type]


def test_public_view_hides_members_and_links() -> None:
    entry = LedgerEntry("waiver", 20_00, "USD", DAY, member="Alice", waiver_id=7)
    public = entry.public()
    assert "member" not in public and "waiver_id" not in public
    assert public["amount"] == 20_00 and public["on"] == "2025-03-01"


@given(st.integers(-(10**12), 10**12), st.sampled_from(["USD", "JPY", "EUR"]))
def test_money_round_trips(amount: int, currency: str) -> None:
    assert to_minor(format_minor(amount, currency), currency) == amount


def test_money_parsing_refuses_what_it_cannot_read_exactly() -> None:
    assert to_minor("20", "USD") == 2000
    assert to_minor("20.5", "USD") == 2050
    assert to_minor("1500", "JPY") == 1500
    for text, currency in [
        ("20.001", "USD"),
        ("20.5", "JPY"),
        ("1e3", "USD"),
        ("1,000.00", "USD"),
        ("", "USD"),
        ("NaN", "USD"),
        ("20", "XXX"),
    ]:
        with pytest.raises(MoneyError):
            to_minor(text, currency)


# -- the store's ledger ----------------------------------------------------------


def pay(store: Store, member: str, amount: int, reference: str = "") -> LedgerEntry:
    store.record_payment(
        member,
        amount=amount,
        currency="USD",
        paid_on=DAY.isoformat(),
        method="card",
        reference=reference,
        recorded_by="Admin",
    )
    return store.ledger_entries(member=member, kind="payment")[-1]


def test_payments_are_mirrored_and_the_ledger_is_append_only(store: Store) -> None:
    payment = pay(store, "Alice", 20_00, "TX-1")
    assert (payment.kind, payment.amount, payment.member, payment.reference) == (
        "payment",
        20_00,
        "Alice",
        "TX-1",
    )
    assert payment.on == DAY and type(payment.amount) is int
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("UPDATE ledger SET amount = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.db.execute("DELETE FROM ledger")
    with pytest.raises(sqlite3.DatabaseError, match="whole minor units"):
        store.db.execute(
            "INSERT INTO ledger (kind, amount, currency, on_date, recorded_at) "
            "VALUES ('expense', 1.5, 'USD', '2025-01-01', 'x')"
        )


def test_store_refunds_are_bounded(store: Store) -> None:
    payment = pay(store, "Alice", 20_00)
    refund = LedgerEntry("refund", 15_00, "USD", DAY, member="Alice", refund_of=payment.id)
    store.add_ledger_entry(refund)
    with pytest.raises(LedgerError, match="only 500"):
        store.add_ledger_entry(refund)
    assert len(store.ledger_entries(kind="refund")) == 1
    with pytest.raises(LedgerError, match="record_payment"):
        store.add_ledger_entry(LedgerEntry("payment", 1, "USD", DAY, member="A"))


@settings(max_examples=15, deadline=None)
@given(operations)
def test_the_store_keeps_what_the_pure_ledger_computes(
    ops: list[tuple[str, int, int, int]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "ats.sqlite")
        try:
            for kind, amount, who, target in ops:
                member = MEMBERS[who]
                try:
                    if kind == "payment":
                        pay(store, member, amount)
                        continue
                    extra: dict[str, object] = {"member": member}
                    if kind == "refund":
                        payments = store.ledger_entries(kind="payment")
                        if not payments:
                            continue
                        paid = payments[target % len(payments)]
                        extra = {"member": paid.member, "refund_of": paid.id}
                    elif kind == "waiver":
                        # One request per member may be open (the store's index): this
                        # one is decided before the next is asked.
                        asked = store.request_waiver(member, "private")
                        store.decide_waiver(asked.id, "Admin", status="granted")
                        extra["waiver_id"] = asked.id
                    elif kind == "expense":
                        extra["note"] = "server"
                    store.add_ledger_entry(LedgerEntry(kind, amount, "USD", DAY, **extra))
                except LedgerError:
                    continue
            entries = store.ledger_entries()
            assert total(entries, "payment") == (
                total(entries, "refund") + total(entries, "expense") + ledger.balance(entries)
            )
            assert all(type(e.amount) is int for e in entries)
            for payment in (e for e in entries if e.kind == "payment"):
                assert payment.id is not None
                assert ledger.refunded(entries, payment.id) <= payment.amount
            assert not any("private" in repr(e) for e in entries)
        finally:
            store.close()


# -- the waiver fund ---------------------------------------------------------------


def test_decide_payout() -> None:
    assert fund.decide_payout(50, 20, "queue", second_admin=False) == fund.Payout("pay", 30)
    assert fund.decide_payout(10, 20, "queue", second_admin=True).outcome == "queue"
    rule = "allow-negative-with-second-admin"
    assert fund.decide_payout(10, 20, rule, second_admin=False).outcome == "needs-second-admin"
    assert fund.decide_payout(10, 20, rule, second_admin=True) == fund.Payout("pay", -10)


def grant(store: Store, waiver_id: int, admin: str, policy: FeePolicy) -> fund.Settled:
    record = store.waiver(waiver_id)
    assert record is not None
    step = decide(record, admin, "grant", needs_second=policy.waiver_needs_second_admin)
    return fund.settle_waiver(store, record, step, admin, policy, DAY)


def test_a_short_fund_queues_the_waiver_until_surplus_comes(store: Store) -> None:
    policy = load_fees()
    assert policy.when_fund_is_short == "queue"
    waiver = store.request_waiver("Alice", "lost my job")
    assert grant(store, waiver.id, "Admin1", policy).status == "requested"  # proposed
    settled = grant(store, waiver.id, "Admin2", policy)
    assert settled.status == "queued" and "queue" in settled.admin_message
    assert store.waiver(waiver.id).status == "requested"  # type: ignore[union-attr]
    message = fund.requester_message(store, "Alice", policy)
    assert message is not None and "number 1" in message and "do nothing" in message
    assert ledger.fund_balance(store.ledger_entries()) == 0

    pay(store, "Bob", 100_00)
    paid = fund.transfer_surplus(store, 30_00, policy, "Admin1", DAY)
    assert paid == [waiver.id]
    assert store.waiver(waiver.id).status == "granted"  # type: ignore[union-attr]
    assert ledger.fund_balance(store.ledger_entries()) == 10_00
    assert fund.requester_message(store, "Alice", policy) == (
        "Your fee waiver was granted: you have nothing to pay this year."
    )
    assert not any("lost my job" in repr(a) for a in store.audit_log())


def test_allow_negative_needs_a_second_admin(store: Store) -> None:
    policy = load_fees(
        {
            "when_fund_is_short": "allow-negative-with-second-admin",
            "waiver_needs_second_admin": False,
        }
    )
    waiver = store.request_waiver("Alice", "student")
    first = grant(store, waiver.id, "Admin1", policy)
    assert first.status == "requested" and "second admin" in first.admin_message
    second = grant(store, waiver.id, "Admin2", policy)
    assert second.status == "granted"
    assert ledger.fund_balance(store.ledger_entries()) == -policy.annual_fee


def test_a_full_fund_pays_at_once(store: Store) -> None:
    policy = load_fees({"waiver_needs_second_admin": False})
    pay(store, "Bob", 100_00)
    fund.transfer_surplus(store, 50_00, policy, "Admin1", DAY)
    waiver = store.request_waiver("Alice", "student")
    assert grant(store, waiver.id, "Admin1", policy).status == "granted"
    assert ledger.fund_balance(store.ledger_entries()) == 30_00
    assert ledger.balance(store.ledger_entries()) == 100_00


def test_fee_policy_refuses_an_unknown_rule() -> None:
    from policies.eligibility import PolicyError

    with pytest.raises(PolicyError, match="when_fund_is_short"):
        load_fees({"when_fund_is_short": "borrow"})
