"""Whether money leaving operating has cover: the rules for refunds, expenses and transfers.

Pure. Each `*_refusal` function reads the ledger as it is and says, in one sentence an
admin can act on, why an outflow may not happen, or returns None when it may. A
transfer into the waiver fund moves only the operating surplus beyond the reserve
(`ledger.surplus`, with `reserve_months` of the last year's monthly cost), and never
while operating money is below zero; an expense or a refund may not take operating money
below zero unless `operating_may_go_negative` is set in `policies/fees.toml`; a refund
gives back at most what is left of its payment. Every amount is a positive whole number
of minor units in the policy's currency, and only entries in that currency count (as in
`ats report`). `needs_second_admin` says which outflows wait
for a second admin (`second_admin_above`). The callers (`membership.outflows`,
`membership.fund.transfer_surplus`) apply these rules inside the store's write
transaction, so two admins at once cannot both pass them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from membership import ledger
from membership.ledger import LedgerEntry, LedgerError
from policies.fees import FeePolicy
from policies.money import MAX_MINOR, format_minor


def _money(amount: int, policy: FeePolicy) -> str:
    return f"{format_minor(amount, policy.currency)} {policy.currency}"


def amount_refusal(amount: object, currency: str, policy: FeePolicy, what: str) -> str | None:
    """Why `amount` of `currency` is no amount for a `what` (refund, …), or None."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        return f"The amount of a {what} is whole minor units, not {amount!r}."
    if amount <= 0:
        return f"A {what} must be more than zero (e.g. 20.00)."
    if amount > MAX_MINOR:  # the store's integers are 64-bit
        return f"{_money(amount, policy)} is more than the ledger can hold; check the amount."
    if currency != policy.currency:
        return (
            f"The ledger keeps {policy.currency} only; convert the {currency} {what} to "
            f"{policy.currency} first."
        )
    return None


def _ours(entries: Sequence[LedgerEntry], policy: FeePolicy) -> list[LedgerEntry]:
    # Money in another currency (recorded before every path kept to the policy's) is not
    # the chapter's to spend here, as `ats report` leaves it out too.
    return [e for e in entries if e.currency == policy.currency]


def transfer_refusal(
    entries: Sequence[LedgerEntry],
    amount: int,
    currency: str,
    policy: FeePolicy,
    today: date,
) -> str | None:
    """Why `amount` may not move from operating money into the waiver fund, or None."""
    refusal = amount_refusal(amount, currency, policy, "transfer")
    if refusal:
        return refusal
    entries = _ours(entries, policy)
    operating = ledger.operating_balance(entries)
    if operating < 0:
        return (
            f"Operating money is already below zero ({_money(operating, policy)}); nothing "
            "can move into the fund until income covers it."
        )
    cost = ledger.monthly_cost(entries, today)
    available = ledger.surplus(entries, cost, policy.reserve_months)
    if amount > available:
        reserve = cost * policy.reserve_months
        kept = (
            f" and the reserve keeps {_money(reserve, policy)} ({policy.reserve_months} "
            f"months of {_money(cost, policy)})"
            if reserve
            else ""
        )
        return (
            f"Only {_money(available, policy)} of surplus may move into the fund, not "
            f"{_money(amount, policy)}: operating money is {_money(operating, policy)}{kept}."
        )
    return None


def expense_refusal(
    entries: Sequence[LedgerEntry], amount: int, currency: str, policy: FeePolicy
) -> str | None:
    """Why an operating expense of `amount` may not be recorded, or None."""
    refusal = amount_refusal(amount, currency, policy, "expense")
    if refusal:
        return refusal
    return _overdraw_refusal(entries, amount, policy, "expense")


def refund_refusal(
    entries: Sequence[LedgerEntry],
    payment_id: int,
    amount: int,
    currency: str,
    policy: FeePolicy,
) -> str | None:
    """Why `amount` of payment `payment_id` may not be given back, or None."""
    refusal = amount_refusal(amount, currency, policy, "refund")
    if refusal:
        return refusal
    try:
        left = ledger.refundable(entries, payment_id)
    except LedgerError:
        return f"There is no payment {payment_id} in the ledger to refund."
    payment = next(e for e in entries if e.id == payment_id)
    if payment.currency != policy.currency:
        return f"Payment {payment_id} is in {payment.currency}; refund it by hand."
    if left <= 0:
        return f"Payment {payment_id} ({payment.member}) is already refunded in full."
    if amount > left:
        return (
            f"Only {_money(left, policy)} of payment {payment_id} ({payment.member}) is left "
            f"to refund, not {_money(amount, policy)}."
        )
    return _overdraw_refusal(entries, amount, policy, "refund")


def _overdraw_refusal(
    entries: Sequence[LedgerEntry], amount: int, policy: FeePolicy, what: str
) -> str | None:
    operating = ledger.operating_balance(_ours(entries, policy))
    if policy.operating_may_go_negative or amount <= operating:
        return None
    return (
        f"Operating money is {_money(operating, policy)}; a {what} of "
        f"{_money(amount, policy)} would take it below zero, which the fee policy does not "
        "allow (operating_may_go_negative)."
    )


def needs_second_admin(amount: int, policy: FeePolicy) -> bool:
    """True when an outflow of `amount` waits for a second admin's confirmation."""
    return amount > policy.second_admin_above
