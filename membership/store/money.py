"""The money room: payments, the append-only fee ledger, and the admins' fund actions.

A payment is recorded once per normalised method and reference (a unique index, so
two writers racing cannot both record it) and mirrored into the ledger by a trigger;
refunds, expenses, transfers and waivers are checked against the ledger before they
are appended (membership/ledger.py). A fund action is one submitted form (a refund,
expense or transfer) from proposal to its ledger entry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import date
from typing import Any

from membership.ledger import LedgerEntry, LedgerError, check_entry
from membership.records import DuplicatePaymentError, FundAction, PaymentRecord, payment_key
from membership.store.connection import Query, StoreConnection, each
from policies.times import iso

# Ledger columns that are text in `LedgerEntry` (NULL in old rows reads as "").
_TEXT = frozenset({"member", "method", "reference", "note", "recorded_by", "recorded_at"})


class MoneyRoom(StoreConnection):
    # -- payments ------------------------------------------------------------------

    def record_payment(
        self,
        username: str,
        *,
        amount: int,
        currency: str,
        paid_on: str,
        method: str,
        reference: str,
        recorded_by: str,
    ) -> PaymentRecord:
        """Record a payment; `amount` in minor units, `paid_on` an ISO date.

        Raises `DuplicatePaymentError` when the reference (normalised) is already
        recorded for the same method: the unique index decides, so two writers racing
        cannot both record it."""
        reference = reference.strip()
        key = payment_key(reference) or None
        try:
            with self.transaction():
                row_id = self._insert(
                    "payments",
                    {
                        "username": username,
                        "amount": int(amount),
                        "currency": currency,
                        "paid_on": paid_on,
                        "method": method,
                        "reference": reference,
                        "recorded_by": recorded_by,
                        "recorded_at": iso(),
                        "method_key": payment_key(method) if key else None,
                        "reference_key": key,
                    },
                )
        except sqlite3.IntegrityError:
            existing = self.payment_by_reference(reference, method)
            if existing is None:
                raise
            raise DuplicatePaymentError(existing) from None
        row = self._first("payments", "id = ?", [row_id])
        assert row is not None
        return PaymentRecord(**row)

    def payments(self, username: str | None = None) -> list[PaymentRecord]:
        return self.answer(self.payments_query(username))

    def payments_query(self, username: str | None = None) -> Query[list[PaymentRecord]]:
        """`payments`, as a query to read with others (`read`)."""
        return self._later_matching(
            "payments", each(lambda row: PaymentRecord(**row)), username=username
        )

    def payment_by_reference(self, reference: str, method: str = "") -> PaymentRecord | None:
        """The payment holding this reference for this method, both compared normalised."""
        row = self._first(
            "payments",
            "method_key = ? AND reference_key = ?",
            [payment_key(method), payment_key(reference)],
        )
        return PaymentRecord(**row) if row else None

    # -- the fee ledger (0005) -----------------------------------------------------

    def add_ledger_entry(self, entry: LedgerEntry) -> LedgerEntry:
        """Append `entry` after checking it against the ledger (`ledger.check_entry`).

        A payment is recorded with `record_payment`, which the ledger mirrors; this
        takes refunds, expenses, transfers and waivers.
        """
        if entry.kind == "payment":
            raise LedgerError("record a payment with record_payment; the ledger mirrors it")
        with self.transaction():
            check_entry(self.ledger_entries(), entry)
            row_id = self._insert(
                "ledger",
                {
                    "kind": entry.kind,
                    "amount": entry.amount,
                    "currency": entry.currency,
                    "on_date": entry.on.isoformat(),
                    "member": entry.member,
                    "method": entry.method,
                    "reference": entry.reference,
                    "note": entry.note,
                    "refund_of": entry.refund_of,
                    "waiver_id": entry.waiver_id,
                    "payment_id": None,
                    "recorded_by": entry.recorded_by,
                    "recorded_at": entry.recorded_at or iso(),
                },
            )
        return self.ledger_entries(entry_id=row_id)[0]

    def ledger_entries(
        self, *, kind: str | None = None, member: str | None = None, entry_id: int | None = None
    ) -> list[LedgerEntry]:
        return self.answer(self.ledger_entries_query(kind=kind, member=member, entry_id=entry_id))

    def ledger_entries_query(
        self, *, kind: str | None = None, member: str | None = None, entry_id: int | None = None
    ) -> Query[list[LedgerEntry]]:
        """`ledger_entries`, as a query to read with others (`read`)."""
        return self._later_matching(
            "ledger", each(_ledger_entry), kind=kind, member=member, id=entry_id
        )

    def ledger_entries_of(self, members: Iterable[str]) -> list[LedgerEntry]:
        """The entries whose `member` is one of `members`, in the ledger's order."""
        return [_ledger_entry(row) for row in self._rows_among("ledger", "member", members)]

        # -- the admins' refunds, expenses and transfers (0013) ------------------------

    def add_fund_action(
        self,
        form_id: str,
        *,
        kind: str,
        amount: int,
        currency: str,
        on_date: str,
        proposed_by: str,
        note: str = "",
        member: str = "",
        refund_of: int | None = None,
    ) -> tuple[FundAction, bool]:
        """Record a submitted form; `(the action, False)` if `form_id` was seen before."""
        added = self._changed(
            "INSERT OR IGNORE INTO fund_actions (form_id, kind, amount, currency, on_date, "
            "note, member, refund_of, proposed_by, proposed_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'proposed')",
            [form_id, kind, int(amount), currency, on_date, note, member, refund_of]
            + [proposed_by, iso()],
        )
        row = self._first("fund_actions", "form_id = ?", [form_id])
        assert row is not None
        return FundAction(**row), added == 1

    def fund_action(self, action_id: int) -> FundAction | None:
        row = self._first("fund_actions", "id = ?", [action_id])
        return FundAction(**row) if row else None

    def fund_actions(self, status: str | None = None, limit: int | None = 50) -> list[FundAction]:
        """The latest actions first (`limit` of them; every one when None)."""
        rows = self._matching("fund_actions", order_by="id DESC", limit=limit, status=status)
        return [FundAction(**row) for row in rows]

    def fund_actions_counted(self, status: str) -> int:
        """How many actions are in `status`, however many there are."""
        (count,) = self.db.conn.execute(
            "SELECT count(*) FROM fund_actions WHERE status = ?", [status]
        ).fetchone()
        return int(count)

    def close_fund_action(
        self, action_id: int, admin: str, *, status: str, ledger_id: int | None = None
    ) -> bool:
        """Mark a proposed action done or withdrawn; False if it was no longer proposed."""
        changed = self._changed(
            "UPDATE fund_actions SET status = ?, decided_by = ?, decided_at = ?, ledger_id = ? "
            "WHERE id = ? AND status = 'proposed'",
            [status, admin, iso(), ledger_id, action_id],
        )
        return changed == 1


def _ledger_entry(row: dict[str, Any]) -> LedgerEntry:
    row["on"] = date.fromisoformat(row.pop("on_date"))
    values: dict[str, Any] = {k: "" if v is None and k in _TEXT else v for k, v in row.items()}
    return LedgerEntry(**values)
