"""The store's rows as frozen dataclasses, and the refusals a write can meet.

Every room of the store returns these records rather than raw rows: JSON columns come
back as mappings and 0/1 columns as booleans (`from_row`). `payment_key` is how a
payment's method and reference are compared (the unique index of 0014 holds it).
Plain data, outside the `membership.store` package, so code that must not touch the
database (the bot's rules, the gates) can take records without importing the store. A
write the unique indexes refuse (a key, a payment reference or an open waiver request
already there) is a `policies.errors.Refusal` whose words name what is already there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policies.errors import Refusal
from policies.money import format_minor
from policies.words import Words


def payment_key(text: str | None) -> str:
    """A payment's method or reference as compared: case and spacing do not count."""
    return " ".join((text or "").split()).casefold()


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
        values.pop("subject_key", None)  # `subject` as the store finds it (0022), derived
        values["fields"] = json.loads(values["fields"] or "{}")
        values["detail"] = json.loads(values["detail"] or "{}")
        values["on_behalf"] = bool(values["on_behalf"])
        values["lang"] = values["lang"] or "en"
        return cls(**values)


@dataclass(frozen=True)
class RequestSummary:
    """A request as a list shows it: who, what and since when, without its template
    fields or evaluation (`RequestsRoom.request_summaries`)."""

    id: int
    heading: str
    requester: str
    subject: str
    type: str
    state: str
    intro_timestamp: str | None
    created_at: str


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

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AuditEntry:
        values = dict(row)
        values["evidence"] = json.loads(values["evidence"])
        return cls(**values)


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


# The states of a job whose last attempt may have failed and still counts (`JobRecord.failing`).
FAILING_STATES = ("queued", "running", "failed")


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

    @property
    def failing(self) -> bool:
        """Whether its last attempt failed: retrying (queued or running again with the
        error of the attempt before) or given up (`JobsRoom.failing_jobs` in SQL)."""
        return self.state in FAILING_STATES and bool(self.last_error)


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


@dataclass(frozen=True)
class LeaseRecord:
    """A clerk's lease on a request page (0010_clerk_lease; membership/lease.py)."""

    name: str
    holder: str | None  # the holding process's random token; None when released
    host: str | None
    pid: int | None
    acquired_at: str | None
    expires_at: str | None
    last_saved_at: str | None  # when the bot last saved the page


# The job that is a tool's web service (`toolforge webservice`, runtime/webservice.py):
# the runtime places it behind the front door, the bridge shows it apart.
WEB_SERVICE_JOB = "webservice"


@dataclass(frozen=True)
class ToolJobRecord:
    """A tool's job (0018_tool_jobs; membership/store/tool_jobs.py): its definition as
    JSON (runtime.jobspec.JobSpec) and what the runtime's controller knows of its runs,
    with the node its current run is on (0023)."""

    tool: str
    name: str
    spec: str
    generation: int  # grows with every change or restart
    run: int  # runs started so far
    starting: int | None  # the run being submitted, until Slurm's id is recorded
    slurm_id: int | None  # the Slurm job of the current run
    state: str  # waiting | starting | running | backoff | done | failed | stopped
    status: str | None  # what `toolforge jobs list` shows
    hint: str | None
    attempts: int
    quick_exits: int
    not_before: str | None
    last_tick: str | None
    started_at: str | None
    ended_at: str | None
    exit: str | None  # how the last run ended: STATE or STATE:code
    created_at: str
    updated_at: str
    node: str | None = None  # the Slurm node the current run is on (0023_tool_job_node)


@dataclass(frozen=True)
class ToolJobMail:
    """A mail about a tool's job (0019_tool_job_mails; membership/store/tool_job_mails.py):
    to its maintainers, about one run's start or end."""

    id: int
    tool: str
    job: str
    run_key: str
    event: str  # started | ended
    recipients: tuple[str, ...]
    subject: str
    body: str
    state: str  # queued | sending | sent | failed
    attempts: int  # tries so far (a claim counts one)
    next_attempt_at: str
    claimed_by: str | None
    claim_until: str | None
    last_error: str | None
    created_at: str
    sent_at: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ToolJobMail:
        return cls(**{**row, "recipients": tuple(json.loads(row["recipients"]))})


@dataclass(frozen=True)
class DatabaseUsage:
    """One account's tool databases as the databases service last measured them
    (0021_database_usage; membership/store/database_usage.py): each database's size and
    their total against the limit in force then, in bytes, and whether (since when, and
    how many times so far) the total went over it."""

    user: str  # the database user: s<uid> or u<uid>
    kind: str  # tool | person
    name: str  # the tool's name or the member's shell name
    owner: str  # the tool's name or the member's wiki username
    total: int
    limit: int  # 0: no limit
    over: bool
    over_since: str | None
    crossings: int  # times the total went over the limit (each told once)
    observed_at: str
    databases: tuple[tuple[str, int], ...] = ()  # (name, size), by name

    @classmethod
    def from_row(
        cls, row: Mapping[str, Any], databases: tuple[tuple[str, int], ...] = ()
    ) -> DatabaseUsage:
        fields = {key: value for key, value in row.items() if key not in ("limit_bytes", "over")}
        return cls(**fields, limit=row["limit_bytes"], over=bool(row["over"]), databases=databases)


class DuplicateKeyError(Refusal, ValueError):
    """This SSH key is already active for this member."""


def describe_payment(payment: PaymentRecord) -> Words:
    """One payment named in a sentence: its id, who paid how much when, who recorded it."""
    amount = f"{format_minor(payment.amount, payment.currency)} {payment.currency}"
    return Words(
        f"payment #{payment.id} ({payment.username}, {amount} paid on "
        f"{payment.paid_on}, recorded by {payment.recorded_by})",
        "ats-payment-described",
        id=payment.id,
        username=payment.username,
        amount=amount,
        date=payment.paid_on,
        admin=payment.recorded_by,
    )


class DuplicatePaymentError(Refusal, ValueError):
    """This reference is already recorded for this payment method."""

    def __init__(self, existing: PaymentRecord) -> None:
        self.existing = existing
        described = describe_payment(existing)
        super().__init__(
            Words(
                f"reference {existing.reference} is already recorded as {described}",
                "ats-payment-duplicate-reference",
                reference=existing.reference,
                payment=described,
            )
        )


def waiver_asked(waiver: WaiverRecord) -> Words:
    """A second waiver request refused, told to the member who has `waiver` open."""
    return Words(
        f"You already asked for a waiver (request #{waiver.id}); the admins will answer it.",
        "ats-obligation-asked",
        id=waiver.id,
    )


class OpenWaiverError(Refusal, ValueError):
    """The member already has an open waiver request."""

    def __init__(self, existing: WaiverRecord) -> None:
        self.existing = existing
        super().__init__(waiver_asked(existing))
