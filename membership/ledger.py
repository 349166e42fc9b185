"""The fee ledger: what money came in, went out, and moved into or out of the waiver fund.

Pure. A `LedgerEntry` is one fact, in whole minor units of one currency (never a
float): a member's `payment`, a `refund` of a payment (never more than what is left of
it), an operating `expense`, a `transfer` of surplus from operations into the waiver
fund, or a `waiver` that the fund pays (the fund covers that member's fee, so the money
moves from the fund to operations; the reason stays in the waivers table and never
reaches the ledger). Each entry becomes postings between three accounts, `outside`,
`operating` and `fund`, whose sum is always zero, so no entry can create or lose money:
`balance` (operating + fund) is what came in minus what went out, and `fund_balance` is
the sum of the fund's history. `check_entry` says whether a new entry may follow the
existing ones; the store keeps the entries append-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from policies.errors import Refusal

KINDS = ("payment", "refund", "expense", "transfer", "waiver")
ACCOUNTS = ("outside", "operating", "fund")

# kind → (from account, to account)
_FLOWS = {
    "payment": ("outside", "operating"),
    "refund": ("operating", "outside"),
    "expense": ("operating", "outside"),
    "transfer": ("operating", "fund"),
    "waiver": ("fund", "operating"),
}


class LedgerError(Refusal, ValueError):
    """An entry the ledger refuses; the message says why and what to do."""


@dataclass(frozen=True)
class LedgerEntry:
    kind: str
    amount: int  # minor units, > 0; the kind says which way it flows
    currency: str
    on: date  # the day the money moved
    member: str = ""  # payment, refund, waiver: the wiki username
    method: str = ""  # payment: card, bank transfer, …
    reference: str = ""  # payment: the processor's transaction id
    note: str = ""  # expense: what it paid for (public); never a waiver's reason
    refund_of: int | None = None  # refund: the ledger id of the payment
    waiver_id: int | None = None  # waiver: the waivers row (where the reason stays)
    payment_id: int | None = None  # payment: the payments row it mirrors
    recorded_by: str = ""
    recorded_at: str = ""
    id: int | None = None  # set by the store

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise LedgerError(f"unknown entry kind {self.kind!r}; one of {', '.join(KINDS)}")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise LedgerError(
                f"amounts are whole minor units (an int), not {type(self.amount).__name__} "
                f"{self.amount!r}"
            )
        if self.amount <= 0:
            raise LedgerError(f"a {self.kind} must be more than zero, not {self.amount}")
        if not isinstance(self.on, date):
            raise LedgerError(f"the date of an entry is a date, not {self.on!r}")
        if self.kind in ("payment", "refund", "waiver") and not self.member:
            raise LedgerError(f"a {self.kind} names the member it is for")
        if self.kind == "refund" and self.refund_of is None:
            raise LedgerError("a refund names the payment it gives back")
        if self.kind == "waiver" and self.waiver_id is None:
            raise LedgerError("a waiver entry names the waiver it pays")
        if self.kind == "expense" and not self.note.strip():
            raise LedgerError("say what the expense paid for")

    def postings(self) -> tuple[tuple[str, int], tuple[str, int]]:
        """The two sides of the entry: (account, change), summing to zero."""
        source, target = _FLOWS[self.kind]
        return ((source, -self.amount), (target, self.amount))

    def public(self) -> dict[str, object]:
        """What may be shown outside the admins: no member, reference or waiver link."""
        values = asdict(self)
        for private in ("member", "reference", "method", "waiver_id", "payment_id", "refund_of"):
            values.pop(private)
        values["on"] = self.on.isoformat()
        return values


def accounts(entries: Iterable[LedgerEntry]) -> dict[str, int]:
    """Every account's balance; `outside` is minus what the chapter holds."""
    totals = dict.fromkeys(ACCOUNTS, 0)
    currency = None
    for entry in entries:
        if currency is None:
            currency = entry.currency
        elif entry.currency != currency:
            raise LedgerError(
                f"the ledger keeps one currency ({currency}); convert the "
                f"{entry.currency} {entry.kind} first"
            )
        for account, change in entry.postings():
            totals[account] += change
    return totals


def balance(entries: Iterable[LedgerEntry]) -> int:
    """All the chapter holds: operating money plus the waiver fund."""
    totals = accounts(entries)
    return totals["operating"] + totals["fund"]


def operating_balance(entries: Iterable[LedgerEntry]) -> int:
    return accounts(entries)["operating"]


def fund_balance(entries: Iterable[LedgerEntry]) -> int:
    """Surplus moved in minus waivers paid out: the sum of the fund's history."""
    return accounts(entries)["fund"]


def refunded(entries: Iterable[LedgerEntry], payment_id: int) -> int:
    return sum(e.amount for e in entries if e.kind == "refund" and e.refund_of == payment_id)


def refundable(entries: Sequence[LedgerEntry], payment_id: int) -> int:
    """What is left of a payment to give back."""
    payment = next((e for e in entries if e.id == payment_id), None)
    if payment is None or payment.kind != "payment":
        raise LedgerError(f"entry {payment_id} is not a payment in the ledger")
    return payment.amount - refunded(entries, payment_id)


def check_entry(entries: Sequence[LedgerEntry], entry: LedgerEntry) -> None:
    """Raise `LedgerError` if `entry` may not follow `entries`."""
    if entries and entries[0].currency != entry.currency:
        raise LedgerError(
            f"the ledger keeps one currency ({entries[0].currency}); convert the "
            f"{entry.currency} amount first"
        )
    if entry.kind == "refund":
        assert entry.refund_of is not None
        left = refundable(entries, entry.refund_of)
        payment = next(e for e in entries if e.id == entry.refund_of)
        if payment.member != entry.member:
            raise LedgerError(f"payment {entry.refund_of} was made by {payment.member}")
        if entry.amount > left:
            raise LedgerError(
                f"only {left} of payment {entry.refund_of} is left to refund, not {entry.amount}"
            )
    if entry.kind == "waiver" and any(
        e.kind == "waiver" and e.waiver_id == entry.waiver_id for e in entries
    ):
        raise LedgerError(f"waiver {entry.waiver_id} is already paid by the fund")


def net_payments(entries: Iterable[LedgerEntry], member: str) -> list[tuple[int, str, date]]:
    """`member`'s payments less their refunds, as `(amount, currency, paid_on)`."""
    entries = list(entries)
    return [
        (e.amount - refunded(entries, e.id), e.currency, e.on)
        for e in entries
        if e.kind == "payment" and e.member == member and e.id is not None
    ]


def monthly_cost(entries: Iterable[LedgerEntry], today: date) -> int:
    """The operating expenses of the last 365 days, per month (rounded up)."""
    spent = sum(
        e.amount
        for e in entries
        if e.kind == "expense" and today - timedelta(days=365) < e.on <= today
    )
    return -(-spent // 12)


def runway_months(entries: Iterable[LedgerEntry], monthly_cost: int) -> int | None:
    """Whole months the operating money lasts at `monthly_cost`; None when nothing is spent."""
    if isinstance(monthly_cost, bool) or not isinstance(monthly_cost, int):
        raise LedgerError(f"the monthly cost is whole minor units, not {monthly_cost!r}")
    if monthly_cost <= 0:
        return None
    return max(0, operating_balance(entries)) // monthly_cost


def surplus(entries: Iterable[LedgerEntry], monthly_cost: int, reserve_months: int) -> int:
    """Operating money beyond the reserve: what may move into the waiver fund."""
    return max(0, operating_balance(entries) - monthly_cost * reserve_months)
