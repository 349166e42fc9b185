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

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, timedelta
from importlib import resources
from typing import Any

from policies.eligibility import PolicyError
from policies.money import MAX_MINOR


@dataclass(frozen=True)
class FeePolicy:
    annual_fee: int = 2000  # minor units of `currency`
    currency: str = "USD"
    grace_days: int = 30
    waiver_needs_second_admin: bool = True
    when_fund_is_short: str = "queue"  # queue | allow-negative-with-second-admin
    reserve_months: int = 6
    # Refunds, expenses and transfers above this (minor units) need a second admin.
    second_admin_above: int = 10000
    operating_may_go_negative: bool = False
    # The largest single payment recorded (minor units); above it the form and the CSV
    # import refuse the amount with a clear message.
    max_payment: int = 100_000
    how_to_pay: str = ""
    # Days before the year runs out when a renewal reminder is posted (each once a year).
    remind_days_before: tuple[int, ...] = (30, 7)


FUND_SHORT_RULES = ("queue", "allow-negative-with-second-admin")
STANDINGS = ("paid", "waived", "grace", "lapsed")


def load_fees(overrides: dict[str, Any] | None = None) -> FeePolicy:
    text = resources.files(__package__).joinpath("fees.toml").read_text("utf-8")
    values = tomllib.loads(text)
    values.update(overrides or {})
    known = [f.name for f in fields(FeePolicy)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise PolicyError(f"unknown fee key {unknown[0]!r}; known keys: {', '.join(known)}")
    for key in ("annual_fee", "grace_days", "reserve_months", "second_admin_above", "max_payment"):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PolicyError(f"fee key {key!r} must be a whole number, not {value!r}")
    if not values["annual_fee"] <= values["max_payment"] <= MAX_MINOR:
        raise PolicyError(
            "fee key 'max_payment' must be at least the annual fee and fit the store "
            f"(at most {MAX_MINOR}), not {values['max_payment']!r}"
        )
    for key in ("waiver_needs_second_admin", "operating_may_go_negative"):
        if not isinstance(values[key], bool):
            raise PolicyError(f"fee key {key!r} must be true or false")
    if values["when_fund_is_short"] not in FUND_SHORT_RULES:
        raise PolicyError(
            f"fee key 'when_fund_is_short' must be one of {', '.join(FUND_SHORT_RULES)}, "
            f"not {values['when_fund_is_short']!r}"
        )
    reminders = values.get("remind_days_before", FeePolicy.remind_days_before)
    if not isinstance(reminders, list | tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in reminders
    ):
        raise PolicyError(
            f"fee key 'remind_days_before' must be a list of whole days (e.g. [30, 7]), "
            f"not {reminders!r}"
        )
    values["remind_days_before"] = tuple(sorted(set(reminders), reverse=True))
    return FeePolicy(**values)


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
