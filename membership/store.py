"""The store: the SQLite database that is the source of truth for every request.

The bot, the bridge and the provisioning worker open it from separate processes, so
it runs in WAL mode with a busy timeout, and every write goes through `transaction()`
(`BEGIN IMMEDIATE`, so two writers queue instead of failing). The schema is built by
named migrations (sqlite-utils' `Migrations`); the audit log and the fee ledger are
append-only, enforced by triggers, and every payment is mirrored into the ledger by a
trigger. Unique indexes keep money counted once (membership/obligations.py): one
payment per normalised method and reference, one open waiver request per member.
Replies pass through an outbox: recorded as pending before the page is
saved, marked posted with the revision id after, so a crash in between neither loses
nor duplicates one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from membership.ledger import LedgerEntry, LedgerError, check_entry
from membership.storefaults import StoreError, describe, newer_store

migrations = Migrations("ats")


@migrations(name="0001_requests_replies_audit")
def _initial(db: Database) -> None:
    db["pages"].create(
        {"page": str, "last_revid": int, "last_timestamp": str, "updated_at": str}, pk="page"
    )
    db["requests"].create(
        {
            "id": int,
            "page": str,
            "key": str,
            "heading": str,
            "requester": str,  # who added the section, from the page history
            "subject": str,  # the wiki account the request is for
            "on_behalf": int,
            "type": str,
            "fields": str,  # JSON of the template's fields
            "content_hash": str,
            "intro_revid": int,
            "intro_timestamp": str,
            "state": str,
            "detail": str,  # JSON: what the last evaluation found
            "lang": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"page", "key", "state", "created_at", "updated_at"},
    )
    db["requests"].create_index(["page", "key"], unique=True)
    db["requests"].create_index(["state"])
    db["replies"].create(
        {
            "id": int,
            "request_id": int,
            "state": str,
            "text": str,  # the reply line without the signature
            "status": str,  # pending | posted | superseded
            "created_at": str,
            "posted_revid": int,
            "posted_at": str,
        },
        pk="id",
        foreign_keys=[("request_id", "requests", "id")],
    )
    db["replies"].create_index(["request_id", "status"])
    db["audit"].create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "request_id": int,
            "action": str,
            "evidence": str,  # JSON
        },
        pk="id",
    )
    db["audit"].create_index(["request_id"])
    db.executescript(
        """
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
        """
    )
    db["users"].create({"name": str, "record": str, "fetched_at": str}, pk="name")


@migrations(name="0002_decisions_cursors_lifecycle")
def _decisions(db: Database) -> None:
    db["decisions"].create(
        {
            "id": int,
            "request_id": int,
            "kind": str,  # approve | decline | hold | withdraw | recheck
            "params": str,  # JSON
            "wikitext": str,  # the template as written
            "ordinal": int,  # n-th identical template in the section
            "revid": int,  # the revision that introduced it
            "actor": str,  # who saved that revision
            "honoured": int,
            "reason": str,  # why it was honoured or ignored
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("request_id", "requests", "id")],
    )
    db["decisions"].create_index(["request_id", "wikitext", "ordinal"], unique=True)
    db["cursors"].create({"name": str, "value": str, "updated_at": str}, pk="name")
    for column in (
        "progress_at",
        "approved_by",
        "override",
        "closed_at",
        "archived_at",
        "archive_page",
        "gates",
        "fields_hash",
    ):
        db["requests"].add_column(column, str)
    db["requests"].add_column("approval_revid", int)


@migrations(name="0003_gates")
def _gates(db: Database) -> None:
    # The bridge's facts. Identification keeps who attested, when and how, and has
    # no column for documents or ID numbers on purpose: the chapter never stores them.
    db["identities"].create(
        {
            "username": str,
            "central_id": str,
            "oauth_version": int,
            "verified_at": str,
        },
        pk="username",
        not_null={"central_id", "verified_at"},
    )
    db["identities"].create_index(["central_id"])
    db["terms_acceptances"].create(
        {"id": int, "username": str, "version": str, "accepted_at": str}, pk="id"
    )
    db["terms_acceptances"].create_index(["username", "version"], unique=True)
    db["ssh_keys"].create(
        {
            "id": int,
            "username": str,
            "type": str,
            "bits": int,
            "key": str,  # type and base64 blob, no comment
            "fingerprint": str,
            "comment": str,
            "added_at": str,
            "removed_at": str,
        },
        pk="id",
        not_null={"username", "type", "key", "fingerprint", "added_at"},
    )
    db["identifications"].create(
        {"id": int, "username": str, "attested_by": str, "attested_at": str, "method": str},
        pk="id",
        not_null={"username", "attested_by", "attested_at", "method"},
    )
    db["identifications"].create_index(["username"])
    db["payments"].create(
        {
            "id": int,
            "username": str,
            "amount": int,  # minor units (cents)
            "currency": str,
            "paid_on": str,
            "method": str,
            "reference": str,
            "recorded_by": str,
            "recorded_at": str,
        },
        pk="id",
        not_null={"username", "amount", "currency", "paid_on", "recorded_by", "recorded_at"},
    )
    db["payments"].create_index(["username"])
    db["waivers"].create(
        {
            "id": int,
            "username": str,
            "reason": str,  # private: shown to admins only, never logged or published
            "status": str,  # requested | granted | refused
            "requested_at": str,
            "decided_by": str,  # the admin who granted (first of two) or refused
            "decided_at": str,
            "confirmed_by": str,  # the second admin, when the policy asks for one
            "confirmed_at": str,
        },
        pk="id",
        not_null={"username", "status", "requested_at"},
    )
    db["waivers"].create_index(["username", "status"])
    db["sessions"].create(
        {"id": str, "data": str, "created_at": str, "expires_at": str},
        pk="id",
        not_null={"data", "expires_at"},
    )
    db["login_attempts"].create({"id": int, "client": str, "at": str}, pk="id")
    db["login_attempts"].create_index(["client", "at"])
    db.executescript(
        """
        CREATE UNIQUE INDEX ssh_keys_active ON ssh_keys (username, fingerprint)
        WHERE removed_at IS NULL;
        """
    )


@migrations(name="0004_provisioning_jobs")
def _provisioning_jobs(db: Database) -> None:
    # A job per request and kind (person | tool), leased by one worker at a time; a
    # lease that runs out (the worker was killed) makes the job available again.
    db["jobs"].create(
        {
            "id": int,
            "request_id": int,
            "kind": str,  # person | tool
            "payload": str,  # JSON: what the backend is asked to make
            "state": str,  # queued | running | done | failed
            "attempts": int,
            "next_attempt_at": str,
            "last_error": str,
            "leased_by": str,
            "lease_until": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"request_id", "kind", "payload", "state", "attempts", "created_at"},
        defaults={"attempts": 0},
        foreign_keys=[("request_id", "requests", "id")],
    )
    db["jobs"].create_index(["request_id", "kind"], unique=True)
    db["jobs"].create_index(["state", "next_attempt_at"])
    # Which wiki user holds which shell name (the backend holds it too; this copy is
    # how a tool's maintainers, named by wiki username, are found by shell name).
    db["accounts"].create(
        {"shell_name": str, "kind": str, "owner": str, "uid": int, "created_at": str},
        pk="shell_name",
        not_null={"kind", "owner", "created_at"},
    )
    db["accounts"].create_index(["kind", "owner"], unique=True)


@migrations(name="0005_ledger")
def _ledger(db: Database) -> None:
    # The fee ledger (membership/ledger.py): append-only like the audit log. A payment
    # recorded in `payments` (by the bridge or an import) is mirrored here by a trigger,
    # so the ledger never misses one; a waiver's reason never comes here.
    db["ledger"].create(
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
    db["ledger"].create_index(["kind", "reference"])
    db["ledger"].create_index(["member"])
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
    db["waiver_queue"].create(
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


@migrations(name="0006_member_jobs")
def _member_jobs(db: Database) -> None:
    # Jobs about a member rather than a request (keys | suspend | restore): `member`
    # names the wiki user and `request_id` is NULL; one such job per member and kind,
    # queued again when asked again rather than doubled. `suspended_at` on an account
    # is the decision to suspend it (the worker makes it so in the directory).
    db["jobs"].add_column("member", str)
    db["jobs"].transform(not_null={"request_id": False})
    db.execute(
        "CREATE UNIQUE INDEX jobs_member_kind ON jobs (member, kind) WHERE request_id IS NULL"
    )
    db["accounts"].add_column("suspended_at", str)
    db["accounts"].add_column("suspended_reason", str)


@migrations(name="0007_renewal")
def _renewal(db: Database) -> None:
    # The yearly renewal (membership/renewal.py): each reminder once per member, period
    # (the last covered day) and stage (days before), whether it was posted or why not;
    # and every suspension of a lapsed member with its restore. Nothing is deleted.
    db["reminders"].create(
        {
            "id": int,
            "member": str,
            "period": str,  # ISO date: the last day the fee or waiver covers
            "stage": int,  # days before the renewal date (policies/fees.toml)
            "outcome": str,  # posted | opted-out | bots-excluded
            "revid": int,
            "note": str,
            "at": str,
        },
        pk="id",
        not_null={"member", "period", "stage", "outcome", "at"},
    )
    db["reminders"].create_index(["member", "period", "stage"], unique=True)
    db["suspensions"].create(
        {
            "id": int,
            "member": str,
            "shell_name": str,
            "reason": str,
            "paid_until": str,
            "suspended_at": str,
            "suspend_job": int,
            "restored_at": str,
            "restore_job": int,
            "restore_reason": str,
        },
        pk="id",
        not_null={"member", "shell_name", "reason", "suspended_at"},
    )
    db.executescript(
        "CREATE UNIQUE INDEX suspensions_open ON suspensions (member) WHERE restored_at IS NULL;"
    )


@migrations(name="0008_page_provenance")
def _page_provenance(db: Database) -> None:
    # Who wrote what on a request page (bot/provenance.py): the walk's state, read once
    # and then advanced from `cursor` (the last revision taken in); and each status line
    # found not written by the bot, answered once on the page.
    db["page_provenance"].create(
        {"page": str, "cursor": int, "state": str, "updated_at": str},
        pk="page",
        not_null={"cursor", "state"},
    )
    db["forged_lines"].create(
        {
            "page": str,
            "identity": str,
            "token": str,
            "request_id": int,
            "author": str,
            "revid": int,
            "line": str,
            "at": str,
        },
        pk=("page", "identity", "token"),
    )


@migrations(name="0010_clerk_lease")
def _clerk_lease(db: Database) -> None:
    # One clerk at a time per request page (membership/lease.py): who holds it (a
    # random token, the host and pid), until when, and when the bot last saved, so the
    # pace between saves survives restarts. A row is never deleted, only released.
    db["clerk_leases"].create(
        {
            "name": str,
            "holder": str,
            "host": str,
            "pid": int,
            "acquired_at": str,
            "expires_at": str,
            "last_saved_at": str,
        },
        pk="name",
    )


@migrations(name="0011_section_readings")
def _section_readings(db: Database) -> None:
    # What each request section's own text says (bot/page.py `new_readings`), by the
    # digest of that text: a cycle in a new process parses only the sections that
    # changed. A cache: any row may go, and is read again from the page.
    db["section_readings"].create(
        {"page": str, "digest": str, "reading": str, "created_at": str},
        pk=("page", "digest"),
    )
    db["section_readings"].create_index(["page", "created_at"])


@migrations(name="0012_member_standing")
def _member_standing(db: Database) -> None:
    # The daily re-check of members (membership/standing.py): what the wiki last said
    # about each member's locks and blocks, as the facts it gave (JSON), since when they
    # are flagged, when they were last checked and last cleared. One row per member.
    db["member_standing"].create(
        {
            "member": str,
            "state": str,  # good | flagged
            "findings": str,  # JSON list of {kind, wiki, expiry, reason, seen}
            "flagged_since": str,
            "last_checked": str,
            "cleared_at": str,
        },
        pk="member",
        not_null={"state", "findings", "last_checked"},
    )


@migrations(name="0013_fund_actions")
def _fund_actions(db: Database) -> None:
    # The admins' refunds, expenses and transfers into the fund (membership/outflows.py):
    # one row per submitted form (`form_id` is unique, so a form sent twice records
    # once), `proposed` until a second admin confirms one above the policy's threshold,
    # then `done` with the ledger entry it made, or `withdrawn`.
    db["fund_actions"].create(
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
    db["fund_actions"].create_index(["form_id"], unique=True)
    db["fund_actions"].create_index(["status"])


@migrations(name="0014_fee_obligations")
def _fee_obligations(db: Database) -> None:
    # One payment per reference and method (membership/obligations.py): the keys are the
    # normalised method and reference, so "TXN-1 " and "txn-1" are one payment. A store
    # that already holds duplicates keeps the earliest as the reference's payment; the
    # later ones keep their money and their ledger entries (an admin decides whether to
    # refund them) but lose the key, and each is reported in the audit log.
    db["payments"].add_column("method_key", str)
    db["payments"].add_column("reference_key", str)
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
            [MIGRATION_ACTOR, now_iso(), waiver_id],
        )
        db.execute(
            "UPDATE waiver_queue SET released_at = ? WHERE waiver_id = ? AND released_at IS NULL",
            [now_iso(), waiver_id],
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


@migrations(name="0015_reminder_claims")
def _reminder_claims(db: Database) -> None:
    # A renewal reminder is claimed before it is posted (membership/reminder_claims.py):
    # the row of 0007 (unique per member, period and stage) is written first with the
    # outcome `claimed` and who holds it (a random token, host and pid), then settled.
    db["reminders"].add_column("claim_token", str)
    db["reminders"].add_column("claim_host", str)
    db["reminders"].add_column("claim_pid", int)
    db["reminders"].add_column("claimed_at", str)


MIGRATION_ACTOR = "store-migration"


def payment_key(text: str | None) -> str:
    """A payment's method or reference as compared: case and spacing do not count."""
    return " ".join((text or "").split()).casefold()


