"""Who may add which decision, and what an authorised decision does to a request."""

from __future__ import annotations

import pytest

from membership.lifecycle import after_decision
from membership.states import State
from policies.decisions import authorize
from policies.eligibility import EligibilityPolicy

POLICY = EligibilityPolicy(admins=("ChapterAdmin",), admin_group="toolserver-admin")


@pytest.mark.parametrize(
    ("kind", "actor", "groups", "allowed", "reason"),
    [
        ("approve", "ChapterAdmin", (), True, "admin"),
        ("approve", "chapterAdmin", (), True, "admin"),
        ("approve", "Newcomer", (), False, "not-admin"),
        ("approve", "Grouped", ("toolserver-admin",), True, "admin"),
        ("decline", "Newcomer", (), False, "not-admin"),
        ("hold", "ChapterAdmin", (), True, "admin"),
        ("approve", "Veteran", (), False, "not-admin"),
        ("withdraw", "Veteran", (), True, "requester"),
        ("withdraw", "Dormant", (), True, "requester"),  # the account it is for
        ("withdraw", "ChapterAdmin", (), True, "admin"),
        ("withdraw", "Newcomer", (), False, "not-requester"),
        ("recheck", "Newcomer", (), True, "anyone"),
        ("recheck", None, (), True, "anyone"),
        ("approve", None, (), False, "unknown-author"),
    ],
)
def test_authorize(
    kind: str, actor: str | None, groups: tuple[str, ...], allowed: bool, reason: str
) -> None:
    result = authorize(
        POLICY, kind, actor, requester="Veteran", subject="Dormant", actor_groups=groups
    )
    assert (result.allowed, result.reason) == (allowed, reason)


def test_no_admin_decides_their_own_request() -> None:
    for kind in ("approve", "decline", "hold"):
        own = authorize(
            POLICY, kind, "ChapterAdmin", requester="ChapterAdmin", subject="ChapterAdmin"
        )
        assert (own.allowed, own.reason) == (False, "own-request")
        behalf = authorize(
            POLICY, kind, "ChapterAdmin", requester="Veteran", subject="ChapterAdmin"
        )
        assert behalf.reason == "own-request"


def test_unknown_decision_is_an_error() -> None:
    with pytest.raises(ValueError):
        authorize(POLICY, "promote", "ChapterAdmin", requester="a", subject="a")


@pytest.mark.parametrize(
    ("state", "kind", "override", "held_from", "expected", "acted", "code"),
    [
        (
            State.AWAITING_IDENTITY,
            "approve",
            "",
            None,
            State.AWAITING_IDENTITY,
            True,
            "approved-waiting",
        ),
        (State.AWAITING_APPROVAL, "approve", "", None, State.APPROVED, True, "approved"),
        (State.NOT_ELIGIBLE, "approve", "", None, State.NOT_ELIGIBLE, False, "needs-override"),
        (
            State.NOT_ELIGIBLE,
            "approve",
            "known",
            None,
            State.AWAITING_IDENTITY,
            True,
            "approved-override",
        ),
        (State.INVALID, "approve", "x", None, State.INVALID, False, "not-ready"),
        (State.APPROVED, "approve", "", None, State.APPROVED, False, "already-approved"),
        (State.ON_HOLD, "approve", "", State.AWAITING_APPROVAL, State.APPROVED, True, "approved"),
        (
            State.ON_HOLD,
            "approve",
            "",
            State.NOT_ELIGIBLE,
            State.NOT_ELIGIBLE,
            False,
            "needs-override",
        ),
        (State.AWAITING_IDENTITY, "hold", "", None, State.ON_HOLD, True, "on-hold"),
        (State.ON_HOLD, "hold", "", None, State.ON_HOLD, False, "already-on-hold"),
        (State.ON_HOLD, "decline", "", None, State.DECLINED, True, "declined"),
        (State.APPROVED, "withdraw", "", None, State.WITHDRAWN, True, "withdrawn"),
        (State.DECLINED, "approve", "", None, State.DECLINED, False, "closed"),
        (State.WITHDRAWN, "decline", "", None, State.WITHDRAWN, False, "closed"),
        (State.EXPIRED, "hold", "", None, State.EXPIRED, False, "closed"),
        (State.DONE, "withdraw", "", None, State.DONE, False, "closed"),
    ],
)
def test_after_decision(
    state: State,
    kind: str,
    override: str,
    held_from: State | None,
    expected: State,
    acted: bool,
    code: str,
) -> None:
    outcome = after_decision(state, kind, override=override, held_from=held_from)
    assert (outcome.state, outcome.acted, outcome.code) == (expected, acted, code)
