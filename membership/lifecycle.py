"""What a decision does to a request: the transitions of the lifecycle (contract §3).

Pure. `after_decision` takes the request's state and an authorised decision and
returns the state it moves to, or says why the decision changes nothing (the
request is closed, not yet valid, needs an override...). Authorisation is decided
before this, by `policies.decisions`; eligibility by `policies.eligibility`.
"""

from __future__ import annotations

from dataclasses import dataclass

from membership.states import CLOSED, State

# Until the requester's gates on the bridge exist, an eligible request waits for its
# requester to prove their identity: that is where an approval leaves it.
GATE_STATES = frozenset({State.AWAITING_IDENTITY, State.AWAITING_REQUESTER})
EXPIRES = frozenset(
    {
        State.RECEIVED,
        State.INVALID,
        State.NOT_ELIGIBLE,
        State.AWAITING_IDENTITY,
        State.AWAITING_REQUESTER,
        State.ON_HOLD,
    }
)


@dataclass(frozen=True)
class Outcome:
    state: State
    acted: bool
    code: str  # a message key: approved-waiting, approved, approved-override, declined,
    # on-hold, withdrawn, or for ignored decisions: closed, not-ready, needs-override,
    # already-approved, already-on-hold


def after_decision(
    state: State,
    kind: str,
    *,
    override: str = "",
    held_from: State | None = None,
) -> Outcome:
    if state in CLOSED:
        return Outcome(state, False, "closed")
    if kind == "decline":
        return Outcome(State.DECLINED, True, "declined")
    if kind == "withdraw":
        return Outcome(State.WITHDRAWN, True, "withdrawn")
    if kind == "hold":
        if state == State.ON_HOLD:
            return Outcome(state, False, "already-on-hold")
        return Outcome(State.ON_HOLD, True, "on-hold")
    if kind == "approve":
        return _approve(held_from if state == State.ON_HOLD and held_from else state, override)
    raise ValueError(f"{kind!r} is not a decision that changes state")


def _approve(state: State, override: str) -> Outcome:
    if state in (State.RECEIVED, State.INVALID):
        return Outcome(state, False, "not-ready")
    if state == State.NOT_ELIGIBLE:
        if not override:
            return Outcome(state, False, "needs-override")
        return Outcome(State.AWAITING_IDENTITY, True, "approved-override")
    if state in (State.APPROVED, State.PROVISIONING, State.FAILED):
        return Outcome(state, False, "already-approved")
    if state == State.AWAITING_APPROVAL:
        return Outcome(State.APPROVED, True, "approved")
    if override:
        return Outcome(state, True, "approved-override")
    return Outcome(state, True, "approved-waiting")


def is_open(state: str) -> bool:
    return state not in CLOSED
