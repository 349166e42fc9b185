"""Migrations of the money side: the append-only fee ledger and the waiver queue (0005),
the admins' fund actions (0013), and one payment per reference and one open waiver
per member (0014, which settles what older stores already hold and reports it).

Each function is one named step of `schema.STEPS` and stays as it was first written.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlite_utils import Database

from membership.records import payment_key
from policies.times import iso


def ledger(db: Database) -> None:
    # The fee ledger (membership/ledger.py): append-only like the audit log. A payment
    # recorded in `payments` (by the bridge or an import) is mirrored here by a trigger,
    # so the ledger never misses one; a waiver's reason never comes here.
    db.table("ledger").create(
        {
            "id": int,
            "kind": str,  # payment | refund | expense | transfer | waiver
            "amount": int,  # minor units, > 0
            "currency": str,
            "on_date": str,
            "member": str,
            "method": str,
            "reference": str,
            "note": str,
            "refund_of": int,
            "waiver_id": int,
            "payment_id": int,
            "recorded_by": str,
            "recorded_at": str,
        },
        pk="id",
        not_null={"kind", "amount", "currency", "on_date", "recorded_at"},
    )
    db.table("ledger").create_index(["kind", "reference"])
    db.table("ledger").create_index(["member"])
    db.executescript(
        """
        CREATE UNIQUE INDEX ledger_payment ON ledger (payment_id) WHERE payment_id IS NOT NULL;
        CREATE UNIQUE INDEX ledger_waiver ON ledger (waiver_id) WHERE kind = 'waiver';
        CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
        CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
        CREATE TRIGGER ledger_amount_whole BEFORE INSERT ON ledger
        WHEN typeof(NEW.amount) != 'integer' OR NEW.amount <= 0
        BEGIN SELECT RAISE(ABORT, 'ledger amounts are positive whole minor units'); END;
        CREATE TRIGGER payments_to_ledger AFTER INSERT ON payments
        BEGIN
          INSERT INTO ledger (kind, amount, currency, on_date, member, method, reference,
                              note, payment_id, recorded_by, recorded_at)
          VALUES ('payment', NEW.amount, NEW.currency, NEW.paid_on, NEW.username,
                  coalesce(NEW.method, ''), coalesce(NEW.reference, ''), '', NEW.id,
                  NEW.recorded_by, NEW.recorded_at);
        END;
        INSERT INTO ledger (kind, amount, currency, on_date, member, method, reference,
                            note, payment_id, recorded_by, recorded_at)
        SELECT 'payment', amount, currency, paid_on, username, coalesce(method, ''),
               coalesce(reference, ''), '', id, recorded_by, recorded_at
        FROM payments WHERE amount > 0 ORDER BY id;
        """
    )
    # Waivers granted while the fund could not pay them (`when_fund_is_short = "queue"`),
    # paid in order as surplus comes in.
    db.table("waiver_queue").create(
        {
            "waiver_id": int,
            "amount": int,
            "currency": str,
            "operation": str,  # decide | confirm: the step that will grant it
            "queued_by": str,
            "queued_at": str,
            "released_at": str,
        },
        pk="waiver_id",
        not_null={"amount", "currency", "operation", "queued_by", "queued_at"},
    )


def fund_actions(db: Database) -> None:
    # The admins' refunds, expenses and transfers into the fund (membership/outflows.py):
    # one row per submitted form (`form_id` is unique, so a form sent twice records
    # once), `proposed` until a second admin confirms one above the policy's threshold,
    # then `done` with the ledger entry it made, or `withdrawn`.
    db.table("fund_actions").create(
        {
            "id": int,
            "form_id": str,
            "kind": str,  # refund | expense | transfer
            "amount": int,
            "currency": str,
            "on_date": str,
            "note": str,
            "member": str,
            "refund_of": int,
            "proposed_by": str,
            "proposed_at": str,
            "status": str,  # proposed | done | withdrawn
            "decided_by": str,
            "decided_at": str,
            "ledger_id": int,
        },
        pk="id",
        not_null={"form_id", "kind", "amount", "currency", "on_date", "proposed_by", "status"},
    )
    db.table("fund_actions").create_index(["form_id"], unique=True)
    db.table("fund_actions").create_index(["status"])


def fee_obligations(db: Database) -> None:
    # One payment per reference and method (membership/obligations.py): the keys are the
    # normalised method and reference, so "TXN-1 " and "txn-1" are one payment. A store
    # that already holds duplicates keeps the earliest as the reference's payment; the
    # later ones keep their money and their ledger entries (an admin decides whether to
    # refund them) but lose the key, and each is reported in the audit log.
    db.table("payments").add_column("method_key", str)
    db.table("payments").add_column("reference_key", str)
    seen: dict[tuple[str, str], int] = {}
    rows = db.execute("SELECT id, username, amount, method, reference FROM payments ORDER BY id")
    for payment_id, username, amount, method, reference in rows.fetchall():
        key = (payment_key(method), payment_key(reference))
        if not key[1]:
            continue
        if key in seen:
            _migration_audit(
                db,
                "payment-duplicate-reference",
                subject=username,
                payment_id=payment_id,
                duplicate_of=seen[key],
                amount=amount,
            )
            continue
        seen[key] = payment_id
        db.execute(
            "UPDATE payments SET method_key = ?, reference_key = ? WHERE id = ?",
            [key[0], key[1], payment_id],
        )
    db.execute(
        "CREATE UNIQUE INDEX payments_reference ON payments (method_key, reference_key) "
        "WHERE reference_key IS NOT NULL"
    )
    # At most one open waiver request per member (`requested`, which includes a grant
    # waiting for a second admin or for the fund). Older stores' extra open requests are
    # withdrawn, the earliest kept; nothing was paid for them.
    first: dict[str, int] = {}
    rows = db.execute("SELECT id, username FROM waivers WHERE status = 'requested' ORDER BY id")
    for waiver_id, username in rows.fetchall():
        if username not in first:
            first[username] = waiver_id
            continue
        db.execute(
            "UPDATE waivers SET status = 'withdrawn', decided_by = ?, decided_at = ? WHERE id = ?",
            [MIGRATION_ACTOR, iso(), waiver_id],
        )
        db.execute(
            "UPDATE waiver_queue SET released_at = ? WHERE waiver_id = ? AND released_at IS NULL",
            [iso(), waiver_id],
        )
        _migration_audit(
            db,
            "waiver-withdrawn-duplicate",
            subject=username,
            waiver_id=waiver_id,
            kept=first[username],
        )
    db.execute("CREATE UNIQUE INDEX waivers_open ON waivers (username) WHERE status = 'requested'")
    # Waivers the fund paid twice within one year for a member cannot be undone here (the
    # ledger is append-only): each later one is reported for the admins to settle.
    last: dict[str, tuple[int, date]] = {}
    rows = db.execute(
        "SELECT member, waiver_id, on_date FROM ledger WHERE kind = 'waiver' ORDER BY id"
    )
    for member, waiver_id, on_date in rows.fetchall():
        day = date.fromisoformat(on_date)
        earlier = last.get(member)
        if earlier is not None and (day - earlier[1]).days < 365:
            _migration_audit(
                db,
                "waiver-paid-twice-in-a-year",
                subject=member,
                waiver_id=waiver_id,
                earlier_waiver_id=earlier[0],
            )
            continue
        last[member] = (waiver_id, day)


MIGRATION_ACTOR = "store-migration"


def _migration_audit(db: Database, action: str, **evidence: Any) -> None:
    db.execute(
        "INSERT INTO audit (at, actor, request_id, action, evidence) VALUES (?, ?, NULL, ?, ?)",
        [iso(), MIGRATION_ACTOR, action, json.dumps(evidence, sort_keys=True)],
    )
