"""The states of a request (the values of `{{ATS status}}`) and what they mean.

Pure data: which states exist, which are closed, which the bot may still
re-evaluate when the requester edits the request, and their order for display.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    RECEIVED = "received"
    INVALID = "invalid"
    NOT_ELIGIBLE = "not-eligible"
    AWAITING_IDENTITY = "awaiting-identity"
    AWAITING_REQUESTER = "awaiting-requester"
    AWAITING_APPROVAL = "awaiting-approval"
    APPROVED = "approved"
    PROVISIONING = "provisioning"
    DONE = "done"
    ON_HOLD = "on-hold"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    FAILED = "failed"


CLOSED = frozenset({State.DONE, State.DECLINED, State.WITHDRAWN, State.EXPIRED})

# Before anyone has acted on a request, an edit by the requester re-runs the
# checks from scratch: fixing an invalid request or gaining edits counts.
REEVALUATED_ON_EDIT = frozenset(
    {State.RECEIVED, State.INVALID, State.NOT_ELIGIBLE, State.AWAITING_IDENTITY}
)


def is_state(value: str) -> bool:
    return value in State._value2member_map_
