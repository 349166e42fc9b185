"""Tool requests' gates (pure), the store's member jobs, and the account-change helpers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from membership import accounts, gates, progress
from membership.gates import Facts, Maintainer
from membership.records import RequestRecord
from membership.states import State
from membership.store import Store
from policies.fees import FeePolicy
from tests.builders import add_request

ALL = Facts(identity=True, terms=True, ssh_key=True, identified=True, fee=True)
FIELDS = {"type": "tool", "tool": "mytool", "license": "MIT", "maintainers": "Bob, Carol"}


def _tool(state: str = "awaiting-approval", **changes) -> RequestRecord:
    base = RequestRecord(
        id=1,
        page="P",
        key="k",
        heading="Tool request: mytool",
        requester="Alice",
        subject="Alice",
        on_behalf=False,
        type="tool",
        fields=FIELDS,
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


def _members(*names: str, suspended: tuple[str, ...] = ()) -> tuple[Maintainer, ...]:
    return tuple(Maintainer(n, account=True, suspended=n in suspended) for n in names)


def _gate(report: gates.GateReport, name: str) -> gates.Gate:
    return next(g for g in report.gates if g.name == name)


def test_good_standing_needs_an_account_that_is_not_suspended() -> None:
    assert gates.in_good_standing(Maintainer("A", account=True))
    assert not gates.in_good_standing(Maintainer("A"))
    assert not gates.in_good_standing(Maintainer("A", account=True, suspended=True))


def test_the_maintainers_are_those_named_and_the_requester() -> None:
    assert gates.tool_maintainers(_tool()) == ("Alice", "Bob", "Carol")
    record = _tool(fields={**FIELDS, "maintainers": "bob, Alice"})
    assert gates.tool_maintainers(record) == ("Alice", "Bob")


def test_a_tool_with_members_in_good_standing_is_approved() -> None:
    record = _tool(approved_by="Admin")
    report = gates.evaluate(record, replace(ALL, maintainers=_members("Alice", "Bob", "Carol")))
    assert _gate(report, "licence").done and _gate(report, "maintainers").done
    assert report.state == State.APPROVED


@pytest.mark.parametrize(
    ("maintainers", "pending"),
    [
        (_members("Alice", "Bob"), "Carol"),  # Carol has no account
        (_members("Alice", "Bob", "Carol", suspended=("Bob",)), "Bob"),
        ((), "Alice, Bob, Carol"),
    ],
)
def test_a_maintainer_not_in_good_standing_holds_the_tool(maintainers, pending) -> None:
    record = _tool(approved_by="Admin")
    report = gates.evaluate(record, replace(ALL, maintainers=maintainers))
    gate = _gate(report, "maintainers")
    assert not gate.done and gate.by == "requester"
    assert gate.next_step.endswith(f": {pending}.")
    assert report.state == State.AWAITING_REQUESTER
    assert report.next_step == gate.next_step


@pytest.mark.parametrize("licence", ["", "Proprietary", "CC-BY-NC-4.0", "not a licence ("])
def test_a_licence_that_is_not_osi_approved_holds_the_tool(licence) -> None:
    record = _tool(fields={**FIELDS, "license": licence}, approved_by="Admin")
    report = gates.evaluate(record, replace(ALL, maintainers=_members("Alice", "Bob", "Carol")))
    assert not _gate(report, "licence").done
    assert report.state == State.AWAITING_REQUESTER


@pytest.mark.parametrize("licence", ["MIT", "GPL-3.0-or-later", "MIT OR CC-BY-NC-4.0"])
def test_osi_licences_pass(licence) -> None:
    record = _tool(fields={**FIELDS, "license": licence})
    report = gates.evaluate(record, ALL)
    assert _gate(report, "licence").done


def test_an_account_request_has_no_tool_gates() -> None:
    record = _tool(type="account", fields={"purpose": "bots"}, heading="Account request")
    names = [g.name for g in gates.evaluate(record, ALL).gates]
    assert "licence" not in names and "maintainers" not in names


# -- the store side ----------------------------------------------------------------


def _add_tool(store: Store):
    return add_request(
        store, "Alice", page="P", key="t1", type="tool", fields=FIELDS, state="awaiting-requester"
    )


def test_maintainer_facts_read_accounts_and_suspensions(store) -> None:
    record = _add_tool(store)
    store.record_account("alice", "person", "Alice", 5001)
    store.record_account("bob", "person", "Bob", 5002)
    accounts.enqueue_suspend(store, "Bob", "membership lapsed")
    facts = progress.maintainer_facts(store, record)
    assert facts == (
        Maintainer("Alice", account=True),
        Maintainer("Bob", account=True, suspended=True),
        Maintainer("Carol"),
    )
    accounts.enqueue_restore(store, "Bob")
    assert progress.maintainer_facts(store, record)[1] == Maintainer("Bob", account=True)


def test_a_maintainer_acting_moves_the_tool_request_on(store) -> None:
    record = _add_tool(store)
    fees = FeePolicy()
    for name in ("Alice", "Bob", "Carol"):
        store.record_account(name.lower(), "person", name, None)
    store.update_request(record.id, approved_by="Admin")
    # Carol is not the subject; her acting re-evaluates the tool request naming her.
    changed = progress.advance(store, "Carol", "Carol", terms_version="1", fees=fees)
    assert [r.id for r in changed] == [record.id]


def test_a_member_job_is_one_per_kind_and_refreshed(store) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert accounts.keys_changed(store, "Nobody") is None  # no account: nothing to do
    store.record_account("jane", "person", "Jane", 5001)
    first = accounts.keys_changed(store, "Jane", now=now)
    again = accounts.keys_changed(store, "Jane", now=now + timedelta(seconds=5))
    assert first is not None and again is not None
    assert first.id == again.id and len(store.member_jobs("Jane")) == 1
    assert again.member == "Jane" and again.request_id is None
    leased = store.lease_job("w", now + timedelta(seconds=10))
    assert leased is not None and leased.id == first.id
    store.fail_job(leased.id, "w", "directory down", now + timedelta(seconds=10), retry=False)
    refreshed = accounts.keys_changed(store, "Jane", now=now + timedelta(seconds=20))
    assert refreshed is not None
    assert (refreshed.state, refreshed.attempts, refreshed.last_error) == ("queued", 0, None)
    assert store.approved_without_job() == []


def test_the_last_of_suspend_and_restore_wins(store) -> None:
    store.record_account("jane", "person", "Jane", 5001)
    accounts.enqueue_suspend(store, "Jane", "membership lapsed")
    assert store.account_of("Jane").suspended
    accounts.enqueue_restore(store, "Jane")
    states = {j.kind: j.state for j in store.member_jobs("Jane")}
    assert states == {"suspend": "cancelled", "restore": "queued"}
    assert not store.account_of("Jane").suspended
    accounts.enqueue_suspend(store, "Jane", "again")
    states = {j.kind: j.state for j in store.member_jobs("Jane")}
    assert states == {"suspend": "queued", "restore": "cancelled"}
    assert len(store.member_jobs("Jane")) == 2
