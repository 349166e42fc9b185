"""The membership fee and waiver rules as data (bundled `fees.toml`), and what counts as paid.

`FeePolicy` holds the yearly amount in minor units, the currency, the grace period,
whether a waiver needs a second admin's confirmation (`waiver_needs_second_admin`,
default true: one admin alone cannot spend the fund) and how to pay. `fee_settled`
is pure: given the payments of one member, it says whether they cover the current
year.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, timedelta
from importlib import resources
from typing import Any

from policies.eligibility import PolicyError


@dataclass(frozen=True)
class FeePolicy:
    annual_fee: int = 2000  # minor units of `currency`
    currency: str = "USD"
    grace_days: int = 30
    waiver_needs_second_admin: bool = True
    how_to_pay: str = ""


def load_fees(overrides: dict[str, Any] | None = None) -> FeePolicy:
    text = resources.files(__package__).joinpath("fees.toml").read_text("utf-8")
    values = tomllib.loads(text)
    values.update(overrides or {})
    known = [f.name for f in fields(FeePolicy)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise PolicyError(f"unknown fee key {unknown[0]!r}; known keys: {', '.join(known)}")
    for key in ("annual_fee", "grace_days"):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise PolicyError(f"fee key {key!r} must be a whole number, not {value!r}")
    if not isinstance(values["waiver_needs_second_admin"], bool):
        raise PolicyError("fee key 'waiver_needs_second_admin' must be true or false")
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
