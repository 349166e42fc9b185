"""The daily re-check's pure part (findings, changes) and its store part (one audit
entry per change, however often and however many copies run). `ats members check`
against a wiki that cannot be reached is in tests/integration/test_standing.py."""

from __future__ import annotations

import multiprocessing
import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from membership import standing
from membership.standing import Finding, compare, findings_of
from membership.store import Store
from policies.eligibility import Block, UserRecord

T0, T1 = "2026-11-01T06:00:00+00:00", "2026-11-02T06:00:00+00:00"
BLOCK = Block(wiki="enwiki", by="", reason="Sockpuppetry", expiry="2026-12-24T00:00:00Z")


def blocked(wiki: str = "enwiki", reason: str = "Sockpuppetry") -> Finding:
    return Finding("blocked", wiki=wiki, expiry="2026-12-24T00:00:00Z", reason=reason)


# -- findings ------------------------------------------------------------------


def test_a_clean_record_has_no_findings() -> None:
    assert findings_of(UserRecord("Alice", editcount=900)) == ()


def test_lock_and_blocks_are_kept_as_the_wiki_gave_them() -> None:
    record = UserRecord(
        "Alice",
        locked=True,
        blocks=(BLOCK, Block("dewiki", "", "Vandalism", "infinity")),
        source="central",
    )
    assert findings_of(record) == (
        Finding("locked"),
        Finding("blocked", wiki="dewiki", expiry="infinity", reason="Vandalism"),
        Finding("blocked", wiki="enwiki", expiry="2026-12-24T00:00:00Z", reason="Sockpuppetry"),
    )


def test_a_partial_block_does_not_count_and_a_local_block_names_the_wiki() -> None:
    partial = Block("", "Admin", "Edit warring on one page", "infinite", partial=True)
    assert findings_of(UserRecord("Alice", blocks=(partial,))) == ()
    local = Block("", "Admin", "Spam", "infinite")
    [finding] = findings_of(UserRecord("Alice", blocks=(local,)), home_wiki="testwiki")
    assert finding == Finding("blocked", wiki="testwiki", expiry="infinite", reason="Spam")


@pytest.mark.parametrize(("status", "kind"), [("missing", "missing"), ("hidden", "hidden")])
def test_a_missing_or_hidden_account_is_a_finding(status: str, kind: str) -> None:
    assert findings_of(UserRecord("Alice", status=status)) == (Finding(kind),)


def test_findings_read_as_one_phrase_each() -> None:
    assert blocked().describe() == "blocked on enwiki until 2026-12-24 00:00 UTC: Sockpuppetry"
    forever = Finding("blocked", wiki="dewiki", expiry="infinity", reason="")
    assert forever.describe() == "blocked on dewiki indefinitely (no reason given)"
    assert Finding("locked").describe() == "locked (globally)"
    assert "renamed" in Finding("missing").describe()
    assert "suppressed" in Finding("hidden").describe()


# -- changes -------------------------------------------------------------------


def test_a_new_lock_flags_and_is_stamped_with_when_it_was_seen() -> None:
    change = compare("Alice", (), [Finding("locked")], T0)
    assert change.action == "standing-flagged" and change.state == "flagged"
    assert change.new == (Finding("locked", seen=T0),)


def test_the_same_findings_again_change_nothing_and_keep_their_first_sighting() -> None:
    first = compare("Alice", (), [blocked()], T0)
    again = compare("Alice", first.findings, [blocked()], T1)
    assert again.action is None and not again.changed
    assert again.findings == (replace(blocked(), seen=T0),)


def test_a_second_block_flags_again_with_only_the_new_one() -> None:
    first = compare("Alice", (), [blocked()], T0)
    more = compare("Alice", first.findings, [blocked(), blocked("dewiki", "Spam")], T1)
    assert more.action == "standing-flagged"
    assert [f.wiki for f in more.new] == ["dewiki"]
    assert [f.seen for f in more.findings] == [T1, T0]  # dewiki, enwiki


def test_all_gone_is_cleared_and_a_changed_block_is_new() -> None:
    first = compare("Alice", (), [blocked()], T0)
    cleared = compare("Alice", first.findings, [], T1)
    assert cleared.action == "standing-cleared" and cleared.state == "good"
    assert cleared.gone == first.findings
    reblocked = compare("Alice", first.findings, [blocked(reason="Evasion")], T1)
    assert reblocked.action == "standing-flagged"  # new facts: the admins look again
    assert [f.reason for f in reblocked.gone] == ["Sockpuppetry"]


# -- the store -----------------------------------------------------------------


