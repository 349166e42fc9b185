"""The gates and the state they put a request in (pure), and the waiver rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from membership import gates, waivers
from membership.gates import Facts
from membership.records import RequestRecord, WaiverRecord
from membership.states import State
from policies.fees import FeePolicy, fee_settled

ALL = Facts(identity=True, terms=True, ssh_key=True, identified=True, fee=True)


def _record(state: str = "awaiting-identity", **changes) -> RequestRecord:
    base = RequestRecord(
        id=1,
        page="P",
        key="k",
        heading="Account request: Example",
        requester="Example",
        subject="Example",
        on_behalf=False,
        type="account",
        fields={},
        content_hash="h",
        intro_revid=1,
        intro_timestamp="2025-01-01T00:00:00Z",
        state=state,
        detail={},
        lang="en",
        created_at="2025-01-01T00:00:00+00:00",
        updated_at="2025-01-01T00:00:00+00:00",
    )
    return replace(base, **changes)


def test_no_identity_awaits_identity() -> None:
    report = gates.evaluate(_record(), Facts())
    assert report.state == State.AWAITING_IDENTITY
    assert report.next_step == "Log in to the bridge with your wiki account."


def test_identity_proven_awaits_requester_and_names_next_step() -> None:
    report = gates.evaluate(_record(), Facts(identity=True))
    assert report.state == State.AWAITING_REQUESTER
    assert [g.name for g in report.pending] == [
        "terms",
        "ssh-key",
        "fee",
        "identification",
        "approval",
    ]
    assert "terms" in report.next_step


def test_identification_is_needed_before_approval_waits() -> None:
    facts = replace(ALL, identified=False)
    report = gates.evaluate(_record("awaiting-requester"), facts)
    assert report.state == State.AWAITING_REQUESTER
    assert "admin" in report.next_step


def test_all_requester_gates_await_approval() -> None:
    assert gates.evaluate(_record("awaiting-requester"), ALL).state == State.AWAITING_APPROVAL


def test_earlier_approval_becomes_approved_at_last_gate() -> None:
    record = _record("awaiting-requester", approved_by="Admin")
    assert gates.evaluate(record, replace(ALL, fee=False)).state == State.AWAITING_REQUESTER
    report = gates.evaluate(record, ALL)
    assert report.state == State.APPROVED
    assert not report.pending


def test_lost_gate_moves_approved_back() -> None:
    record = _record("approved", approved_by="Admin")
    assert gates.evaluate(record, replace(ALL, ssh_key=False)).state == State.AWAITING_REQUESTER


@pytest.mark.parametrize("state", ["on-hold", "declined", "provisioning", "done", "invalid"])
def test_other_states_are_left_alone(state: str) -> None:
    assert gates.evaluate(_record(state), ALL).state == State(state)


def test_not_eligible_without_override_is_left_alone() -> None:
    record = _record("not-eligible")
    assert not gates.eligible(record)
    assert gates.eligible(replace(record, override="long-time contributor"))


def test_summary_is_public_safe_booleans() -> None:
    summary = gates.evaluate(_record(), ALL).summary()
    assert set(summary.values()) <= {True, False}
    assert "fee" in summary


def test_fee_settled_by_payments_in_the_last_year() -> None:
    policy = FeePolicy(annual_fee=2000, currency="USD")
    today = date(2025, 6, 1)
    assert fee_settled(policy, [(2000, "USD", date(2025, 1, 1))], today)
    assert not fee_settled(policy, [(2000, "USD", date(2024, 1, 1))], today)
    assert not fee_settled(policy, [(2000, "EUR", date(2025, 1, 1))], today)
    assert fee_settled(policy, [(1000, "USD", date(2025, 1, 1)), (1000, "USD", today)], today)


def _waiver(**changes) -> WaiverRecord:
    base = WaiverRecord(1, "Member", "private", "requested", "t", None, None, None, None)
    return replace(base, **changes)


def test_waiver_needs_a_second_different_admin() -> None:
    first = waivers.decide(_waiver(), "A1", "grant", needs_second=True)
    assert (first.operation, first.status) == ("decide", "requested")
    proposed = _waiver(decided_by="A1")
    with pytest.raises(waivers.WaiverRuleError, match="second admin"):
        waivers.decide(proposed, "A1", "grant", needs_second=True)
    second = waivers.decide(proposed, "A2", "grant", needs_second=True)
    assert (second.operation, second.status) == ("confirm", "granted")


def test_waiver_rules() -> None:
    assert waivers.decide(_waiver(), "A1", "grant", needs_second=False).status == "granted"
    assert waivers.decide(_waiver(), "A1", "refuse", needs_second=True).status == "refused"
    with pytest.raises(waivers.WaiverRuleError, match="own waiver"):
        waivers.decide(_waiver(), "member", "grant", needs_second=False)
    with pytest.raises(waivers.WaiverRuleError, match="already granted"):
        waivers.decide(_waiver(status="granted"), "A1", "grant", needs_second=False)
