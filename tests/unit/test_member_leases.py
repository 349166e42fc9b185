"""One job at a time per member (the store's jobs room): a second job for a
member waits while the first runs, other members' jobs do not, a killed worker's
member lease lapses, and the reconcile holds a member the same way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from membership.store import Store

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "ats.sqlite")
    yield opened
    opened.close()


def test_a_second_job_for_a_running_member_waits(store: Store) -> None:
    store.enqueue_member_job("Jane", "suspend", {}, NOW)
    store.enqueue_member_job("Jane", "keys", {}, NOW)
    store.enqueue_member_job("John", "keys", {}, NOW)
    first = store.lease_job("w1", NOW, lease_seconds=60)
    assert first is not None and (first.member, first.kind) == ("Jane", "suspend")
    assert store.member_lease_holder("Jane", NOW) == "w1"
    second = store.lease_job("w2", NOW, lease_seconds=60)
    assert second is not None and second.member == "John"  # Jane's keys job waits
    assert store.lease_job("w3", NOW, lease_seconds=60) is None

    store.release_member("Jane", "w1")
    third = store.lease_job("w3", NOW, lease_seconds=60)
    assert third is not None and (third.member, third.kind) == ("Jane", "keys")


def test_a_job_queued_again_while_it_runs_waits_for_the_run(store: Store) -> None:
    store.enqueue_member_job("Jane", "keys", {}, NOW)
    running = store.lease_job("w1", NOW, lease_seconds=60)
    assert running is not None
    store.enqueue_member_job("Jane", "keys", {}, NOW)  # the member changed a key again
    assert store.job(running.id).state == "queued"  # type: ignore[union-attr]
    assert store.lease_job("w2", NOW, lease_seconds=60) is None
    later = NOW + timedelta(seconds=50)
    assert store.renew_member_lease("Jane", "w1", later, lease_seconds=60)
    assert store.lease_job("w2", NOW + timedelta(seconds=70)) is None
    store.release_member("Jane", "w1")
    assert store.lease_job("w2", later) is not None


def test_a_dead_workers_member_lease_lapses(store: Store) -> None:
    store.enqueue_member_job("Jane", "suspend", {}, NOW)
    assert store.lease_job("doomed", NOW, lease_seconds=30) is not None
    assert store.lease_job("w2", NOW + timedelta(seconds=29)) is None
    taken = store.lease_job("w2", NOW + timedelta(seconds=31))
    assert taken is not None and taken.leased_by == "w2"
    assert store.member_lease_holder("Jane", NOW + timedelta(seconds=31)) == "w2"
    assert not store.renew_member_lease("Jane", "doomed", NOW + timedelta(seconds=32))
    store.release_member("Jane", "doomed")  # the late one frees nothing
    assert store.member_lease_holder("Jane", NOW + timedelta(seconds=32)) == "w2"


def test_the_reconcile_holds_a_member_like_a_job(store: Store) -> None:
    assert store.hold_member("Jane", "reconcile", 60, NOW)
    store.enqueue_member_job("Jane", "keys", {}, NOW)
    assert store.lease_job("w1", NOW) is None
    assert not store.hold_member("Jane", "another", 60, NOW)
    store.release_member("Jane", "reconcile")
    job = store.lease_job("w1", NOW)
    assert job is not None
    assert not store.hold_member("Jane", "reconcile", 60, NOW)