def _migration_audit(db: Database, action: str, **evidence: Any) -> None:
    db.execute(
        "INSERT INTO audit (at, actor, request_id, action, evidence) VALUES (?, ?, NULL, ?, ?)",
        [now_iso(), MIGRATION_ACTOR, action, json.dumps(evidence, sort_keys=True)],
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RequestRecord:
    id: int
    page: str
    key: str
    heading: str
    requester: str
    subject: str
    on_behalf: bool
    type: str
    fields: Mapping[str, str]
    content_hash: str
    intro_revid: int | None
    intro_timestamp: str | None
    state: str
    detail: Mapping[str, Any]
    lang: str
    created_at: str
    updated_at: str
    progress_at: str | None = None
    approved_by: str | None = None
    override: str | None = None
    closed_at: str | None = None
    archived_at: str | None = None
    archive_page: str | None = None
    gates: str | None = None
    fields_hash: str | None = None
    approval_revid: int | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RequestRecord:
        values = dict(row)
        values["fields"] = json.loads(values["fields"] or "{}")
        values["detail"] = json.loads(values["detail"] or "{}")
        values["on_behalf"] = bool(values["on_behalf"])
        values["lang"] = values["lang"] or "en"
        return cls(**values)


@dataclass(frozen=True)
class DecisionRecord:
    id: int
    request_id: int
    kind: str
    params: Mapping[str, str]
    wikitext: str
    ordinal: int
    revid: int | None
    actor: str
    honoured: bool
    reason: str
    created_at: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DecisionRecord:
        values = dict(row)
        values["params"] = json.loads(values["params"] or "{}")
        values["honoured"] = bool(values["honoured"])
        return cls(**values)


@dataclass(frozen=True)
class ReplyRecord:
    id: int
    request_id: int
    state: str
    text: str
    status: str
    created_at: str
    posted_revid: int | None
    posted_at: str | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    request_id: int | None
    action: str
    evidence: Mapping[str, Any]


@dataclass(frozen=True)
class IdentityRecord:
    """A wiki account whose owner proved it by logging in with OAuth."""

    username: str
    central_id: str
    oauth_version: int
    verified_at: str


@dataclass(frozen=True)
class SSHKeyRecord:
    id: int
    username: str
    type: str
    bits: int
    key: str
    fingerprint: str
    comment: str
    added_at: str
    removed_at: str | None


@dataclass(frozen=True)
class IdentificationRecord:
    id: int
    username: str
    attested_by: str
    attested_at: str
    method: str


@dataclass(frozen=True)
class PaymentRecord:
    id: int
    username: str
    amount: int
    currency: str
    paid_on: str
    method: str
    reference: str
    recorded_by: str
    recorded_at: str
    method_key: str | None = None  # normalised: the unique key with `reference_key`
    reference_key: str | None = None


@dataclass(frozen=True)
class WaiverRecord:
    id: int
    username: str
    reason: str
    status: str  # requested | granted | refused | withdrawn (the year was settled otherwise)
    requested_at: str
    decided_by: str | None
    decided_at: str | None
    confirmed_by: str | None
    confirmed_at: str | None

    @property
    def awaiting_confirmation(self) -> bool:
        """Granted by a first admin, waiting for the second one."""
        return self.status == "requested" and bool(self.decided_by)


@dataclass(frozen=True)
class FundAction:
    """An admin's refund, expense or transfer into the fund (0013_fund_actions)."""

    id: int
    form_id: str
    kind: str  # refund | expense | transfer
    amount: int
    currency: str
    on_date: str
    note: str
    member: str
    refund_of: int | None
    proposed_by: str
    proposed_at: str
    status: str  # proposed | done | withdrawn
    decided_by: str | None
    decided_at: str | None
    ledger_id: int | None


@dataclass(frozen=True)
class JobRecord:
    id: int
    request_id: int | None  # None for a member's job (see `member`)
    kind: str
    payload: Mapping[str, Any]
    state: str  # queued | running | done | failed
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    leased_by: str | None
    lease_until: str | None
    created_at: str
    updated_at: str | None
    member: str | None = None  # the wiki user a member job (keys | suspend | restore) is for

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> JobRecord:
        values = dict(row)
        values["payload"] = json.loads(values["payload"] or "{}")
        return cls(**values)


@dataclass(frozen=True)
class AccountRecord:
    shell_name: str
    kind: str  # person | tool
    owner: str  # the wiki username (person) or the tool's name
    uid: int | None
    created_at: str
    suspended_at: str | None = None  # decided to be suspended (the worker suspends it)
    suspended_reason: str | None = None

    @property
    def suspended(self) -> bool:
        return bool(self.suspended_at)


@dataclass(frozen=True)
class QueuedWaiver:
    waiver_id: int
    amount: int
    currency: str
    operation: str  # decide | confirm
    queued_by: str
    queued_at: str
    released_at: str | None


@dataclass(frozen=True)
class ReminderRecord:
    id: int
    member: str
    period: str
    stage: int
    outcome: str  # posted | opted-out | bots-excluded | claimed (being posted)
    revid: int | None
    note: str | None
    at: str
    claim_token: str | None = None
    claim_host: str | None = None
    claim_pid: int | None = None
    claimed_at: str | None = None


@dataclass(frozen=True)
class SuspensionRecord:
    id: int
    member: str
    shell_name: str
    reason: str
    paid_until: str | None
    suspended_at: str
    suspend_job: int | None
    restored_at: str | None
    restore_job: int | None
    restore_reason: str | None


# Ledger columns that are text in `LedgerEntry` (NULL in old rows reads as "").
_TEXT = frozenset({"member", "method", "reference", "note", "recorded_by", "recorded_at"})


class DuplicateKeyError(ValueError):
    """This SSH key is already active for this member."""


class DuplicatePaymentError(ValueError):
    """This reference is already recorded for this payment method."""

    def __init__(self, existing: PaymentRecord) -> None:
        self.existing = existing
        super().__init__(
            f"reference {existing.reference} is already recorded as payment #{existing.id}"
        )


class OpenWaiverError(ValueError):
    """The member already has an open waiver request."""

    def __init__(self, existing: WaiverRecord) -> None:
        self.existing = existing
        super().__init__(f"waiver request #{existing.id} is already open")


class Store:
    """One connection to the shared database; cheap to open, safe across processes."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 10_000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        try:
            self._open(busy_timeout_ms)
        except (sqlite3.Error, OSError, StoreError) as error:
            if hasattr(self, "db"):  # a watcher retrying must not pile up open connections
                self.db.conn.close()
            raise self.fault(error) from (None if isinstance(error, StoreError) else error)

    def _open(self, busy_timeout_ms: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: a statement outside transaction() commits at once.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=busy_timeout_ms / 1000)
        self.db = Database(conn)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        _use_wal(conn, busy_timeout_ms)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        with self.transaction():
            # A newer version's store is refused before anything is applied to it.
            applied = [m.name for m in migrations.applied(self.db)]
            known = {m.name for m in migrations._migrations}  # noqa: SLF001 - no public list
            unknown = [name for name in applied if name not in known]
            if unknown:
                raise newer_store(self.path, unknown)
            migrations.apply(self.db)

    def fault(self, error: BaseException) -> StoreError:
        """`error`, raised while using this store, as one clear StoreError."""
        return describe(error, self.path, busy_timeout_ms=self.busy_timeout_ms)

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """A write transaction; nested calls join the outer one."""
        conn = self.db.conn
        if conn.in_transaction:
            yield self
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- pages -------------------------------------------------------------

    def page_revision(self, page: str) -> int | None:
        row = self._one("SELECT last_revid FROM pages WHERE page = ?", [page])
        return row["last_revid"] if row else None

    def set_page_revision(self, page: str, revid: int, timestamp: str) -> None:
        self.db["pages"].upsert(
            {
                "page": page,
                "last_revid": revid,
                "last_timestamp": timestamp,
                "updated_at": now_iso(),
            },
            pk="page",
        )

    # -- requests ----------------------------------------------------------

    def request(self, page: str, key: str) -> RequestRecord | None:
        row = self._one("SELECT * FROM requests WHERE page = ? AND key = ?", [page, key])
        return RequestRecord.from_row(row) if row else None

    def request_by_id(self, request_id: int) -> RequestRecord | None:
        row = self._one("SELECT * FROM requests WHERE id = ?", [request_id])
        return RequestRecord.from_row(row) if row else None

    def requests(self, page: str | None = None, state: str | None = None) -> list[RequestRecord]:
        where, args = [], []
        if page is not None:
            where.append("page = ?")
            args.append(page)
        if state is not None:
            where.append("state = ?")
            args.append(state)
        sql = "SELECT * FROM requests"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.db.execute(sql + " ORDER BY id", args)
        return [RequestRecord.from_row(_as_dict(rows, r)) for r in rows.fetchall()]

    def add_request(
        self,
        *,
        page: str,
        key: str,
        heading: str,
        requester: str,
        subject: str,
        type: str,
        fields: Mapping[str, str],
        content_hash: str,
        intro_revid: int | None,
        intro_timestamp: str | None,
        state: str,
        detail: Mapping[str, Any],
        lang: str = "en",
    ) -> RequestRecord:
        stamp = now_iso()
        with self.transaction():
            request_id = self._insert(
                "requests",
                {
                    "page": page,
                    "key": key,
                    "heading": heading,
                    "requester": requester,
                    "subject": subject,
                    "on_behalf": int(subject != requester),
                    "type": type,
                    "fields": json.dumps(dict(fields), ensure_ascii=False),
                    "content_hash": content_hash,
                    "intro_revid": intro_revid,
                    "intro_timestamp": intro_timestamp,
                    "state": state,
                    "detail": json.dumps(detail, ensure_ascii=False, default=str),
                    "lang": lang,
                    "created_at": stamp,
                    "updated_at": stamp,
                },
            )
        record = self.request_by_id(request_id)
        assert record is not None
        return record

    def update_request(self, request_id: int, **changes: Any) -> RequestRecord:
        """Change columns of one request; `fields` and `detail` may be given as mappings."""
        for name in ("fields", "detail"):
            if name in changes and not isinstance(changes[name], str):
                changes[name] = json.dumps(dict(changes[name]), ensure_ascii=False, default=str)
        if "subject" in changes and "requester" not in changes:
            current = self.request_by_id(request_id)
            assert current is not None
            changes["on_behalf"] = int(changes["subject"] != current.requester)
        changes["updated_at"] = now_iso()
        self._update("requests", request_id, changes)
        record = self.request_by_id(request_id)
        assert record is not None
        return record

    # -- replies (the outbox) ---------------------------------------------

    def queue_reply(self, request_id: int, state: str, text: str) -> ReplyRecord:
        """Queue a reply to be posted; every queued reply is posted once, in order."""
        reply_id = self._insert(
            "replies",
            {
                "request_id": request_id,
                "state": state,
                "text": text,
                "status": "pending",
                "created_at": now_iso(),
            },
        )
        return self._reply(reply_id)

    def pending_replies(self, page: str) -> list[ReplyRecord]:
        rows = self.db.execute(
            "SELECT replies.* FROM replies JOIN requests ON requests.id = replies.request_id "
            "WHERE requests.page = ? AND replies.status = 'pending' ORDER BY replies.id",
            [page],
        )
        return [ReplyRecord(**_as_dict(rows, r)) for r in rows.fetchall()]

    def mark_posted(self, reply_ids: list[int], revid: int) -> None:
        with self.transaction():
            for reply_id in reply_ids:
                self._update(
                    "replies",
                    reply_id,
                    {"status": "posted", "posted_revid": revid, "posted_at": now_iso()},
                )

    def replies(self, request_id: int) -> list[ReplyRecord]:
        rows = self.db.execute(
            "SELECT * FROM replies WHERE request_id = ? ORDER BY id", [request_id]
        )
        return [ReplyRecord(**_as_dict(rows, r)) for r in rows.fetchall()]

    def last_reply(self, request_id: int) -> ReplyRecord | None:
        """The newest reply that is posted or about to be."""
        row = self._one(
            "SELECT * FROM replies WHERE request_id = ? AND status != 'superseded' "
            "ORDER BY id DESC LIMIT 1",
            [request_id],
        )
        return ReplyRecord(**row) if row else None

    def unsaid(self, page: str) -> list[RequestRecord]:
        """Open requests on `page` whose state differs from the last reply about them.

        Another process (the bridge, provisioning) moved them; the bot owes a reply.
        """
        rows = self.db.execute(
            "SELECT requests.* FROM requests JOIN replies ON replies.id = ("
            "  SELECT id FROM replies r WHERE r.request_id = requests.id"
            "  AND r.status != 'superseded' ORDER BY r.id DESC LIMIT 1) "
            "WHERE requests.page = ? AND requests.archived_at IS NULL "
            "AND replies.state != requests.state ORDER BY requests.id",
            [page],
        )
        return [RequestRecord.from_row(_as_dict(rows, r)) for r in rows.fetchall()]

    def _reply(self, reply_id: int) -> ReplyRecord:
        row = self._one("SELECT * FROM replies WHERE id = ?", [reply_id])
        assert row is not None
        return ReplyRecord(**row)

    # -- audit log ---------------------------------------------------------

    def audit(
        self, actor: str, action: str, request_id: int | None = None, **evidence: Any
    ) -> None:
        self._insert(
            "audit",
            {
                "at": now_iso(),
                "actor": actor,
                "request_id": request_id,
                "action": action,
                "evidence": json.dumps(evidence, ensure_ascii=False, default=str, sort_keys=True),
            },
        )

    def audit_log(self, request_id: int | None = None) -> list[AuditEntry]:
        if request_id is None:
            rows = self.db.execute("SELECT * FROM audit ORDER BY id")
        else:
            rows = self.db.execute(
                "SELECT * FROM audit WHERE request_id = ? ORDER BY id", [request_id]
            )
        entries = []
        for raw in rows.fetchall():
            row = _as_dict(rows, raw)
            row["evidence"] = json.loads(row["evidence"])
            entries.append(AuditEntry(**row))
        return entries

    # -- decisions ---------------------------------------------------------

    def decision(self, request_id: int, wikitext: str, ordinal: int) -> DecisionRecord | None:
        row = self._one(
            "SELECT * FROM decisions WHERE request_id = ? AND wikitext = ? AND ordinal = ?",
            [request_id, wikitext, ordinal],
        )
        return DecisionRecord.from_row(row) if row else None

    def add_decision(
        self,
        request_id: int,
        *,
        kind: str,
        params: Mapping[str, str],
        wikitext: str,
        ordinal: int,
        revid: int | None,
        actor: str,
        honoured: bool,
        reason: str,
    ) -> DecisionRecord:
        with self.transaction():
            self._insert(
                "decisions",
                {
                    "request_id": request_id,
                    "kind": kind,
                    "params": json.dumps(dict(params), ensure_ascii=False),
                    "wikitext": wikitext,
                    "ordinal": ordinal,
                    "revid": revid,
                    "actor": actor,
                    "honoured": int(honoured),
                    "reason": reason,
                    "created_at": now_iso(),
                },
            )
        record = self.decision(request_id, wikitext, ordinal)
        assert record is not None
        return record

    def decisions(self, request_id: int) -> list[DecisionRecord]:
        rows = self.db.execute(
            "SELECT * FROM decisions WHERE request_id = ? ORDER BY id", [request_id]
        )
        return [DecisionRecord.from_row(_as_dict(rows, r)) for r in rows.fetchall()]

    # -- cursors (where a follower stopped reading) ---------------------------

    def cursor(self, name: str) -> str | None:
        row = self._one("SELECT value FROM cursors WHERE name = ?", [name])
        return row["value"] if row else None

    def set_cursor(self, name: str, value: str) -> None:
        self.db["cursors"].upsert(
            {"name": name, "value": value, "updated_at": now_iso()}, pk="name"
        )

    # -- page provenance (0008) ------------------------------------------------

    def provenance(self, page: str) -> dict[str, Any] | None:
        """The saved provenance walk of a page (bot/provenance.py), or None."""
        row = self._one("SELECT state FROM page_provenance WHERE page = ?", [page])
        return json.loads(row["state"]) if row else None

    def save_provenance(self, page: str, cursor: int, state: Mapping[str, Any]) -> None:
        self.db["page_provenance"].upsert(
            {
                "page": page,
                "cursor": cursor,
                "state": json.dumps(state, ensure_ascii=False, separators=(",", ":")),
                "updated_at": now_iso(),
            },
            pk="page",
        )

    def section_readings(self, page: str) -> dict[str, str]:
        """The saved readings of `page`'s sections (bot/page.py), JSON by digest."""
        rows = self.db.execute(
            "SELECT digest, reading FROM section_readings WHERE page = ?", [page]
        ).fetchall()
        return dict(rows)

    def save_section_readings(self, page: str, readings: Mapping[str, str], keep: int) -> None:
        """Add readings; beyond `keep` rows for the page, the oldest go (a cache)."""
        if not readings:
            return
        stamp = now_iso()
        with self.transaction():
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO section_readings (page, digest, reading, created_at) "
                "VALUES (?, ?, ?, ?)",
                [(page, digest, reading, stamp) for digest, reading in readings.items()],
            )
            self.db.conn.execute(
                "DELETE FROM section_readings WHERE page = ? AND digest IN ("
                "  SELECT digest FROM section_readings WHERE page = ?"
                "  ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                [page, page, keep],
            )

    def forged_line_answered(self, page: str, identity: str, token: str) -> bool:
        row = self._one(
            "SELECT 1 AS one FROM forged_lines WHERE page = ? AND identity = ? AND token = ?",
            [page, identity, token],
        )
        return row is not None

    def record_forged_line(
        self,
        page: str,
        identity: str,
        token: str,
        *,
        request_id: int | None,
        author: str,
        revid: int | None,
        line: str,
    ) -> None:
        self.db["forged_lines"].insert(
            {
                "page": page,
                "identity": identity,
                "token": token,
                "request_id": request_id,
                "author": author,
                "revid": revid,
                "line": line,
                "at": now_iso(),
            },
            pk=("page", "identity", "token"),
            ignore=True,
        )

    # -- user look-up cache ------------------------------------------------

    def cached_user(self, name: str, max_age: timedelta) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM users WHERE name = ?", [name])
        if not row:
            return None
        fetched = datetime.fromisoformat(row["fetched_at"])
        if datetime.now(UTC) - fetched > max_age:
            return None
        return json.loads(row["record"])

    def cache_user(self, name: str, record: Mapping[str, Any]) -> None:
        self.db.conn.execute(
            "INSERT INTO users (name, record, fetched_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET record = excluded.record, "
            "fetched_at = excluded.fetched_at",
            [name, json.dumps(record, ensure_ascii=False, default=str), now_iso()],
        )

    # -- the bridge's gates (0003) -------------------------------------------

    def record_identity(self, username: str, central_id: str, oauth_version: int) -> IdentityRecord:
        """Remember that the owner of `username` proved it (now) through OAuth."""
        self.db["identities"].upsert(
            {
                "username": username,
                "central_id": str(central_id),
                "oauth_version": int(oauth_version),
                "verified_at": now_iso(),
            },
            pk="username",
        )
        record = self.identity(username)
        assert record is not None
        return record

    def identity(self, username: str) -> IdentityRecord | None:
        row = self._one("SELECT * FROM identities WHERE username = ?", [username])
        return IdentityRecord(**row) if row else None

    def accept_terms(self, username: str, version: str) -> bool:
        """Record the acceptance; False when this version was already accepted."""
        if self.terms_accepted(username, version):
            return False
        self.db["terms_acceptances"].insert(
            {"username": username, "version": version, "accepted_at": now_iso()}
        )
        return True

    def terms_accepted(self, username: str, version: str) -> str | None:
        """When `username` accepted this version of the terms, or None."""
        row = self._one(
            "SELECT accepted_at FROM terms_acceptances WHERE username = ? AND version = ?",
            [username, version],
        )
        return row["accepted_at"] if row else None

    def add_ssh_key(
        self,
        username: str,
        *,
        type: str,
        bits: int,
        key: str,
        fingerprint: str,
        comment: str = "",
    ) -> SSHKeyRecord:
        """Add an active key; DuplicateKeyError if the member already has it active."""
        try:
            key_id = (
                self.db["ssh_keys"]
                .insert(
                    {
                        "username": username,
                        "type": type,
                        "bits": bits,
                        "key": key,
                        "fingerprint": fingerprint,
                        "comment": comment,
                        "added_at": now_iso(),
                        "removed_at": None,
                    }
                )
                .last_pk
            )
        except sqlite3.IntegrityError:
            raise DuplicateKeyError(f"the key {fingerprint} is already on your account") from None
        row = self._one("SELECT * FROM ssh_keys WHERE id = ?", [key_id])
        assert row is not None
        return SSHKeyRecord(**row)

    def remove_ssh_key(self, username: str, key_id: int) -> SSHKeyRecord | None:
        """Mark one of `username`'s active keys removed; None if there is no such key."""
        row = self._one(
            "SELECT * FROM ssh_keys WHERE id = ? AND username = ? AND removed_at IS NULL",
            [key_id, username],
        )
        if not row:
            return None
        self.db["ssh_keys"].update(key_id, {"removed_at": now_iso()})
        return SSHKeyRecord(**row)

    def ssh_keys(self, username: str, *, active: bool = True) -> list[SSHKeyRecord]:
        sql = "SELECT * FROM ssh_keys WHERE username = ?"
        if active:
            sql += " AND removed_at IS NULL"
        rows = self.db.execute(sql + " ORDER BY id", [username])
        return [SSHKeyRecord(**_as_dict(rows, r)) for r in rows.fetchall()]

    def attest_identification(
        self, username: str, *, attested_by: str, method: str
    ) -> IdentificationRecord:
        row_id = (
            self.db["identifications"]
            .insert(
                {
                    "username": username,
                    "attested_by": attested_by,
                    "attested_at": now_iso(),
                    "method": method,
                }
            )
            .last_pk
        )
        row = self._one("SELECT * FROM identifications WHERE id = ?", [row_id])
        assert row is not None
        return IdentificationRecord(**row)

    def identifications(self, username: str) -> list[IdentificationRecord]:
        rows = self.db.execute(
            "SELECT * FROM identifications WHERE username = ? ORDER BY id", [username]
        )
        return [IdentificationRecord(**_as_dict(rows, r)) for r in rows.fetchall()]

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
                        "recorded_at": now_iso(),
                        "method_key": payment_key(method) if key else None,
                        "reference_key": key,
                    },
                )
        except sqlite3.IntegrityError:
            existing = self.payment_by_reference(reference, method)
            if existing is None:
                raise
            raise DuplicatePaymentError(existing) from None
        row = self._one("SELECT * FROM payments WHERE id = ?", [row_id])
        assert row is not None
        return PaymentRecord(**row)

    def payments(self, username: str | None = None) -> list[PaymentRecord]:
        if username is None:
            rows = self.db.execute("SELECT * FROM payments ORDER BY id")
        else:
            rows = self.db.execute(
                "SELECT * FROM payments WHERE username = ? ORDER BY id", [username]
            )
        return [PaymentRecord(**_as_dict(rows, r)) for r in rows.fetchall()]

    def request_waiver(self, username: str, reason: str) -> WaiverRecord:
        """A new open request; `OpenWaiverError` if the member already has one open."""
        try:
            with self.transaction():
                row_id = self._insert(
                    "waivers",
                    {
                        "username": username,
                        "reason": reason,
                        "status": "requested",
                        "requested_at": now_iso(),
                    },
                )
        except sqlite3.IntegrityError:
            [existing, *_] = self.waivers(username, status="requested") or [None]
            if existing is None:
                raise
            raise OpenWaiverError(existing) from None
        record = self.waiver(row_id)
        assert record is not None
        return record

    def waiver(self, waiver_id: int) -> WaiverRecord | None:
        row = self._one("SELECT * FROM waivers WHERE id = ?", [waiver_id])
        return WaiverRecord(**row) if row else None

    def waivers(self, username: str | None = None, status: str | None = None) -> list[WaiverRecord]:
        where, args = [], []
        if username is not None:
            where.append("username = ?")
            args.append(username)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        sql = "SELECT * FROM waivers"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.db.execute(sql + " ORDER BY id", args)
        return [WaiverRecord(**_as_dict(rows, r)) for r in rows.fetchall()]

    def decide_waiver(self, waiver_id: int, admin: str, *, status: str) -> WaiverRecord:
        """The first admin's decision: `granted`, `refused`, or `requested` (granted,
        waiting for a second admin's confirmation)."""
        assert status in ("requested", "granted", "refused")
        self.db["waivers"].update(
            waiver_id, {"status": status, "decided_by": admin, "decided_at": now_iso()}
        )
        record = self.waiver(waiver_id)
        assert record is not None
        return record

    def confirm_waiver(self, waiver_id: int, admin: str) -> WaiverRecord:
        """The second admin's confirmation of a grant."""
        self.db["waivers"].update(
            waiver_id, {"status": "granted", "confirmed_by": admin, "confirmed_at": now_iso()}
        )
        record = self.waiver(waiver_id)
        assert record is not None
        return record

    def withdraw_waiver(self, waiver_id: int, actor: str) -> bool:
        """Close an open request (the year was settled otherwise) and take it out of the
        fund's queue; False if it was no longer open."""
        with self.transaction():
            cursor = self.db.execute(
                "UPDATE waivers SET status = 'withdrawn', decided_by = ?, decided_at = ? "
                "WHERE id = ? AND status = 'requested'",
                [actor, now_iso(), waiver_id],
            )
            self.db.execute(
                "UPDATE waiver_queue SET released_at = ? "
                "WHERE waiver_id = ? AND released_at IS NULL",
                [now_iso(), waiver_id],
            )
        return cursor.rowcount == 1

    # -- server-side sessions and login rate limits ---------------------------

    def session_data(self, session_id: str) -> dict[str, Any] | None:
        """The data of a live session, or None when it is unknown or expired."""
        row = self._one("SELECT * FROM sessions WHERE id = ?", [session_id])
        if not row:
            return None
        if datetime.fromisoformat(row["expires_at"]) <= datetime.now(UTC):
            self.delete_session(session_id)
            return None
        return json.loads(row["data"])

    def save_session(self, session_id: str, data: Mapping[str, Any], expires_at: datetime) -> None:
        self.db["sessions"].upsert(
            {
                "id": session_id,
                "data": json.dumps(dict(data), ensure_ascii=False, default=str),
                "created_at": now_iso(),
                "expires_at": expires_at.astimezone(UTC).isoformat(timespec="seconds"),
            },
            pk="id",
        )

    def delete_session(self, session_id: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE id = ?", [session_id])

    def purge_expired_sessions(self) -> int:
        cursor = self.db.execute("DELETE FROM sessions WHERE expires_at <= ?", [now_iso()])
        return cursor.rowcount

    def count_login_attempts(self, client: str, since: datetime) -> int:
        """Attempts by `client` (an opaque key, e.g. a keyed hash of the IP) since then."""
        row = self._one(
            "SELECT count(*) AS n FROM login_attempts WHERE client = ? AND at > ?",
            [client, since.astimezone(UTC).isoformat(timespec="seconds")],
        )
        return row["n"] if row else 0

    def record_login_attempt(self, client: str, *, keep: timedelta = timedelta(days=1)) -> None:
        """Count one attempt, and forget attempts older than `keep`."""
        cutoff = (datetime.now(UTC) - keep).isoformat(timespec="seconds")
        with self.transaction():
            self.db.execute("DELETE FROM login_attempts WHERE at < ?", [cutoff])
            self.db["login_attempts"].insert({"client": client, "at": now_iso()})

    def withdraw_login_attempt(self, client: str) -> None:
        """Uncount `client`'s latest attempt: it finished as a sign-in (bridge rate limit)."""
        self.db.execute(
            "DELETE FROM login_attempts WHERE id = "
            "(SELECT max(id) FROM login_attempts WHERE client = ?)",
            [client],
        )

    # -- provisioning jobs (0004) -------------------------------------------

    def enqueue_job(
        self, request_id: int, kind: str, payload: Mapping[str, Any], now: datetime | None = None
    ) -> tuple[JobRecord, bool]:
        """The job for this request and kind, and whether it was queued just now."""
        stamp = _iso(now)
        with self.transaction():
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO jobs (request_id, kind, payload, state, attempts, "
                "next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?, ?)",
                [
                    request_id,
                    kind,
                    json.dumps(dict(payload), ensure_ascii=False),
                    stamp,
                    stamp,
                    stamp,
                ],
            )
            created = cursor.rowcount == 1
            row = self._one(
                "SELECT * FROM jobs WHERE request_id = ? AND kind = ?", [request_id, kind]
            )
        assert row is not None
        return JobRecord.from_row(row), created

    def enqueue_member_job(
        self, member: str, kind: str, payload: Mapping[str, Any], now: datetime | None = None
    ) -> tuple[JobRecord, bool]:
        """Queue `member`'s job of this kind to run `now`; whether a new row was made.

        There is one job per member and kind: asking again refreshes it (new payload,
        due now, attempts and error cleared) whatever its state, so changes never pile
        up. A job running meanwhile cannot finish it (`finish_job` wants it running),
        so it runs again with the newest facts.
        """
        stamp = _iso(now)
        text = json.dumps(dict(payload), ensure_ascii=False)
        with self.transaction():
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO jobs (request_id, member, kind, payload, state, attempts, "
                "next_attempt_at, created_at, updated_at) "
                "VALUES (NULL, ?, ?, ?, 'queued', 0, ?, ?, ?)",
                [member, kind, text, stamp, stamp, stamp],
            )
            created = cursor.rowcount == 1
            if not created:
                self.db.execute(
                    "UPDATE jobs SET state = 'queued', payload = ?, next_attempt_at = ?, "
                    "attempts = 0, last_error = NULL, lease_until = NULL, updated_at = ? "
                    "WHERE request_id IS NULL AND member = ? AND kind = ?",
                    [text, stamp, stamp, member, kind],
                )
            row = self._one(
                "SELECT * FROM jobs WHERE request_id IS NULL AND member = ? AND kind = ?",
                [member, kind],
            )
        assert row is not None
        return JobRecord.from_row(row), created

    def cancel_member_job(self, member: str, kind: str, now: datetime | None = None) -> bool:
        """Cancel `member`'s queued job of this kind (e.g. a restore overtaken by a suspend)."""
        cursor = self.db.execute(
            "UPDATE jobs SET state = 'cancelled', updated_at = ? "
            "WHERE request_id IS NULL AND member = ? AND kind = ? AND state = 'queued'",
            [_iso(now), member, kind],
        )
        return cursor.rowcount == 1

    def member_jobs(self, member: str) -> list[JobRecord]:
        rows = self.db.execute(
            "SELECT * FROM jobs WHERE request_id IS NULL AND member = ? ORDER BY id", [member]
        )
        return [JobRecord.from_row(_as_dict(rows, r)) for r in rows.fetchall()]

    def lease_job(
        self, worker: str, now: datetime | None = None, *, lease_seconds: int = 300
    ) -> JobRecord | None:
        """Take the next due job (queued and due, or running with a lapsed lease)."""
        stamp = _iso(now)
        until = _iso((now or datetime.now(UTC)) + timedelta(seconds=lease_seconds))
        with self.transaction():
            row = self._one(
                "SELECT * FROM jobs WHERE (state = 'queued' AND next_attempt_at <= ?) "
                "OR (state = 'running' AND lease_until <= ?) "
                "ORDER BY next_attempt_at, id LIMIT 1",
                [stamp, stamp],
            )
            if row is None:
                return None
            self.db.execute(
                "UPDATE jobs SET state = 'running', leased_by = ?, lease_until = ?, "
                "attempts = attempts + 1, updated_at = ? WHERE id = ?",
                [worker, until, stamp, row["id"]],
            )
            return self.job(row["id"])

    def finish_job(self, job_id: int, worker: str, now: datetime | None = None) -> bool:
        """Mark a job done; False if `worker` no longer holds its lease."""
        cursor = self.db.execute(
            "UPDATE jobs SET state = 'done', last_error = NULL, lease_until = NULL, "
            "updated_at = ? WHERE id = ? AND leased_by = ? AND state = 'running'",
            [_iso(now), job_id, worker],
        )
        return cursor.rowcount == 1

    def fail_job(
        self,
        job_id: int,
        worker: str,
        error: str,
        now: datetime | None = None,
        *,
        retry: bool,
        base_delay: int = 60,
        max_delay: int = 3600,
    ) -> JobRecord | None:
        """Record a failure: queued again after an exponential back-off, or failed."""
        job = self.job(job_id)
        if job is None or job.leased_by != worker or job.state != "running":
            return None
        delay = min(max_delay, base_delay * 2 ** max(0, job.attempts - 1))
        due = _iso((now or datetime.now(UTC)) + timedelta(seconds=delay))
        self.db.execute(
            "UPDATE jobs SET state = ?, last_error = ?, next_attempt_at = ?, "
            "lease_until = NULL, updated_at = ? WHERE id = ?",
            ["queued" if retry else "failed", error, due, _iso(now), job_id],
        )
        return self.job(job_id)

    def renew_lease(
        self, job_id: int, worker: str, now: datetime | None = None, *, lease_seconds: int = 60
    ) -> bool:
        """Extend `worker`'s lease on a running job; False if it no longer holds it."""
        until = _iso((now or datetime.now(UTC)) + timedelta(seconds=lease_seconds))
        cursor = self.db.execute(
            "UPDATE jobs SET lease_until = ? WHERE id = ? AND leased_by = ? AND state = 'running'",
            [until, job_id, worker],
        )
        return cursor.rowcount == 1

    def defer_job(
        self, job_id: int, worker: str, error: str, now: datetime | None = None, *, delay: int = 30
    ) -> JobRecord | None:
        """Queue a running job again after `delay` seconds without spending an attempt:
        the directory could not be reached, which says nothing about the job itself."""
        stamp = _iso(now)
        due = _iso((now or datetime.now(UTC)) + timedelta(seconds=delay))
        cursor = self.db.execute(
            "UPDATE jobs SET state = 'queued', attempts = MAX(0, attempts - 1), last_error = ?, "
            "next_attempt_at = ?, lease_until = NULL, updated_at = ? "
            "WHERE id = ? AND leased_by = ? AND state = 'running'",
            [error, due, stamp, job_id, worker],
        )
        return self.job(job_id) if cursor.rowcount == 1 else None

    def requeue_job(self, job_id: int, payload: Mapping[str, Any] | None = None) -> JobRecord:
        """Queue a job again now (an admin fixed its cause), optionally with a new payload."""
        values: dict[str, Any] = {"state": "queued", "next_attempt_at": now_iso()}
        if payload is not None:
            values["payload"] = json.dumps(dict(payload), ensure_ascii=False)
        values["updated_at"] = now_iso()
        self.db["jobs"].update(job_id, values)
        job = self.job(job_id)
        assert job is not None
        return job

    def job(self, job_id: int) -> JobRecord | None:
        row = self._one("SELECT * FROM jobs WHERE id = ?", [job_id])
        return JobRecord.from_row(row) if row else None

    def jobs(self, state: str | None = None, request_id: int | None = None) -> list[JobRecord]:
        where, args = [], []
        if state is not None:
            where.append("state = ?")
            args.append(state)
        if request_id is not None:
            where.append("request_id = ?")
            args.append(request_id)
        sql = "SELECT * FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.db.execute(sql + " ORDER BY id", args)
        return [JobRecord.from_row(_as_dict(rows, r)) for r in rows.fetchall()]

    def approved_without_job(self) -> list[RequestRecord]:
        rows = self.db.execute(
            "SELECT * FROM requests WHERE state = 'approved' AND NOT EXISTS "
            "(SELECT 1 FROM jobs WHERE jobs.request_id = requests.id) ORDER BY id"
        )
        return [RequestRecord.from_row(_as_dict(rows, r)) for r in rows.fetchall()]

    def record_account(self, shell_name: str, kind: str, owner: str, uid: int | None) -> None:
        self.db.execute(
            "INSERT INTO accounts (shell_name, kind, owner, uid, created_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (shell_name) DO UPDATE SET uid = excluded.uid",
            [shell_name, kind, owner, uid, now_iso()],
        )

    def account_of(self, owner: str, kind: str = "person") -> AccountRecord | None:
        row = self._one("SELECT * FROM accounts WHERE owner = ? AND kind = ?", [owner, kind])
        return AccountRecord(**row) if row else None

    def set_account_suspended(self, shell_name: str, reason: str | None) -> None:
        """Record the decision to suspend (`reason`) or restore (None) an account."""
        self.db.execute(
            "UPDATE accounts SET suspended_at = ?, suspended_reason = ? WHERE shell_name = ?",
            [now_iso() if reason is not None else None, reason, shell_name],
        )

    # -- the fee ledger and the waiver queue (0005) ---------------------------

    def add_ledger_entry(self, entry: LedgerEntry) -> LedgerEntry:
        """Append `entry` after checking it against the ledger (`ledger.check_entry`).

        A payment is recorded with `record_payment`, which the ledger mirrors; this
        takes refunds, expenses, transfers and waivers.
        """
        if entry.kind == "payment":
            raise LedgerError("record a payment with record_payment; the ledger mirrors it")
        with self.transaction():
            check_entry(self.ledger_entries(), entry)
            row_id = (
                self.db["ledger"]
                .insert(
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
                        "recorded_at": entry.recorded_at or now_iso(),
                    }
                )
                .last_pk
            )
        return self.ledger_entries(entry_id=row_id)[0]

    def ledger_entries(
        self, *, kind: str | None = None, member: str | None = None, entry_id: int | None = None
    ) -> list[LedgerEntry]:
        where, args = [], []
        for column, value in (("kind", kind), ("member", member), ("id", entry_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM ledger"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.db.execute(sql + " ORDER BY id", args)
        entries = []
        for raw in rows.fetchall():
            row = _as_dict(rows, raw)
            row["on"] = date.fromisoformat(row.pop("on_date"))
            entries.append(
                LedgerEntry(
                    **{k: ("" if v is None else v) if k in _TEXT else v for k, v in row.items()}
                )
            )
        return entries

    def payment_by_reference(self, reference: str, method: str = "") -> PaymentRecord | None:
        """The payment holding this reference for this method, both compared normalised."""
        row = self._one(
            "SELECT * FROM payments WHERE method_key = ? AND reference_key = ?",
            [payment_key(method), payment_key(reference)],
        )
        return PaymentRecord(**row) if row else None

    def queue_waiver(
        self, waiver_id: int, *, amount: int, currency: str, operation: str, queued_by: str
    ) -> bool:
        """Put a granted waiver in line for the fund; False if it is already there."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO waiver_queue (waiver_id, amount, currency, operation, "
            "queued_by, queued_at) VALUES (?, ?, ?, ?, ?, ?)",
            [waiver_id, int(amount), currency, operation, queued_by, now_iso()],
        )
        return cursor.rowcount == 1

    def queued_waivers(self) -> list[QueuedWaiver]:
        """Waivers waiting for the fund, first queued first."""
        rows = self.db.execute(
            "SELECT * FROM waiver_queue WHERE released_at IS NULL ORDER BY queued_at, waiver_id"
        )
        return [QueuedWaiver(**_as_dict(rows, r)) for r in rows.fetchall()]

    def release_queued_waiver(self, waiver_id: int) -> None:
        self.db.execute(
            "UPDATE waiver_queue SET released_at = ? WHERE waiver_id = ?", [now_iso(), waiver_id]
        )

    # -- the admins' refunds, expenses and transfers (0013) ---------------------

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
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO fund_actions (form_id, kind, amount, currency, on_date, "
            "note, member, refund_of, proposed_by, proposed_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'proposed')",
            [form_id, kind, int(amount), currency, on_date, note, member, refund_of]
            + [proposed_by, now_iso()],
        )
        row = self._one("SELECT * FROM fund_actions WHERE form_id = ?", [form_id])
        assert row is not None
        return FundAction(**row), cursor.rowcount == 1

    def fund_action(self, action_id: int) -> FundAction | None:
        row = self._one("SELECT * FROM fund_actions WHERE id = ?", [action_id])
        return FundAction(**row) if row else None

    def fund_actions(self, status: str | None = None, limit: int = 50) -> list[FundAction]:
        """The latest actions first."""
        sql, args = "SELECT * FROM fund_actions", []
        if status is not None:
            sql, args = sql + " WHERE status = ?", [status]
        rows = self.db.execute(sql + " ORDER BY id DESC LIMIT ?", [*args, int(limit)])
        return [FundAction(**_as_dict(rows, r)) for r in rows.fetchall()]

    def close_fund_action(
        self, action_id: int, admin: str, *, status: str, ledger_id: int | None = None
    ) -> bool:
        """Mark a proposed action done or withdrawn; False if it was no longer proposed."""
        cursor = self.db.execute(
            "UPDATE fund_actions SET status = ?, decided_by = ?, decided_at = ?, ledger_id = ? "
            "WHERE id = ? AND status = 'proposed'",
            [status, admin, now_iso(), ledger_id, action_id],
        )
        return cursor.rowcount == 1

    # -- retention (what `ats purge` forgets; policies/privacy.md) --------------

    def forget_waiver_reasons(self, decided_before: datetime) -> int:
        """Blank the reasons of waivers decided (or confirmed) before the cutoff."""
        cursor = self.db.execute(
            "UPDATE waivers SET reason = '' WHERE reason != '' AND status != 'requested' "
            "AND max(coalesce(decided_at, ''), coalesce(confirmed_at, '')) < ?",
            [_iso(decided_before)],
        )
        return cursor.rowcount

    def forget_identification_methods(self, attested_before: datetime) -> int:
        """Keep only "attested" as the method of attestations older than the cutoff."""
        cursor = self.db.execute(
            "UPDATE identifications SET method = 'attested' "
            "WHERE method != 'attested' AND attested_at < ?",
            [_iso(attested_before)],
        )
        return cursor.rowcount

    def forget_sessions(self, expired_before: datetime) -> int:
        cursor = self.db.execute(
            "DELETE FROM sessions WHERE expires_at <= ?", [_iso(expired_before)]
        )
        return cursor.rowcount

    def forget_login_attempts(self, before: datetime) -> int:
        cursor = self.db.execute("DELETE FROM login_attempts WHERE at < ?", [_iso(before)])
        return cursor.rowcount

    def forget_cached_users(self, fetched_before: datetime) -> int:
        cursor = self.db.execute("DELETE FROM users WHERE fetched_at < ?", [_iso(fetched_before)])
        return cursor.rowcount

    def forget_person(self, username: str) -> dict[str, int]:
        """Delete what the bridge holds about someone who is not a member: their login,
        terms acceptances, SSH keys, identification attestations and waiver reasons.

        Payments and the ledger are bookkeeping and stay.
        """
        counts = {}
        with self.transaction():
            for table in ("identities", "terms_acceptances", "ssh_keys", "identifications"):
                cursor = self.db.execute(f"DELETE FROM {table} WHERE username = ?", [username])  # noqa: S608 - fixed names
                counts[table] = cursor.rowcount
            cursor = self.db.execute(
                "UPDATE waivers SET reason = '' WHERE username = ? AND reason != ''", [username]
            )
            counts["waiver_reasons"] = cursor.rowcount
        return counts

    def clear_request_detail(self, request_id: int) -> None:
        """Forget what the last evaluation found (edit counts, blocks) for a closed request."""
        self.db.execute(
            "UPDATE requests SET detail = '{}', fields = '{}' WHERE id = ?", [request_id]
        )

    # -- helpers -----------------------------------------------------------

    # -- the yearly renewal (0007) ---------------------------------------------

    def accounts(self, kind: str | None = None) -> list[AccountRecord]:
        if kind is None:
            rows = self.db.execute("SELECT * FROM accounts ORDER BY shell_name")
        else:
            rows = self.db.execute(
                "SELECT * FROM accounts WHERE kind = ? ORDER BY shell_name", [kind]
            )
        return [AccountRecord(**_as_dict(rows, r)) for r in rows.fetchall()]

    def reminder(self, member: str, period: str, stage: int) -> ReminderRecord | None:
        row = self._one(
            "SELECT * FROM reminders WHERE member = ? AND period = ? AND stage = ?",
            [member, period, int(stage)],
        )
        return ReminderRecord(**row) if row else None

    def record_reminder(
        self,
        member: str,
        period: str,
        stage: int,
        outcome: str,
        *,
        revid: int | None = None,
        note: str = "",
        now: datetime | None = None,
    ) -> bool:
        """Remember a reminder (posted, or why not); False if it was already recorded."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO reminders (member, period, stage, outcome, revid, note, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [member, period, int(stage), outcome, revid, note, _iso(now)],
        )
        return cursor.rowcount == 1

    def reminders(self, member: str | None = None) -> list[ReminderRecord]:
        if member is None:
            rows = self.db.execute("SELECT * FROM reminders ORDER BY id")
        else:
            rows = self.db.execute("SELECT * FROM reminders WHERE member = ? ORDER BY id", [member])
        return [ReminderRecord(**_as_dict(rows, r)) for r in rows.fetchall()]

    def open_suspension(self, member: str) -> SuspensionRecord | None:
        row = self._one(
            "SELECT * FROM suspensions WHERE member = ? AND restored_at IS NULL", [member]
        )
        return SuspensionRecord(**row) if row else None

    def record_suspension(
        self,
        member: str,
        shell_name: str,
        reason: str,
        *,
        paid_until: str | None,
        job_id: int | None,
        now: datetime | None = None,
    ) -> SuspensionRecord:
        row_id = (
            self.db["suspensions"]
            .insert(
                {
                    "member": member,
                    "shell_name": shell_name,
                    "reason": reason,
                    "paid_until": paid_until,
                    "suspended_at": _iso(now),
                    "suspend_job": job_id,
                }
            )
            .last_pk
        )
        row = self._one("SELECT * FROM suspensions WHERE id = ?", [row_id])
        assert row is not None
        return SuspensionRecord(**row)

    def record_restore(
        self, suspension_id: int, reason: str, *, job_id: int | None, now: datetime | None = None
    ) -> None:
        self.db.execute(
            "UPDATE suspensions SET restored_at = ?, restore_job = ?, restore_reason = ? "
            "WHERE id = ? AND restored_at IS NULL",
            [_iso(now), job_id, reason, suspension_id],
        )

    def suspensions(self, member: str | None = None) -> list[SuspensionRecord]:
        if member is None:
            rows = self.db.execute("SELECT * FROM suspensions ORDER BY id")
        else:
            rows = self.db.execute(
                "SELECT * FROM suspensions WHERE member = ? ORDER BY id", [member]
            )
        return [SuspensionRecord(**_as_dict(rows, r)) for r in rows.fetchall()]

    def _one(self, sql: str, args: list[Any]) -> dict[str, Any] | None:
        cursor = self.db.execute(sql, args)
        row = cursor.fetchone()
        return _as_dict(cursor, row) if row else None

    # The bot writes thousands of rows in a cycle on a large page: these skip the
    # schema introspection that sqlite-utils' insert() and update() do on every call.

    def _insert(self, table: str, row: Mapping[str, Any]) -> int:
        columns = ", ".join(map(_identifier, row))
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT INTO {_identifier(table)} ({columns}) VALUES ({marks})"  # noqa: S608
        return int(self.db.conn.execute(sql, list(row.values())).lastrowid or 0)

    def _update(self, table: str, row_id: int, changes: Mapping[str, Any]) -> None:
        if changes:
            sets = ", ".join(f"{_identifier(name)} = ?" for name in changes)
            sql = f"UPDATE {_identifier(table)} SET {sets} WHERE id = ?"  # noqa: S608
            self.db.conn.execute(sql, [*changes.values(), row_id])


def _use_wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """Put the database in WAL mode. Turning a new file into WAL takes a lock without
    SQLite's busy handler, so two processes creating the store together would have one
    of them fail at once: wait for the other, within the busy timeout."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _identifier(name: str) -> str:
    """A table or column name of the store's own, quoted; anything else is refused."""
    if not name.isidentifier():
        raise ValueError(f"not a column name: {name!r}")
    return f'"{name}"'


def _as_dict(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _iso(moment: datetime | None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
