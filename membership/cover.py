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
from policies.words import Words


def _money(amount: int, policy: FeePolicy) -> str:
    return f"{format_minor(amount, policy.currency)} {policy.currency}"


def kind_words(what: str) -> Words:
    """The name of an outflow (refund, expense, transfer) inside another sentence."""
    return Words(what, f"ats-outflow-kind-{what}")


def amount_refusal(amount: object, currency: str, policy: FeePolicy, what: str) -> Words | None:
    """Why `amount` of `currency` is no amount for a `what` (refund, …), or None."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        return Words(
            f"The amount of a {what} is whole minor units, not {amount!r}.",
            "ats-outflow-not-whole",
            kind=kind_words(what),
            amount=repr(amount),
        )
    if amount <= 0:
        return Words(
            f"A {what} must be more than zero (e.g. 20.00).",
            "ats-outflow-not-positive",
            kind=kind_words(what),
        )
    if amount > MAX_MINOR:  # the store's integers are 64-bit
        return Words(
            f"{_money(amount, policy)} is more than the ledger can hold; check the amount.",
            "ats-outflow-too-large",
            amount=_money(amount, policy),
        )
    if currency != policy.currency:
        return Words(
            f"The ledger keeps {policy.currency} only; convert the {currency} {what} to "
            f"{policy.currency} first.",
            "ats-outflow-currency",
            ledger=policy.currency,
            currency=currency,
            kind=kind_words(what),
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
) -> Words | None:
    """Why `amount` may not move from operating money into the waiver fund, or None."""
    refusal = amount_refusal(amount, currency, policy, "transfer")
    if refusal:
        return refusal
    entries = _ours(entries, policy)
    operating = ledger.operating_balance(entries)
    if operating < 0:
        return Words(
            f"Operating money is already below zero ({_money(operating, policy)}); nothing "
            "can move into the fund until income covers it.",
            "ats-outflow-operating-negative",
            operating=_money(operating, policy),
        )
    cost = ledger.monthly_cost(entries, today)
    available = ledger.surplus(entries, cost, policy.reserve_months)
    if amount > available:
        reserve = cost * policy.reserve_months
        said = {
            "available": _money(available, policy),
            "amount": _money(amount, policy),
            "operating": _money(operating, policy),
        }
        english = (
            f"Only {said['available']} of surplus may move into the fund, not "
            f"{said['amount']}: operating money is {said['operating']}"
        )
        if not reserve:
            return Words(f"{english}.", "ats-outflow-surplus", **said)
        return Words(
            f"{english} and the reserve keeps {_money(reserve, policy)} "
            f"({policy.reserve_months} months of {_money(cost, policy)}).",
            "ats-outflow-surplus-reserve",
            **said,
            reserve=_money(reserve, policy),
            num_months=policy.reserve_months,
            cost=_money(cost, policy),
        )
    return None


def expense_refusal(
    entries: Sequence[LedgerEntry], amount: int, currency: str, policy: FeePolicy
) -> Words | None:
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
) -> Words | None:
    """Why `amount` of payment `payment_id` may not be given back, or None."""
    refusal = amount_refusal(amount, currency, policy, "refund")
    if refusal:
        return refusal
    try:
        left = ledger.refundable(entries, payment_id)
    except LedgerError:
        return no_payment(payment_id)
    payment = next(e for e in entries if e.id == payment_id)
    if payment.currency != policy.currency:
        return Words(
            f"Payment {payment_id} is in {payment.currency}; refund it by hand.",
            "ats-outflow-refund-by-hand",
            id=payment_id,
            currency=payment.currency,
        )
    if left <= 0:
        return Words(
            f"Payment {payment_id} ({payment.member}) is already refunded in full.",
            "ats-outflow-refunded",
            id=payment_id,
            member=payment.member,
        )
    if amount > left:
        return Words(
            f"Only {_money(left, policy)} of payment {payment_id} ({payment.member}) is left "
            f"to refund, not {_money(amount, policy)}.",
            "ats-outflow-refund-left",
            left=_money(left, policy),
            id=payment_id,
            member=payment.member,
            amount=_money(amount, policy),
        )
    return _overdraw_refusal(entries, amount, policy, "refund")


def _overdraw_refusal(
    entries: Sequence[LedgerEntry], amount: int, policy: FeePolicy, what: str
) -> Words | None:
    operating = ledger.operating_balance(_ours(entries, policy))
    if policy.operating_may_go_negative or amount <= operating:
        return None
    return Words(
        f"Operating money is {_money(operating, policy)}; a {what} of "
        f"{_money(amount, policy)} would take it below zero, which the fee policy does not "
        "allow (operating_may_go_negative).",
        "ats-outflow-overdraw",
        operating=_money(operating, policy),
        kind=kind_words(what),
        amount=_money(amount, policy),
    )


def no_payment(payment_id: int) -> Words:
    return Words(
        f"There is no payment {payment_id} in the ledger to refund.",
        "ats-outflow-no-payment",
        id=payment_id,
    )


def needs_second_admin(amount: int, policy: FeePolicy) -> bool:
    """True when an outflow of `amount` waits for a second admin's confirmation."""
    return amount > policy.second_admin_above
