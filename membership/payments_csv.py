"""Importing a payment processor's export: one CSV format, idempotent, every row accounted for.

The format (also in docs/payments-csv.md): UTF-8, comma-separated, a header line naming
these six columns in any order (other columns are ignored), one payment per line:

    date,reference,payer_wiki_username,amount,currency,method
    2025-03-01,TXN-1001,Example User,20.00,USD,card

- `date`: the day it was paid, `YYYY-MM-DD`, not in the future;
- `reference`: the processor's transaction id, unique per payment and method (case
  and surrounding spaces do not count); a reference already in the store for that
  method, from an import or the admin form, is skipped, so importing the same file
  twice changes nothing;
- `payer_wiki_username`: the wiki account the fee is for; it must be the subject of a
  request in the store, or the row is reported as unmatched and not imported;
- `amount`: a plain decimal in the currency's unit (`20`, `20.00`), more than zero and
  at most `max_payment` of the fee policy, with no more decimals than the currency
  has, no sign or thousands separator;
- `currency`: the ISO code of the fee's currency (`policies/fees.toml`); the ledger
  keeps one currency, so a payment in another is reported for an admin to convert;
- `method`: free text (card, bank transfer, …), may be empty.

`parse_rows` is pure and reports every malformed row with its line number and why;
`import_payments` records the good rows in one transaction (the ledger mirrors each)
through `membership.obligations`, which also withdraws waiver requests the payments
make moot.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from membership import obligations
from membership.records import DuplicatePaymentError, payment_key
from membership.store import Store
from policies.fees import FeePolicy, load_fees
from policies.money import MoneyError, format_minor, to_minor
from policies.usernames import canonical_username

COLUMNS = ("date", "reference", "payer_wiki_username", "amount", "currency", "method")


@dataclass(frozen=True)
class PaymentRow:
    line: int
    paid_on: date
    reference: str
    username: str
    amount: int  # minor units
    currency: str
    method: str


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str


@dataclass
class ImportReport:
    imported: list[PaymentRow] = field(default_factory=list)
    already: list[PaymentRow] = field(default_factory=list)  # reference already recorded
    unmatched: list[PaymentRow] = field(default_factory=list)  # no request for that user
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unmatched and not self.problems

    @property
    def members(self) -> list[str]:
        """The members whose fee gate may have moved."""
        return sorted({row.username for row in self.imported})

    def summary(self) -> str:
        lines = [
            f"{len(self.imported)} imported, {len(self.already)} already recorded, "
            f"{len(self.unmatched)} unmatched, {len(self.problems)} malformed"
        ]
        for row in self.unmatched:
            lines.append(
                f"line {row.line}: no request for {row.username!r} "
                f"(reference {row.reference}, {format_minor(row.amount, row.currency)} "
                f"{row.currency}); not imported"
            )
        for problem in self.problems:
            lines.append(f"line {problem.line}: {problem.reason}")
        return "\n".join(lines)


def read_text(path_or_text: str | Path) -> str:
    """A `Path`, or a string without a line break, is a file name; anything else is the CSV."""
    if isinstance(path_or_text, Path) or "\n" not in path_or_text:
        return Path(path_or_text).read_text("utf-8-sig")
    return path_or_text


def parse_rows(
    text: str, currency: str, today: date, max_amount: int | None = None
) -> tuple[list[PaymentRow], list[Problem]]:
    """The well-formed rows and the problems, each with its line number."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return [], [Problem(1, "the file is empty; expected the header " + ",".join(COLUMNS))]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        return [], [
            Problem(1, f"the header lacks {', '.join(missing)}; expected " + ",".join(COLUMNS))
        ]
    where = {c: header.index(c) for c in COLUMNS}
    rows: list[PaymentRow] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    line = reader.line_num
    for cells in reader:
        start, line = line + 1, reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) < len(header):
            problems.append(Problem(start, f"{len(cells)} columns, the header has {len(header)}"))
            continue
        value = {c: cells[i].strip() for c, i in where.items()}
        try:
            row = _row(start, value, currency, today, max_amount)
        except ValueError as error:
            problems.append(Problem(start, str(error)))
            continue
        key = (payment_key(row.method), payment_key(row.reference))
        if key in seen:
            first = seen[key]
            problems.append(Problem(start, f"reference {row.reference} is also on line {first}"))
            continue
        seen[key] = start
        rows.append(row)
    return rows, problems


def import_payments(
    store: Store,
    path_or_text: str | Path,
    recorded_by: str,
    *,
    policy: FeePolicy | None = None,
    today: date | None = None,
) -> ImportReport:
    policy = policy or load_fees()
    today = today or date.today()
    rows, problems = parse_rows(read_text(path_or_text), policy.currency, today, policy.max_payment)
    report = ImportReport(problems=problems)
    with store.transaction():
        subjects = {canonical_username(r.subject or "") for r in store.requests()}
        for row in rows:
            known = store.payment_by_reference(row.reference, row.method)
            if known is not None:
                if (known.username, known.amount) != (row.username, row.amount):
                    report.problems.append(
                        Problem(
                            row.line,
                            f"reference {row.reference} is already recorded for "
                            f"{known.username} ({format_minor(known.amount, known.currency)}), "
                            "with different details; not imported",
                        )
                    )
                else:
                    report.already.append(row)
                continue
            if row.username not in subjects:
                report.unmatched.append(row)
                continue
            try:
                payment = obligations.record_payment(
                    store,
                    policy,
                    row.username,
                    amount=row.amount,
                    currency=row.currency,
                    paid_on=row.paid_on,
                    method=row.method,
                    reference=row.reference,
                    recorded_by=recorded_by,
                    today=today,
                )
            except (obligations.ObligationError, DuplicatePaymentError) as error:
                report.problems.append(Problem(row.line, f"{error}; not imported"))
                continue
            store.audit(
                recorded_by,
                "payment-imported",
                subject=row.username,
                payment_id=payment.id,
                line=row.line,
            )
            report.imported.append(row)
    return report


def _row(
    line: int, value: dict[str, str], currency: str, today: date, max_amount: int | None
) -> PaymentRow:
    try:
        paid_on = date.fromisoformat(value["date"])
    except ValueError:
        raise ValueError(f"date {value['date']!r} is not YYYY-MM-DD") from None
    if paid_on > today:
        raise ValueError(f"date {paid_on} is in the future")
    if not value["reference"]:
        raise ValueError("no reference; it is what makes a second import skip the row")
    username = canonical_username(value["payer_wiki_username"])
    if not username:
        raise ValueError("no payer_wiki_username")
    code = value["currency"].upper()
    if code != currency:
        raise ValueError(
            f"currency {value['currency']!r}: the ledger is kept in {currency}; record "
            "the converted amount by hand"
        )
    try:
        amount = to_minor(value["amount"], code)
    except MoneyError as error:
        raise ValueError(f"amount: {error}") from None
    if amount <= 0:
        raise ValueError(f"amount {value['amount']!r} must be more than zero")
    if max_amount is not None and amount > max_amount:
        raise ValueError(
            f"amount {value['amount']!r} is more than the largest payment recorded here "
            f"({format_minor(max_amount, code)}, max_payment in policies/fees.toml)"
        )
    return PaymentRow(
        line, paid_on, value["reference"], username, amount, code, value["method"][:100]
    )
