"""The gates a request passes before provisioning, and the state they put it in (contract §3).

Pure. `Facts` is what the store knows about the request's subject (identity proven,
terms accepted at the current version, an active SSH key, identification attested,
fee paid or waiver granted, eligible or overridden). `evaluate` returns a `GateReport`:
every gate with done/pending, who must act, what to do next, and the state the
request should be in — `awaiting-identity` until the identity is proven,
`awaiting-requester` while the requester's other gates are open, `awaiting-approval`
when only the admins' approval is missing, `approved` when the approval and every
gate are there. Only those four states are moved by the gates; any other state
(on hold, declined, provisioning, …) is left alone.

A tool request adds its own gates (`_tool_gates`): the licence is OSI-approved
(`policies.requests.licence_problem`), and every maintainer — those the request names
and its requester, the people the tool's group is made of — is a member in good
standing (`in_good_standing`: has a shell account that is not suspended). The facts
about each maintainer come in `Facts.maintainers`.
"""

from __future__ import annotations

from dataclasses import dataclass

from membership.records import RequestRecord
from membership.states import State
from policies.requests import licence_problem
from policies.requests import maintainers as named_maintainers
from policies.usernames import canonical_username

# The states the bridge's facts decide between; the bot's decisions decide the rest.
GATED = frozenset(
    {
        State.AWAITING_IDENTITY,
        State.AWAITING_REQUESTER,
        State.AWAITING_APPROVAL,
        State.APPROVED,
    }
)


@dataclass(frozen=True)
class Facts:
    identity: bool = False  # the subject logged in with OAuth as that wiki account
    terms: bool = False  # accepted the current version of the terms
    ssh_key: bool = False  # has at least one active, valid key
    identified: bool = False  # an admin attested identification
    fee: bool = False  # paid for the current year, or a waiver granted
    eligible: bool = True  # passed the eligibility policy, or an admin overrode it
    maintainers: tuple[Maintainer, ...] = ()  # a tool request's maintainers


@dataclass(frozen=True)
class Maintainer:
    username: str
    account: bool = False  # holds a shell account (provisioned, done)
    suspended: bool = False  # the account is suspended (e.g. the membership lapsed)


def in_good_standing(maintainer: Maintainer) -> bool:
    """A member in good standing: has an account and it is not suspended."""
    return maintainer.account and not maintainer.suspended


def tool_maintainers(record: RequestRecord) -> tuple[str, ...]:
    """The wiki users a tool is made for: the maintainers named, and the requester."""
    people = {canonical_username(m) for m in named_maintainers(record.fields)}
    people.add(canonical_username(record.requester))
    return tuple(sorted(p for p in people if p))


@dataclass(frozen=True)
class Gate:
    name: str  # eligible | identity | terms | ssh-key | identification | fee | licence |
    # maintainers | approval
    done: bool
    by: str  # requester | admin
    label: str
    next_step: str


@dataclass(frozen=True)
class GateReport:
    gates: tuple[Gate, ...]
    state: State  # the state the request should be in

    @property
    def pending(self) -> tuple[Gate, ...]:
        return tuple(g for g in self.gates if not g.done)

    @property
    def next_gate(self) -> Gate | None:
        """The gate the requester is told about: their own first, else the first pending
        one; None when every gate is passed."""
        for gate in self.pending:
            if gate.by == "requester":
                return gate
        return self.pending[0] if self.pending else None

    @property
    def next_step(self) -> str:
        """What happens next, said to the requester."""
        gate = self.next_gate
        return gate.next_step if gate is not None else "Nothing: every gate is passed."

    def summary(self) -> dict[str, bool]:
        """Gate name → done; public-safe (says settled/pending, never paid/waived)."""
        return {g.name: g.done for g in self.gates}


def evaluate(record: RequestRecord, facts: Facts) -> GateReport:
    approved = bool(record.approved_by)
    gates = [
        Gate(
            "eligible",
            facts.eligible,
            "admin",
            "Established Wikimedian (or approved by override)",
            "An admin may approve with an override; otherwise the request cannot go on.",
        ),
        Gate(
            "identity",
            facts.identity,
            "requester",
            "Identity proven by logging in with your wiki account",
            "Log in to the bridge with your wiki account.",
        ),
        Gate(
            "terms",
            facts.terms,
            "requester",
            "Terms of use accepted",
            "Read and accept the terms of use.",
        ),
        Gate(
            "ssh-key",
            facts.ssh_key,
            "requester",
            "An SSH public key",
            "Add your SSH public key.",
        ),
        Gate(
            "fee",
            facts.fee,
            "requester",
            "Membership fee settled",
            "Pay the yearly fee, or ask for a waiver.",
        ),
        Gate(
            "identification",
            facts.identified,
            "admin",
            "Identified privately to a chapter admin",
            "Contact a chapter admin to identify privately; they record that you did.",
        ),
        *_tool_gates(record, facts),
        Gate(
            "approval",
            approved,
            "admin",
            "Approved on-wiki by a chapter admin",
            "Wait for a chapter admin to approve the request on-wiki.",
        ),
    ]
    return GateReport(tuple(gates), _state(record, facts, gates, approved))


def _tool_gates(record: RequestRecord, facts: Facts) -> list[Gate]:
    if record.type != "tool":
        return []
    licence = (record.fields.get("license") or "").strip()
    problem = licence_problem(licence) if licence else True
    known = {m.username: m for m in facts.maintainers}
    wanted = tool_maintainers(record)
    missing = [name for name in wanted if not in_good_standing(known.get(name, Maintainer(name)))]
    return [
        Gate(
            "licence",
            problem is None,
            "requester",
            "The tool's licence is OSI-approved",
            "Give an OSI-approved licence (an SPDX expression) in the request on the wiki.",
        ),
        Gate(
            "maintainers",
            not missing,
            "requester",
            "Every maintainer is a member in good standing",
            "These maintainers must first be members with an active shell account: "
            + ", ".join(missing)
            + "."
            if missing
            else "Nothing: every maintainer is a member in good standing.",
        ),
    ]


def _state(record: RequestRecord, facts: Facts, gates: list[Gate], approved: bool) -> State:
    current = State(record.state)
    if current not in GATED or not facts.eligible:
        return current
    if not facts.identity:
        return State.AWAITING_IDENTITY
    if not all(g.done for g in gates if g.name != "approval"):
        return State.AWAITING_REQUESTER
    return State.APPROVED if approved else State.AWAITING_APPROVAL


def eligible(record: RequestRecord) -> bool:
    """Whether the bot found the subject eligible, or an admin overrode the policy."""
    if record.override:
        return True
    return State(record.state) not in (State.RECEIVED, State.INVALID, State.NOT_ELIGIBLE)
