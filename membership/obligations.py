"""The fee each member owes for a membership year, and the rules that keep it counted once.

A member's year is the one `policies.fees.standing` counts: a payment that reaches the
fee, or a granted waiver, covers the 365 days from its date. The rules, for each member
and year, whichever path records money (the admin form, `ats payments import`, the
fund's queue):

1. At most one fee obligation, settled by payments or by one waiver, never both: the
   fund pays a waiver only while the year is unsettled (`settled_by` is None), so a
   member who already paid cannot be granted a fund-paid waiver, and a member whose
   waiver was granted cannot be paid a second one for the same year.
2. One waiver request per member may be open (`requested`, which includes a grant
   waiting for a second admin or in the fund's queue): the store's unique index
   `waivers_open` refuses a second, so a double-submitted form makes one request. While
   the year is settled no new request is taken (`check_may_request_waiver`).
3. An open request, queued or not, is withdrawn (status `withdrawn`, audited, and the
   requester told on /me) as soon as the year is settled another way; the fund's queue
   re-checks before it pays, so a withdrawn waiver is never paid out later.
4. A payment's reference is unique per payment method after normalising (case and
   surrounding or repeated spaces do not count; `membership.records.payment_key`): the
   store's unique index `payments_reference` refuses a second, and the form shows the
   existing one.
5. Money within bounds: the policy's currency only (so the ledger's first entry is in
   it), more than zero, at most `max_payment` of `policies/fees.toml`, and never more
   than the store can hold (`policies.money.MAX_MINOR`).

Every check runs inside the store's write transaction (`BEGIN IMMEDIATE`: writers take
turns), so two admins or two imports racing see each other's writes; the unique indexes
hold even for a writer that skips these functions. `violations` states the same rules
as checks over a whole store, for the tests.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from membership import ledger
from membership.records import (
    DuplicatePaymentError,
    OpenWaiverError,
    PaymentRecord,
    WaiverRecord,
    payment_key,
    waiver_asked,
)
from membership.store import Store
from policies.errors import Refusal
from policies.fees import FeePolicy, standing
from policies.money import MAX_MINOR, format_minor
from policies.words import Words

YEAR = timedelta(days=365)


class ObligationError(Refusal, ValueError):
    """An action the rules above refuse; the message says why, in one line."""


# -- what is owed ---------------------------------------------------------------


def waived_on(waiver: WaiverRecord) -> date:
    """The day a granted waiver starts covering the year (as the renewal counts it)."""
    return datetime.fromisoformat(
        waiver.confirmed_at or waiver.decided_at or waiver.requested_at
    ).date()


def settled_by(store: Store, policy: FeePolicy, member: str, today: date) -> str | None:
    """`paid` or `waived` when `member`'s current year is settled, else None."""
    entries = [e for e in store.ledger_entries(member=member) if e.currency == policy.currency]
    payments = ledger.net_payments(entries, member)
    granted = [waived_on(w) for w in store.waivers(member, status="granted")]
    now = standing(policy, payments, granted, today)
    return now if now in ("paid", "waived") else None


def _why_settled(store: Store, member: str, how: str) -> str:
    if how == "paid":
        return f"{member} already paid the fee for this year"
    granted = store.waivers(member, status="granted")
    when = waived_on(granted[-1]).isoformat() if granted else "earlier"
    return f"{member}'s fee for this year was already waived on {when}"


# -- waivers --------------------------------------------------------------------


def check_may_request_waiver(store: Store, policy: FeePolicy, member: str, today: date) -> None:
    """Raise `ObligationError` (worded for the member) if a new request is not taken."""
    open_ = store.waivers(member, status="requested")
    if open_:
        raise ObligationError(waiver_asked(open_[0]))
    how = settled_by(store, policy, member, today)
    if how == "paid":
        raise ObligationError(
            Words(
                "Your fee for this year is paid; there is nothing to waive.",
                "ats-obligation-paid",
            )
        )
    if how == "waived":
        granted = store.waivers(member, status="granted")[-1]
        until = waived_on(granted) + YEAR - timedelta(days=1)
        raise ObligationError(
            Words(
                f"Your fee waiver was granted; it covers you until {until.isoformat()}. "
                "You can ask again when that year ends.",
                "ats-obligation-waived",
                date=until.isoformat(),
            )
        )


def request_waiver(
    store: Store, policy: FeePolicy, member: str, reason: str, today: date
) -> WaiverRecord:
    """Open a waiver request, or raise `ObligationError` saying why not."""
    with store.transaction():
        check_may_request_waiver(store, policy, member, today)
        try:
            waiver = store.request_waiver(member, reason)
        except OpenWaiverError as error:  # a writer that skipped the check above
            raise ObligationError(error.args[0]) from None
        store.audit(member, "waiver-requested", waiver_id=waiver.id)
        return waiver


def refuse_settled_waiver(
    store: Store, policy: FeePolicy, waiver: WaiverRecord, actor: str, today: date
) -> str | None:
    """If the member's year is already settled, withdraw `waiver` and say why; else None.

    Called inside the transaction that would grant or pay it."""
    how = settled_by(store, policy, waiver.username, today)
    if how is None:
        return None
    store.withdraw_waiver(waiver.id, actor)
    store.audit(actor, "waiver-withdrawn", subject=waiver.username, waiver_id=waiver.id, why=how)
    return (
        f"Not granted: {_why_settled(store, waiver.username, how)}, so the fund owes nothing; "
        f"waiver request #{waiver.id} is withdrawn."
    )


