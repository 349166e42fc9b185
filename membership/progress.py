"""Moving requests forward when the bridge records a fact: the store side of the gates.

`facts_from` gives the pure `gates.Facts` about a request's subject from what the store
knows. A page listing requests asks `reports_for` about all of them at once:
`known_about` reads what is known of every person they are about (their subjects, and a
tool request's maintainers' accounts) in a fixed number of queries, each asking for all
the names, and the gates are evaluated per request from that, so a page costs the same
queries for ten requests as for a thousand. `advance` re-evaluates, the same way, every
open request of one member after the bridge recorded something (a login, accepted
terms, a key, a payment, a waiver, an identification) — and the open tool requests
naming them as a maintainer — and writes the new state and gate summary, with an audit
entry per change. The bot notices the state change and says it on-wiki; nothing here
writes wikitext. The audit evidence holds gate names and states only, never a private fact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from membership import gates
from membership.ledger import LedgerEntry, net_payments
from membership.records import AccountRecord, RequestRecord
from membership.states import CLOSED
from membership.store import Store
from policies.fees import FeePolicy, fee_settled
from policies.times import iso
from policies.usernames import canonical_username


@dataclass(frozen=True)
class Known:
    """What the store knows of the people some requests are about (their subjects and a
    tool request's maintainers), read at once: who proved their identity, accepted the
    terms (the version asked about), has an active key, was identified, has a granted
    waiver; each one's ledger entries; and the shell account of those who hold one."""

    identity: frozenset[str]
    terms: frozenset[str]
    ssh_key: frozenset[str]
    identified: frozenset[str]
    waived: frozenset[str]
    ledger: Mapping[str, Sequence[LedgerEntry]]
    accounts: Mapping[str, AccountRecord]


def subject_of(record: RequestRecord) -> str:
    """The member a request's gates are about: its subject (else its requester)."""
    return canonical_username(record.subject or record.requester)


def known_about(store: Store, records: Iterable[RequestRecord], terms_version: str) -> Known:
    """What the store knows of everyone `records` are about, in seven queries however
    many records there are (each asks for all the names at once)."""
    records = list(records)
    people = {subject_of(r) for r in records}
    maintainers = {name for r in records if r.type == "tool" for name in gates.tool_maintainers(r)}
    ledger: dict[str, list[LedgerEntry]] = {}
    for entry in store.ledger_entries_of(people):
        ledger.setdefault(entry.member, []).append(entry)
    return Known(
        identity=frozenset(store.with_identity(people)),
        terms=frozenset(store.with_terms(people, terms_version)),
        ssh_key=frozenset(store.with_active_key(people)),
        identified=frozenset(store.with_identification(people)),
        waived=frozenset(store.with_granted_waiver(people)),
        ledger=ledger,
        accounts=store.accounts_of(maintainers),
    )


def facts_from(known: Known, record: RequestRecord, fees: FeePolicy, today: date) -> gates.Facts:
    """The gates' facts about `record`'s subject, from what was read (`known_about`)."""
    subject = subject_of(record)
    # Net of refunds: the ledger mirrors every payment and holds the refunds.
    payments = net_payments(known.ledger.get(subject, ()), subject)
    return gates.Facts(
        identity=subject in known.identity,
        terms=subject in known.terms,
        ssh_key=subject in known.ssh_key,
        identified=subject in known.identified,
        fee=subject in known.waived or fee_settled(fees, payments, today),
        eligible=gates.eligible(record),
        maintainers=_maintainers(known.accounts, record),
    )


def maintainer_facts(store: Store, record: RequestRecord) -> tuple[gates.Maintainer, ...]:
    """For a tool request, what the store knows of each maintainer's standing."""
    if record.type != "tool":
        return ()
    return _maintainers(store.accounts_of(gates.tool_maintainers(record)), record)


def _maintainers(
    accounts: Mapping[str, AccountRecord], record: RequestRecord
) -> tuple[gates.Maintainer, ...]:
    if record.type != "tool":
        return ()
    found = []
    for name in gates.tool_maintainers(record):
        account = accounts.get(name)
        found.append(
            gates.Maintainer(
                name, account=account is not None, suspended=bool(account and account.suspended)
            )
        )
    return tuple(found)


def reports_for(
    store: Store, records: Sequence[RequestRecord], terms_version: str, fees: FeePolicy
) -> list[gates.GateReport]:
    """Each record's gate report, in order; the facts read once for all of them."""
    known = known_about(store, records, terms_version)
    return reports_from(known, records, fees, datetime.now(UTC).date())


def reports_from(
    known: Known, records: Sequence[RequestRecord], fees: FeePolicy, today: date
) -> list[gates.GateReport]:
    """Each record's gate report, in order, from what was read of the people they are
    about (`known_about`, or `member_file.MemberFile.known` for one member's page)."""
    return [gates.evaluate(r, facts_from(known, r, fees, today)) for r in records]


def report_for(
    store: Store, record: RequestRecord, terms_version: str, fees: FeePolicy
) -> gates.GateReport:
    return reports_for(store, [record], terms_version, fees)[0]


def requests_of(store: Store, username: str) -> list[RequestRecord]:
    """The requests whose subject is `username` (the account they are for), newest first.

    Both names are compared as MediaWiki writes them (`canonical_username`): the store
    keeps each request's subject in that form too (`subject_key`, indexed), so this is
    one query on an index, not a reading of every request."""
    return store.requests_for(username)


def _affected(store: Store, username: str) -> list[RequestRecord]:
    """`username`'s requests, and the open tool requests naming them as a maintainer."""
    own = requests_of(store, username)
    wanted = canonical_username(username)
    seen = {r.id for r in own}
    tools = [
        r
        for r in store.requests()
        if r.type == "tool"
        and r.id not in seen
        and r.state not in CLOSED
        and wanted in gates.tool_maintainers(r)
    ]
    return own + tools


def advance(
    store: Store, username: str, actor: str, *, terms_version: str, fees: FeePolicy
) -> list[RequestRecord]:
    """Re-evaluate `username`'s open requests; return those whose state changed."""
    changed = []
    with store.transaction():
        records = [r for r in _affected(store, username) if r.state not in CLOSED]
        reports = reports_for(store, records, terms_version, fees)
        for record, report in zip(records, reports, strict=True):
            summary = json.dumps(report.summary(), sort_keys=True)
            if report.state == record.state and summary == (record.gates or ""):
                continue
            values: dict[str, object] = {"gates": summary, "progress_at": iso()}
            if report.state != record.state:
                values["state"] = str(report.state)
                store.audit(
                    actor,
                    "gates-state",
                    record.id,
                    before=record.state,
                    after=str(report.state),
                    pending=[g.name for g in report.pending],
                )
                changed.append(store.update_request(record.id, **values))
            else:
                store.update_request(record.id, **values)
    return changed