def audit(store: Store) -> list[str]:
    return [e.action for e in store.audit_log() if e.action.startswith("standing-")]


def test_recording_keeps_one_entry_per_change(tmp_path: Path) -> None:
    store = Store(tmp_path / "ats.sqlite")
    day1 = datetime(2026, 11, 1, 6, tzinfo=UTC)
    day2 = datetime(2026, 11, 2, 6, tzinfo=UTC)
    assert standing.record(store, "alice", [], day1).action is None
    assert standing.standing_of(store, "Alice").state == "good"  # type: ignore[union-attr]
    assert standing.record(store, "Alice", [blocked()], day1).action == "standing-flagged"
    assert standing.record(store, "Alice", [blocked()], day2).action is None
    now = standing.standing_of(store, "Alice")
    assert now is not None and now.state == "flagged"
    assert now.flagged_since == day1.isoformat() and now.last_checked == day2.isoformat()
    assert now.describe() == "blocked on enwiki until 2026-12-24 00:00 UTC: Sockpuppetry"
    assert [s.member for s in standing.flagged(store)] == ["Alice"]
    [entry] = [e for e in store.audit_log() if e.action == "standing-flagged"]
    assert entry.evidence["member"] == "Alice"
    assert entry.evidence["found"] == [
        {
            "kind": "blocked",
            "wiki": "enwiki",
            "expiry": "2026-12-24T00:00:00Z",
            "reason": "Sockpuppetry",
            "seen": day1.isoformat(),
        }
    ]
    assert standing.record(store, "Alice", [], day2).action == "standing-cleared"
    assert standing.record(store, "Alice", [], day2).action is None
    after = standing.standing_of(store, "Alice")
    assert after is not None and after.state == "good" and after.flagged_since is None
    assert after.cleared_at == day2.isoformat()
    assert standing.flagged(store) == []
    assert audit(store) == ["standing-flagged", "standing-cleared"]


def test_two_threads_at_once_record_the_change_once(tmp_path: Path) -> None:
    path = tmp_path / "ats.sqlite"
    Store(path).close()
    start = threading.Barrier(8)

    def check() -> None:
        store = Store(path)
        start.wait()
        for _ in range(5):
            standing.record(store, "Alice", [Finding("locked"), blocked()])
        store.close()

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert audit(Store(path)) == ["standing-flagged"]


def _process_check(path: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    store = Store(path)
    barrier.wait()
    for _ in range(5):
        standing.record(store, "Bob", [Finding("locked")])
    store.close()


def test_two_processes_at_once_record_the_change_once(tmp_path: Path) -> None:
    path = str(tmp_path / "ats.sqlite")
    Store(path).close()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [context.Process(target=_process_check, args=(path, barrier)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert audit(Store(path)) == ["standing-flagged"]


def test_the_summary_names_who_was_flagged() -> None:
    report = standing.CheckReport()
    report.add(compare("Alice", (), [Finding("locked")], T0))
    report.add(compare("Bob", (blocked(),), [], T0))
    report.add(compare("Carol", (), [], T0))
    report.unreachable.append("Dave")
    assert report.summary() == (
        "checked 4 members: 1 newly flagged (Alice: locked (globally)), "
        "1 cleared (Bob), 1 not reachable"
    )


def test_what_centralauth_says_becomes_findings() -> None:
    from bot.wiki import parse_global_user

    # meta=globaluserinfo&guiprop=editcount|merged|groups, formatversion 2, as the real
    # extension answers for a locked account blocked on one of its two wikis.
    answer = {
        "home": "metawiki",
        "id": 7,
        "name": "Later Locked",
        "locked": True,
        "groups": [],
        "editcount": 812,
        "registration": "2019-12-01T00:00:00Z",
        "merged": [
            {
                "wiki": "enwiki",
                "url": "http://127.0.0.1:18081",
                "timestamp": "2019-12-01T00:00:00Z",
                "method": "login",
                "editcount": 812,
                "registration": "2019-12-01T00:00:00Z",
                "blocked": {"expiry": "infinity", "reason": "Long-term abuse"},
            },
            {
                "wiki": "metawiki",
                "url": "http://127.0.0.1:18080",
                "timestamp": "2019-12-01T00:00:00Z",
                "method": "new",
                "editcount": 0,
                "registration": "2019-12-01T00:00:00Z",
            },
        ],
    }
    found = findings_of(parse_global_user("Later Locked", answer))
    assert [f.describe() for f in found] == [
        "locked (globally)",
        "blocked on enwiki indefinitely: Long-term abuse",
    ]
    assert findings_of(parse_global_user("Nobody", {"missing": True})) == (Finding("missing"),)
