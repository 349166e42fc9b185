"""The clerk's lease and the pace of saves (membership/lease.py), on a real SQLite store."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from membership import lease
from membership.lease import ClerkLease, LeaseHeld, LeaseLost
from membership.store import Store

PAGE = "Toolserver/Requests"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ats.sqlite"


@pytest.fixture
def stores(path: Path) -> Iterator[list[Store]]:
    opened: list[Store] = []
    yield opened
    for store in opened:
        store.close()


def open_store(path: Path, stores: list[Store]) -> Store:
    store = Store(path)
    stores.append(store)
    return store


def test_a_second_clerk_is_told_who_holds_the_lease(path: Path, stores: list[Store]) -> None:
    first = ClerkLease(open_store(path, stores), PAGE, host="alpha", pid=4242, alive=lambda p: True)
    second = ClerkLease(open_store(path, stores), PAGE, host="beta", pid=7, alive=lambda p: True)
    first.acquire(wait=0)
    with pytest.raises(LeaseHeld) as refused:
        second.acquire(wait=0.6)
    message = str(refused.value)
    assert "\n" not in message
    assert f"another clerk is working on {PAGE}: pid 4242 on alpha, since " in message
    assert "gave up after waiting 1 s (--wait)" in message
    first.release()
    second.acquire(wait=0)
    assert lease.holder(second.store, PAGE).host == "beta"


def test_the_lease_is_for_one_page(path: Path, stores: list[Store]) -> None:
    one = ClerkLease(open_store(path, stores), PAGE, alive=lambda p: True)
    other = ClerkLease(open_store(path, stores), PAGE + "/Other", alive=lambda p: True)
    one.acquire(wait=0)
    other.acquire(wait=0)


def test_a_dead_holder_on_this_host_is_replaced_at_once(path: Path, stores: list[Store]) -> None:
    # A real process that has exited: its pid is no longer alive.
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(done.stdout)
    dead = ClerkLease(open_store(path, stores), PAGE, host="here", pid=dead_pid, ttl=3600)
    dead.acquire(wait=0)
    elsewhere = ClerkLease(open_store(path, stores), PAGE, host="there", ttl=3600)
    assert elsewhere.try_acquire() is not None  # another host cannot see that pid
    here = ClerkLease(open_store(path, stores), PAGE, host="here")
    assert here.try_acquire() is None
    with pytest.raises(LeaseLost, match="another clerk took over"):
        dead.renew(force=True)


def test_an_expired_lease_is_taken_over(path: Path, stores: list[Store]) -> None:
    old = ClerkLease(open_store(path, stores), PAGE, host="a", ttl=0.2, alive=lambda p: True)
    old.acquire(wait=0)
    new = ClerkLease(open_store(path, stores), PAGE, host="b", alive=lambda p: True)
    assert new.try_acquire() is not None
    new.acquire(wait=2)  # the old holder stopped renewing
    assert lease.holder(new.store, PAGE).host == "b"


def test_renewing_keeps_the_lease(path: Path, stores: list[Store]) -> None:
    holder = ClerkLease(open_store(path, stores), PAGE, host="a", ttl=0.4, alive=lambda p: True)
    holder.acquire(wait=0)
    other = ClerkLease(open_store(path, stores), PAGE, host="b", alive=lambda p: True)
    for _ in range(6):
        holder.renew(force=True)
        assert other.try_acquire() is not None
    holder.release()
    holder.release()  # twice is harmless
    assert other.try_acquire() is None


def test_the_pace_counts_from_the_stored_last_save(path: Path, stores: list[Store]) -> None:
    store = open_store(path, stores)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert lease.pace_remaining(store, PAGE, 10, now) == 0
    lease.record_saved(store, PAGE, now - timedelta(seconds=3))
    assert lease.pace_remaining(store, PAGE, 10, now) == pytest.approx(7)
    assert lease.pace_remaining(store, PAGE, 0, now) == 0
    assert lease.pace_remaining(store, PAGE, 10, now + timedelta(seconds=30)) == 0
    # A clock that went back never makes a clerk wait longer than the interval.
    assert lease.pace_remaining(store, PAGE, 10, now - timedelta(hours=1)) == 10
    # Holding and releasing the lease keeps the time of the last save.
    held = ClerkLease(open_store(path, stores), PAGE)
    held.acquire(wait=0)
    held.release()
    assert lease.last_saved(store, PAGE) == now - timedelta(seconds=3)
