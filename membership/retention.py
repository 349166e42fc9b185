"""`ats purge`: forgetting private facts once `policies/retention.toml` says they expired.

`purge(store, now)` applies every period of the retention policy (policies/privacy.md
says what each covers) in one transaction and returns a `PurgeReport` of counts; with
`dry_run` it counts the same things and rolls back. Bookkeeping (payments, the ledger)
and the audit log are kept: the audit log never held a private fact, and the purge
adds one entry with counts only. Running it twice forgets nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from membership.records import RequestRecord
from membership.states import State
from membership.store import Store
from policies.retention import RetentionPolicy, load_retention
from policies.usernames import canonical_username

# A request ended without an account: after `closed_request_days` its subject's
# private facts go, unless another request of theirs is still alive.
ENDED = frozenset({State.DECLINED, State.WITHDRAWN, State.EXPIRED})


@dataclass
class PurgeReport:
    now: str
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)
    people: int = 0  # people forgotten (their names are not reported)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        verb = "would forget" if self.dry_run else "forgot"
        if not self.total:
            return f"purge at {self.now}: nothing has expired"
        items = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in self.counts.items() if n)
        return f"purge at {self.now}: {verb} {items} ({self.people} people forgotten)"


class _DryRun(Exception):
    """Raised to roll the transaction back after counting."""


def purge(
    store: Store,
    now: datetime | None = None,
    policy: RetentionPolicy | None = None,
    *,
    dry_run: bool = False,
    actor: str = "ats purge",
) -> PurgeReport:
    """Forget what has expired as of `now`; call it outside any open transaction."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    policy = policy or load_retention()
    report = PurgeReport(now.isoformat(timespec="seconds"), dry_run)
    try:
        with store.transaction():
            _apply(store, now, policy, report)
            if dry_run:
                raise _DryRun
            if report.total:
                store.audit(actor, "purge", counts=report.counts, people=report.people)
    except _DryRun:
        pass
    return report


def _apply(store: Store, now: datetime, policy: RetentionPolicy, report: PurgeReport) -> None:
    days = timedelta(days=1)
    counts = report.counts
    counts["sessions"] = store.forget_sessions(now - policy.session_days_after_expiry * days)
    counts["login_attempts"] = store.forget_login_attempts(now - policy.login_attempt_days * days)
    counts["user_cache"] = store.forget_cached_users(now - policy.user_cache_days * days)
    counts["identification_methods"] = store.forget_identification_methods(
        now - policy.identification_method_days * days
    )
    counts["waiver_reasons"] = store.forget_waiver_reasons(now - policy.waiver_reason_days * days)
    cutoff = now - policy.closed_request_days * days
    by_subject: dict[str, list[RequestRecord]] = {}
    for record in store.requests():
        by_subject.setdefault(canonical_username(record.subject or record.requester), []).append(
            record
        )
    counts["request_details"] = 0
    for subject, records in sorted(by_subject.items()):
        closed = {r.id: r.closed_at for r in records if r.state in ENDED and r.closed_at}
        ended = [r for r in records if r.id in closed]
        if len(ended) != len(records) or any(
            datetime.fromisoformat(at) >= cutoff for at in closed.values()
        ):
            continue
        if store.account_of(subject) is not None:
            continue
        forgotten = store.forget_person(subject)
        for name, n in forgotten.items():
            key = "waiver_reasons" if name == "waiver_reasons" else name
            counts[key] = counts.get(key, 0) + n
        for record in ended:
            # Only requests already off the page: the bot no longer reads their fields.
            if record.archived_at and (record.detail or record.fields):
                store.clear_request_detail(record.id)
                counts["request_details"] += 1
        if any(forgotten.values()):
            report.people += 1