def withdraw_if_settled(
    store: Store, policy: FeePolicy, member: str, actor: str, today: date
) -> list[int]:
    """Withdraw `member`'s open requests once their year is settled; the ids withdrawn."""
    withdrawn: list[int] = []
    with store.transaction():
        how = settled_by(store, policy, member, today)
        if how is None:
            return withdrawn
        for waiver in store.waivers(member, status="requested"):
            if store.withdraw_waiver(waiver.id, actor):
                store.audit(actor, "waiver-withdrawn", subject=member, waiver_id=waiver.id, why=how)
                withdrawn.append(waiver.id)
    return withdrawn


# -- payments -------------------------------------------------------------------


def check_amount(amount: int, currency: str, policy: FeePolicy) -> None:
    """Raise `ObligationError` unless `amount` (minor units) of `currency` may be recorded."""
    if currency != policy.currency:
        raise ObligationError(
            Words(
                f"the ledger is kept in {policy.currency}; convert the {currency} amount to "
                f"{policy.currency} first",
                "ats-obligation-currency",
                ledger=policy.currency,
                currency=currency,
            )
        )
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ObligationError(
            Words(
                "the amount must be more than zero (e.g. 20.00)",
                "ats-obligation-not-positive",
            )
        )
    if amount > min(policy.max_payment, MAX_MINOR):
        raise ObligationError(
            Words(
                f"{format_minor(amount, currency)} {currency} is more than the largest payment "
                f"recorded here ({format_minor(policy.max_payment, currency)}, max_payment in "
                "policies/fees.toml); check the amount",
                "ats-obligation-too-large",
                amount=f"{format_minor(amount, currency)} {currency}",
                max=format_minor(policy.max_payment, currency),
            )
        )


def record_payment(
    store: Store,
    policy: FeePolicy,
    member: str,
    *,
    amount: int,
    currency: str,
    paid_on: date,
    method: str,
    reference: str,
    recorded_by: str,
    today: date,
) -> PaymentRecord:
    """Record a payment under every rule above, and withdraw waivers it makes moot.

    Raises `ObligationError` (bounds) or `DuplicatePaymentError` (a known reference)."""
    check_amount(amount, currency, policy)
    with store.transaction():
        if payment_key(reference):
            known = store.payment_by_reference(reference, method)
            if known is not None:
                raise DuplicatePaymentError(known)
        payment = store.record_payment(
            member,
            amount=amount,
            currency=currency,
            paid_on=paid_on.isoformat(),
            method=method,
            reference=reference,
            recorded_by=recorded_by,
        )
        withdraw_if_settled(store, policy, member, recorded_by, today)
        return payment


# -- the rules as checks, for the tests ----------------------------------------------


def violations(store: Store, policy: FeePolicy, today: date) -> list[str]:
    """Every broken rule in the store, one line each; empty when all hold."""
    found: list[str] = []
    entries = store.ledger_entries()
    waivers_paid: dict[str, list[ledger.LedgerEntry]] = defaultdict(list)
    for entry in entries:
        if entry.kind == "waiver":
            waivers_paid[entry.member].append(entry)
    for member, paid in waivers_paid.items():
        for earlier, later in zip(paid, paid[1:], strict=False):
            if later.on - earlier.on < YEAR:
                found.append(
                    f"{member}: the fund paid waivers {earlier.waiver_id} and "
                    f"{later.waiver_id} within one year"
                )
        for entry in paid:
            before = [e for e in entries if e.id is not None and e.id < (entry.id or 0)]
            mine = [e for e in before if e.member == member and e.currency == policy.currency]
            if standing(policy, ledger.net_payments(mine, member), [], entry.on) == "paid":
                found.append(f"{member}: the fund paid waiver {entry.waiver_id} for a paid year")
    open_by: dict[str, list[int]] = defaultdict(list)
    for waiver in store.waivers(status="requested"):
        open_by[waiver.username].append(waiver.id)
    for member, ids in open_by.items():
        if len(ids) > 1:
            found.append(f"{member}: {len(ids)} open waiver requests {ids}")
        if settled_by(store, policy, member, today) is not None:
            found.append(f"{member}: waiver request {ids} still open for a settled year")
    for queued in store.queued_waivers():
        queued_for = store.waiver(queued.waiver_id)
        if queued_for is None or queued_for.status != "requested":
            found.append(f"waiver {queued.waiver_id} is queued but not open")
    keys: dict[tuple[str, str], int] = {}
    for payment in store.payments():
        if payment.currency != policy.currency:
            found.append(f"payment #{payment.id} is in {payment.currency}")
        if not 0 < payment.amount <= policy.max_payment:
            found.append(f"payment #{payment.id} of {payment.amount} is out of bounds")
        key = (payment_key(payment.method), payment_key(payment.reference))
        if key[1] and payment.reference_key is not None:
            if key in keys:
                found.append(f"payment #{payment.id} repeats the reference of #{keys[key]}")
            keys[key] = payment.id
    return found
