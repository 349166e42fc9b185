"""The clerk's lease: one clerk at a time per request page, and the pace of its saves.

Two clerk processes on one store would plan the same replies from the same page and
record them twice, so a clerk (`ats bot run`, `ats bot watch`) first takes the page's
lease, a row of `clerk_leases`: a random token naming the holder, its host and pid,
since when it holds it and until when. The holder renews it while it works; a clean
stop releases it. Anyone else may take it over once it has expired (its holder died
without releasing it), and at once when the holder ran on this host and its pid is no
longer alive (a restart after `kill -9` does not wait for the expiry). Every check and
change happens inside one `BEGIN IMMEDIATE` transaction, so two processes never both
believe they hold it.

The same row keeps when the bot last saved the page: the pause between two saves
(`[bot] edit_interval`) is counted from there, so it survives restarts and crashes.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from membership.records import LeaseRecord
from policies.errors import Refusal
from policies.times import iso

DEFAULT_TTL = 60.0  # seconds a lease lasts without renewal
DEFAULT_WAIT = 30.0  # seconds a second clerk waits for the lease before giving up
POLL = 0.5  # seconds between two tries while waiting
MS: Final = "milliseconds"  # a lease's times: two clerks may race within one second


def lease_name(page: str) -> str:
    return f"clerk:{page}"


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, as the store says."""

    host: str
    pid: int
    acquired_at: datetime
    expires_at: datetime

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {_clock_time(self.acquired_at)}"


class LeaseHeld(Refusal, RuntimeError):
    """Another live clerk holds the lease; the message names it."""

    def __init__(self, page: str, holder: Holder, waited: float, role: str = "clerk") -> None:
        self.holder = holder
        super().__init__(
            f"another {role} is working on {page}: {holder.describe()} (its lease runs "
            f"until {_clock_time(holder.expires_at)} unless renewed); gave up after "
            f"waiting {waited:.0f} s (--wait)"
        )


class LeaseLost(Refusal, RuntimeError):
    """The lease was taken over while this clerk believed it held it."""


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (signal 0 tests, sends nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


class ClerkLease:
    """This process's claim on one page's lease in `store`. Another service that must run
    once at a time takes the same kind of lease under a name and `role` of its own (the
    runtime's controller: `ClerkLease(store, "tools' jobs", role="runtime controller")`)."""

    def __init__(
        self,
        store: Any,
        page: str,
        *,
        ttl: float = DEFAULT_TTL,
        host: str | None = None,
        pid: int | None = None,
        alive: Callable[[int], bool] = pid_alive,
        sleep: Callable[[float], None] = time.sleep,
        role: str = "clerk",
    ) -> None:
        self.store = store
        self.page = page
        self.role = role
        self.name = lease_name(page) if role == "clerk" else f"{role}:{page}"
        self.ttl = ttl
        self.host = host or socket.gethostname()
        self.pid = pid or os.getpid()
        self.token = secrets.token_hex(8)
        self._alive = alive
        self._sleep = sleep
        self._renewed_at: float | None = None  # monotonic time of the last renewal

    @property
    def held(self) -> bool:
        return self._renewed_at is not None

    def try_acquire(self) -> Holder | None:
        """Take the lease if it is free, expired or left by a dead process of this
        host; None when taken, else who holds it."""
        now = datetime.now(UTC)
        with self.store.transaction():
            row = self.store.clerk_lease(self.name)
            if row and row.holder and row.holder != self.token:
                holder = _holder(row)
                left_here = holder.host == self.host and not self._alive(holder.pid)
                if holder.expires_at > now and not left_here:
                    return holder
            self.store.hold_clerk_lease(
                self.name,
                (self.token, self.host, self.pid),
                iso(now + timedelta(seconds=self.ttl), timespec=MS),
                acquired_at=iso(now, timespec=MS),
            )
        self._renewed_at = time.monotonic()
        return None

    def acquire(self, wait: float = DEFAULT_WAIT) -> None:
        """Take the lease, waiting up to `wait` seconds for its holder; LeaseHeld if not."""
        started = time.monotonic()
        while True:
            holder = self.try_acquire()
            if holder is None:
                return
            waited = time.monotonic() - started
            if waited >= wait:
                raise LeaseHeld(self.page, holder, waited, self.role)
            self._sleep(min(POLL, wait - waited))

    def renew(self, *, force: bool = False) -> None:
        """Push the expiry back (at most every quarter of the lease's life unless
        forced); LeaseLost if someone else took it meanwhile."""
        if self._renewed_at is None:
            raise LeaseLost(f"the lease on {self.page} is not held")
        if not force and time.monotonic() - self._renewed_at < self.ttl / 4:
            return
        now = datetime.now(UTC)
        with self.store.transaction():
            row = self.store.clerk_lease(self.name)
            if row and row.holder not in (None, self.token):
                self._renewed_at = None
                raise LeaseLost(
                    f"another {self.role} took over {self.page} ({_holder(row).describe()}): "
                    "this one stopped renewing its lease in time"
                )
            self.store.hold_clerk_lease(
                self.name,
                (self.token, self.host, self.pid),
                iso(now + timedelta(seconds=self.ttl), timespec=MS),
            )
        self._renewed_at = time.monotonic()

    def release(self) -> None:
        """Give the lease up (only if still ours); safe to call twice."""
        if self._renewed_at is None:
            return
        self._renewed_at = None
        self.store.release_clerk_lease(self.name, self.token, iso(timespec=MS))


def holder(store: Any, page: str) -> Holder | None:
    """Who holds `page`'s lease now (expired or not), or None."""
    row: LeaseRecord | None = store.clerk_lease(lease_name(page))
    return _holder(row) if row and row.holder else None


# -- the pace of saves ----------------------------------------------------------------


def last_saved(store: Any, page: str) -> datetime | None:
    """When the bot last saved `page` (or its archives), as this store knows it."""
    row: LeaseRecord | None = store.clerk_lease(lease_name(page))
    return _parse(row.last_saved_at) if row and row.last_saved_at else None


def record_saved(store: Any, page: str, at: datetime) -> None:
    store.record_clerk_save(lease_name(page), iso(at, timespec=MS))


def pace_remaining(store: Any, page: str, interval: float, now: datetime) -> float:
    """Seconds still to wait before the next save, at most `interval`."""
    last = last_saved(store, page)
    if interval <= 0 or last is None:
        return 0.0
    return min(interval, max(0.0, interval - (now - last).total_seconds()))


def _holder(row: LeaseRecord) -> Holder:
    return Holder(
        host=row.host or "?",
        pid=int(row.pid or 0),
        acquired_at=_parse(row.acquired_at),
        expires_at=_parse(row.expires_at),
    )


def _parse(value: str | None) -> datetime:
    if not value:
        return datetime.fromtimestamp(0, UTC)
    return datetime.fromisoformat(value).astimezone(UTC)


def _clock_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
