"""What the store holds about one member, read at once for the pages about them.

A member's own page shows their requests with every gate, their jobs that failed,
keys, terms, payments, waivers, standing and tools. Read through the functions that
own each fact, that was some 25 statements a view, several reading the same rows (the
account three times, the waivers and the open suspension twice). `read` asks the
store for all of it as `Query` values in one statement (`Store.read`), then, when
the member has tool requests, for the accounts of those tools' maintainers in a second
(their names come from the requests). The rest is worked out here from what was read,
by the same rules the store-reading functions apply: the gates' facts
(`MemberFile.known`, as `progress.known_about` reads them), the standing
(`renewal.standing_of`), an admin's suspension (`suspensions.suspended_by_admin`) and
the tools they maintain (`maintainers.maintained_among`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from membership import gates, maintainers, renewal
from membership.ledger import LedgerEntry
from membership.progress import Known
from membership.records import (
    AccountRecord,
    IdentificationRecord,
    IdentityRecord,
    JobRecord,
    PaymentRecord,
    QueuedWaiver,
    RequestRecord,
    SSHKeyRecord,
    SuspensionRecord,
    WaiverRecord,
)
from membership.store import Store
from policies.fees import FeePolicy
from policies.usernames import canonical_username


@dataclass(frozen=True)
class MemberFile:
    """One member's facts as read together (`read`); `name` as MediaWiki writes it."""

    name: str
    requests: list[RequestRecord]  # whose subject they are, newest first
    request_jobs: list[JobRecord]  # the provisioning jobs of those requests
    member_jobs: list[JobRecord]  # their own jobs: keys, suspend, restore
    identity: IdentityRecord | None
    terms_accepted: str | None  # when they accepted the terms' version asked about
    ssh_keys: list[SSHKeyRecord]  # the active ones
    identifications: list[IdentificationRecord]
    waivers: list[WaiverRecord]  # every one they asked, in order
    waiver_queue: list[QueuedWaiver]  # the fund's queue (everyone's), first first
    payments: list[PaymentRecord]
    ledger: list[LedgerEntry]  # the entries about them
    account: AccountRecord | None  # their person account
    suspension: SuspensionRecord | None  # renewal's open suspension of them
    tool_accounts: list[AccountRecord]  # every tool's, for the tools they maintain
    tool_requests: list[RequestRecord]  # the done tool requests (`maintainers.tool_requests`)
    maintainer_sets: dict[str, tuple[str, ...]]  # tools' maintainers as set directly
    maintainer_accounts: Mapping[str, AccountRecord]  # of their tool requests' maintainers

    def known(self) -> Known:
        """What `progress.known_about` reads for the member's requests: each is about
        them (`requests_for` finds them by subject), and a tool request's maintainers
        are known by their accounts."""
        me = frozenset({self.name})
        nobody: frozenset[str] = frozenset()
        return Known(
            identity=me if self.identity else nobody,
            terms=me if self.terms_accepted else nobody,
            ssh_key=me if self.ssh_keys else nobody,
            identified=me if self.identifications else nobody,
            waived=me if any(w.status == "granted" for w in self.waivers) else nobody,
            ledger={self.name: self.ledger} if self.ledger else {},
            accounts=self.maintainer_accounts,
        )

    def standing(self, fees: FeePolicy, today: date) -> renewal.Member:
        """Their standing as renewal sees it (`renewal.member_standing`)."""
        return renewal.standing_of(
            fees, self.name, self.ledger, self.waivers, self.account, self.suspension, today
        )

    @property
    def suspended_by_admin(self) -> bool:
        """Whether their account is suspended on an admin's decision, not renewal's
        (`suspensions.suspended_by_admin`)."""
        return bool(self.account and self.account.suspended and self.suspension is None)

    def tools(self) -> list[tuple[AccountRecord, tuple[str, ...]]]:
        """The tools they maintain, each with its maintainers (`tools_maintained`)."""
        return maintainers.maintained_among(
            self.name, self.tool_accounts, self.tool_requests, self.maintainer_sets
        )


def read(store: Store, username: str, terms_version: str) -> MemberFile:
    """`username`'s file, in one statement (two when they have tool requests)."""
    name = canonical_username(username)
    facts = store.read(
        requests=store.requests_for_query(name),
        request_jobs=store.request_jobs_query(name),
        member_jobs=store.member_jobs_query(name),
        identity=store.identity_query(name),
        terms_accepted=store.terms_accepted_query(name, terms_version),
        ssh_keys=store.ssh_keys_query(name),
        identifications=store.identifications_query(name),
        waivers=store.waivers_query(name),
        waiver_queue=store.queued_waivers_query(),
        payments=store.payments_query(name),
        ledger=store.ledger_entries_query(member=name),
        account=store.account_of_query(name),
        suspension=store.open_suspension_query(name),
        tool_accounts=store.accounts_query("tool"),
        tool_requests=maintainers.tool_requests_query(store),
        maintainer_sets=store.tool_maintainer_sets_query(),
    )
    named = _maintainers(facts["requests"])
    accounts = store.accounts_of(named) if named else {}
    return MemberFile(name=name, maintainer_accounts=accounts, **facts)


def _maintainers(requests: Sequence[RequestRecord]) -> set[str]:
    return {name for r in requests if r.type == "tool" for name in gates.tool_maintainers(r)}
