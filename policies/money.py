"""Money as whole minor units: parsing, formatting and each currency's decimals, pure.

Every amount in the project is an `int` of minor units (cents for USD): sums and
comparisons are exact, and a float never enters. `to_minor` parses what a person or
a payment processor wrote ("20", "20.00", "1,234.50" is refused) with `Decimal` and
refuses more decimals than the currency has, and amounts the store cannot hold
(`MAX_MINOR`: SQLite's integers are 64-bit); `format_minor` writes an amount back.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from policies.errors import Refusal
from policies.words import Words

# ISO 4217 minor units of the currencies a chapter is likely to see; others are refused
# until added here, because guessing the decimals would misread an amount.
DECIMALS = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "INR": 2,
    "BRL": 2,
    "MXN": 2,
    "JPY": 0,
    "KRW": 0,
}

# The largest amount the store can hold: SQLite keeps integers in 64 bits.
MAX_MINOR = 2**63 - 1


class MoneyError(Refusal, ValueError):
    """An amount or currency that cannot be read exactly; the message (`Words`) says why."""


def decimals(currency: str) -> int:
    try:
        return DECIMALS[currency]
    except KeyError:
        known = ", ".join(sorted(DECIMALS))
        raise MoneyError(
            Words(
                f"unknown currency {currency!r}; known: {known}",
                "ats-bridge-money-unknown-currency",
                currency=repr(currency),
                known=known,
            )
        ) from None


def to_minor(text: str, currency: str) -> int:
    """`"20.50"` in USD → 2050; refuses signs other than a leading minus, exponents,
    thousands separators and more decimals than `currency` has."""
    places = decimals(currency)
    raw = text.strip()
    not_amount = Words(
        f"{text!r} is not an amount like 20.00", "ats-bridge-money-not-amount", text=repr(text)
    )
    if not raw or any(c not in "0123456789.-" for c in raw) or raw.count(".") > 1:
        raise MoneyError(not_amount)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise MoneyError(not_amount) from None
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: the characters above allow no NaN
    if -exponent > places:
        raise MoneyError(
            Words(
                f"{text!r} has more decimals than {currency} has ({places})",
                "ats-bridge-money-decimals",
                text=repr(text),
                currency=currency,
                places=places,
            )
            if places
            else Words(
                f"{text!r}: {currency} has no decimals",
                "ats-bridge-money-no-decimals",
                text=repr(text),
                currency=currency,
            )
        )
    minor = int(value.scaleb(places))
    if abs(minor) > MAX_MINOR:
        raise MoneyError(
            Words(
                f"{text!r} is too large to be an amount in {currency}",
                "ats-bridge-money-too-large",
                text=repr(text),
                currency=currency,
            )
        )
    return minor


def format_minor(amount: int, currency: str) -> str:
    """2050 in USD → "20.50"; -5 → "-0.05"."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise MoneyError(f"amounts are whole minor units, not {amount!r}")
    places = decimals(currency)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**places)
    return f"{sign}{whole}.{part:0{places}d}" if places else f"{sign}{whole}"
