"""The membership fee and waiver rules as data (bundled `fees.toml`), and what counts as paid.

`FeePolicy` holds the yearly amount in minor units, the currency, the grace period,
whether a waiver needs a second admin's confirmation (`waiver_needs_second_admin`,
default true: one admin alone cannot spend the fund), what happens when the waiver
fund cannot pay a waiver (`when_fund_is_short`: `queue` it until money comes in, or
`allow-negative-with-second-admin`), the operating reserve kept before any surplus
goes to the fund (`reserve_months`), which refunds, expenses and transfers into the fund
wait for a second admin (`second_admin_above`: those of more than that many minor
units), whether an expense or a refund may take operating money below zero
(`operating_may_go_negative`, default false), the largest single payment an admin or
an import may record (`max_payment`: anything above it is a typo or belongs
elsewhere) and how to pay. `fee_settled` and `standing` are
pure: given one member's payments (and waivers), they say whether the year is covered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from policies.eligibility import PolicyError
from policies.money import MAX_MINOR
from policies.tomlcheck import load_bundled, setting

FUND_SHORT_RULES = ("queue", "allow-negative-with-second-admin")
STANDINGS = ("paid", "waived", "grace", "lapsed")


def _latest_first(days: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(sorted(set(days), reverse=True))


@dataclass(frozen=True)
class FeePolicy:
    annual_fee: int = setting(2000, minimum=0)  # minor units of `currency`
    currency: str = "USD"
    grace_days: int = setting(30, minimum=0)
    waiver_needs_second_admin: bool = True
    when_fund_is_short: str = setting("queue", choices=FUND_SHORT_RULES)
    reserve_months: int = setting(6, minimum=0)
    # Refunds, expenses and transfers above this (minor units) need a second admin.
    second_admin_above: int = setting(10000, minimum=0)
    operating_may_go_negative: bool = False
    # The largest single payment recorded (minor units); above it the form and the CSV
    # import refuse the amount with a clear message.
    max_payment: int = setting(100_000, minimum=0)
    how_to_pay: str = ""
    donation_url: str = ""
    # Days before the year runs out when a renewal reminder is posted (each once a year).
    remind_days_before: tuple[int, ...] = setting(
        (30, 7), minimum=1, wanted="a list of whole days (e.g. [30, 7])", convert=_latest_first
    )


def load_fees(overrides: Mapping[str, Any] | None = None) -> FeePolicy:
    policy = load_bundled(FeePolicy, "fees.toml", overrides, noun="fee", error=PolicyError)
    if not policy.annual_fee <= policy.max_payment <= MAX_MINOR:
        raise PolicyError(
            "fee key 'max_payment' must be at least the annual fee and fit the store "
            f"(at most {MAX_MINOR}), not {policy.max_payment!r}"
        )
    return policy


def fee_settled(policy: FeePolicy, payments: Iterable[tuple[int, str, date]], today: date) -> bool:
    """True when the payments `(amount, currency, paid_on)` of the last year reach the fee."""
    since = today - timedelta(days=365)
    paid = sum(
        amount
        for amount, currency, paid_on in payments
        if currency == policy.currency and since < paid_on <= today
    )
    return paid >= policy.annual_fee


def standing(
    policy: FeePolicy,
    payments: Iterable[tuple[int, str, date]],
    waived_on: Iterable[date],
    today: date,
) -> str:
    """`paid`, `waived`, `grace` (the year ran out less than `grace_days` ago) or `lapsed`.

    A waiver covers the year from the day it was granted, as a payment does.
    """
    payments = list(payments)
    if fee_settled(policy, payments, today):
        return "paid"
    if any(today - timedelta(days=365) < day <= today for day in waived_on):
        return "waived"
    earlier = today - timedelta(days=policy.grace_days)
    if fee_settled(policy, payments, earlier) or any(
        earlier - timedelta(days=365) < day <= earlier for day in waived_on
    ):
        return "grace"
    return "lapsed"
