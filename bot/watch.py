"""`ats bot watch`: deciding *when* the clerk runs a cycle, for days on end.

The watcher runs `Clerk.run_once()` once at start, then whenever the request page or
the kill-switch page changes, and at least every `full_cycle` seconds (time-based work
such as expiry needs no edit to be due). It learns of changes either by polling
`list=recentchanges` — one request per poll, resumed from a cursor of (timestamp,
rcid) kept in the store — or by following an EventStreams URL, resumed with the last
event id, falling back to polling when the stream keeps failing. A cursor is saved
only after the cycle that handled the changes it covers succeeded, so a crash in
between makes the next run handle them again (the clerk is idempotent) but never skips
them. Wiki errors are logged as one line and retried with back-off; SIGTERM/SIGINT
stop it between cycles, abandoning any wait or poll in progress. Given the page's
lease (`membership.lease`), it takes it before anything else (waiting a bounded time
for another clerk), renews it every turn and releases it when it stops.
"""

from __future__ import annotations

import signal
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Container, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO
from urllib.parse import urlsplit

from bot import wiki
from bot.clerk import Clerk, ClerkError
from bot.eventstream import EventStreamFollower
from membership.lease import ClerkLease, LeaseHeld, LeaseLost
from membership.store import Store, StoreBusy, StoreError
from policies.times import iso

OVERLAP = timedelta(seconds=10)  # re-read this much before the cursor: late-committed rows
MAX_SEEN = 10_000  # rcids remembered inside the overlap window
CATCH_UP_PAGES = 5  # after a long stop, more than this many pages: skip to now and cycle
STREAM_RETRY = 600.0  # seconds of polling before trying a failed stream again
IDLE_SAVE = 30.0  # how often a cursor that moved past unrelated changes is saved
BACKOFF_MAX = 60.0
LOCAL_WORK_INTERVAL = 5.0  # seconds between cycles started by work found in the store


@dataclass(frozen=True)
class WatchSettings:
    poll: float = 2.0
    full_cycle: float = 600.0
    stream_url: str = ""
    api_url: str = ""
    user_agent: str = wiki.USER_AGENT


class _Stopped(BaseException):
    """Raised from the signal handler to abandon a wait or a poll; never caught by wiki code."""


class StopSignal:
    """SIGTERM/SIGINT set a flag; inside `abandonable()` they also interrupt at once."""

    def __init__(self) -> None:
        self.stopping = False
        self.wake = threading.Event()
        self._abandonable = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.stopping = True
        self.wake.set()
        if self._abandonable:
            self._abandonable = False
            raise _Stopped

    @contextmanager
    def abandonable(self) -> Iterator[None]:
        if self.stopping:
            raise _Stopped
        self._abandonable = True
        try:
            yield
        finally:
            self._abandonable = False

    def wait(self, seconds: float) -> None:
        """Sleep until `seconds` pass, a stop, or a wake-up (a matching stream event)."""
        with self.abandonable():
            self.wake.wait(max(0.0, seconds))


class RecentChangesPoller:
    """One `list=recentchanges` request per poll: did a watched page change?"""

    def __init__(
        self,
        site: Any,
        titles: Sequence[wiki.WatchedTitle],
        cursor: str | None,
        ignore: Container[int] = (),
    ) -> None:
        self.site = site
        self.cursor = cursor
        self._names = {t.title for t in titles}
        self._namespaces = sorted({t.namespace for t in titles})
        # One title: MediaWiki filters (rctitle). Two: rctitle takes only one, so ask
        # for their namespaces and filter here; still one request.
        self._title = titles[0].title if len(titles) == 1 else None
        self._ignore = ignore
        self._seen: dict[int, str] = {}
        self._resumed = True  # the first poll after (re)start trusts the stored rcid

    def poll(self) -> bool:
        if self.cursor is None:
            return self._jump_to_latest()
        since, last_rcid = _parse_cursor(self.cursor)
        found = wiki.recent_changes(
            self.site,
            namespaces=self._namespaces,
            since=iso(since - OVERLAP, zulu=True),
            title=self._title,
            max_pages=CATCH_UP_PAGES,
        )
        changed = False
        newest, newest_rcid = since, last_rcid
        for change in found.changes:
            handled = change.rcid in self._seen or (self._resumed and change.rcid <= last_rcid)
            self._seen[change.rcid] = change.timestamp
            if not handled and change.title in self._names and change.revid not in self._ignore:
                changed = True
            newest = max(newest, _parse_time(change.timestamp))
            newest_rcid = max(newest_rcid, change.rcid)
        self._resumed = False
        self.cursor = _format_cursor(newest, newest_rcid)
        if not found.complete:
            return self._jump_to_latest()
        self._forget_before(newest - OVERLAP)
        return changed

    def _jump_to_latest(self) -> bool:
        """Start from the newest change; True: what came before is for a cycle to judge."""
        latest, now = wiki.latest_change(self.site, namespaces=self._namespaces, title=self._title)
        if latest:
            self.cursor = _format_cursor(_parse_time(latest.timestamp), latest.rcid)
        else:
            self.cursor = _format_cursor(_parse_time(now) if now else datetime.now(UTC), 0)
        self._seen.clear()
        self._resumed = True
        return True

    def _forget_before(self, moment: datetime) -> None:
        for rcid, stamp in list(self._seen.items()):
            if _parse_time(stamp) < moment:
                del self._seen[rcid]
        while len(self._seen) > MAX_SEEN:
            del self._seen[next(iter(self._seen))]


class Watcher:
    def __init__(
        self,
        make_clerk: Callable[[], Clerk],
        settings: WatchSettings,
        stop: StopSignal,
        *,
        out: TextIO = sys.stdout,
        err: TextIO = sys.stderr,
        clock: Callable[[], float] = time.monotonic,
        lease: ClerkLease | None = None,
        lease_wait: float = 0.0,
    ) -> None:
        # The clerk is built inside the loop: opening the site already talks to the
        # wiki, and a wiki that is down at start is retried like any other failure.
        self._make_clerk = make_clerk
        self._clerk: Clerk | None = None
        self._lease, self._lease_wait = lease, lease_wait
        self.settings = settings
        self.stop = stop
        self.out, self.err, self.clock = out, err, clock
        self._names: dict[str, str] = {}
        self._titles: list[wiki.WatchedTitle] | None = None
        self._own_revids: deque[int] = deque(maxlen=32)
        self._poller: RecentChangesPoller | None = None
        self._follower: EventStreamFollower | None = None
        self._stream_retry_at = 0.0
        self._due = True  # the first cycle runs at start
        self._next_full = 0.0
        self._next_local = 0.0
        self._failures = 0
        self._saved: dict[str, tuple[str | None, float]] = {}
        self._errors = wiki.transient_errors() + (
            ClerkError,
            StoreError,
            sqlite3.OperationalError,  # the store raises StoreError; kept for any code beside it
            OSError,
        )

    @property
    def clerk(self) -> Clerk:
        if self._clerk is None:
            self._clerk = self._make_clerk()
            page = self._clerk.settings.page
            self._names = {
                "poll": f"watch:recentchanges:{page}",
                "stream": f"watch:eventstream:{page}",
            }
        return self._clerk

    @property
    def store(self) -> Store:
        return self.clerk.store

    # -- the loop ------------------------------------------------------------------

    def run(self) -> int:
        code = 0
        try:
            self._take_lease()
            while not self.stop.stopping:
                self.stop.wake.clear()  # before looking: a wake-up after this is not lost
                self._keep_lease()
                delay = self._turn()
                if not self.stop.stopping:
                    self.stop.wait(delay)
        except _Stopped:
            pass
        except (LeaseHeld, LeaseLost) as error:
            self._say(str(error))
            code = 1
        finally:
            if self._follower:
                self._follower.close()
            if self._lease is not None:
                self._lease.release()
        self._say("stopped")
        return code

    def _take_lease(self) -> None:
        """Wait (abandonably) for the page's lease; LeaseHeld when it stays taken."""
        if self._lease is None:
            return
        deadline = self.clock() + self._lease_wait
        while (holder := self._lease.try_acquire()) is not None:
            if self.clock() >= deadline:
                raise LeaseHeld(self._lease.page, holder, self._lease_wait)
            self.stop.wait(min(0.5, deadline - self.clock()))

    def _keep_lease(self) -> None:
        if self._lease is None:
            return
        try:
            self._lease.renew()
        except StoreBusy as error:  # the lease outlives a few misses
            self._say(f"could not renew the lease ({error}); trying again next turn")

    def _turn(self) -> float:
        """Look for changes, run a cycle if one is due; the seconds to wait before the next."""
        try:
            with self.stop.abandonable():
                cursor_name, cursor = self._look()
        except self._errors as error:
            return self._failed("looking for changes", error)
        if self.clock() >= self._next_full:
            self._due = True
        if not self._due and self.clock() >= self._next_local:
            try:
                local_work = self.clerk.has_local_work()
            except self._errors as error:
                return self._failed("reading the store", error)
            if local_work:
                # The bridge moved a request, or something fell due: no edit will say so.
                # At most once per LOCAL_WORK_INTERVAL, in case the cycle cannot settle it.
                self._due = True
                self._next_local = self.clock() + LOCAL_WORK_INTERVAL
        if not self._due:
            self._save_cursor(cursor_name, cursor, force=False)
            return self._wait_time()
        try:
            report = self.clerk.run_once()
        except self._errors as error:
            return self._failed("the clerk cycle", error)
        print(report.summary(), file=self.out, flush=True)
        if report.status == "saved" and report.revid:
            self._own_revids.append(report.revid)
        self._due = False
        self._failures = 0
        self._next_full = self.clock() + self.settings.full_cycle
        self._save_cursor(cursor_name, cursor, force=True)
        return self._wait_time()

    def _look(self) -> tuple[str, str | None]:
        """Ask the current source whether a watched page changed; mark a cycle due if so."""
        if self._titles is None:
            titles = [self.clerk.settings.page]
            if self.clerk.settings.run_page:
                titles.append(self.clerk.settings.run_page)
            self._titles = wiki.watched_titles(self.clerk.site, titles)
        stream_due = self._poller is None or self.clock() >= self._stream_retry_at
        if self.settings.stream_url and self._follower is None and stream_due:
            self._start_stream()
        if self._follower is not None:
            if not self._follower.failed:
                revisions, last_id = self._follower.take()
                # The stream may bring a save of ours before the cycle has its number:
                # told apart here, after the cycle, not when the event arrives.
                theirs = [r for r in revisions if r is None or r not in self._own_revids]
                self._due = self._due or bool(theirs)
                return self._names["stream"], last_id
            self._follower.close()
            self._follower = None
            self._stream_retry_at = self.clock() + STREAM_RETRY
            self._say(f"polling recent changes; the stream is tried again in {STREAM_RETRY:.0f} s")
            self._due = True  # whatever the stream missed, a cycle catches up
        if self._poller is None:
            stored = self.store.cursor(self._names["poll"])
            self._poller = RecentChangesPoller(
                self.clerk.site, self._titles, stored, self._own_revids
            )
        self._due = self._poller.poll() or self._due
        return self._names["poll"], self._poller.cursor

    def _start_stream(self) -> None:
        self._poller = None
        self._follower = EventStreamFollower(
            self.settings.stream_url,
            self._matches,
            self.store.cursor(self._names["stream"]),
            self.stop.wake,
            err=self.err,
            user_agent=self.settings.user_agent,
        )
        self._follower.start()

    def _matches(self, event: dict[str, Any]) -> bool:
        """An EventStreams recentchange event about a watched page of this wiki."""
        api = urlsplit(self.settings.api_url)
        meta = event.get("meta") or {}
        if meta.get("domain") != api.hostname:  # also drops the "canary" events
            return False
        server = event.get("server_url")
        if server and urlsplit(server).netloc != api.netloc:
            return False
        return event.get("title") in {t.title for t in self._titles or ()}

    # -- bookkeeping ---------------------------------------------------------------

    def _save_cursor(self, name: str, value: str | None, *, force: bool) -> None:
        """Persist a cursor; after a cycle always, past unrelated changes now and then."""
        if value is None:
            return
        previous, when = self._saved.get(name, (self.store.cursor(name), 0.0))
        now = self.clock()
        if value == previous or not force and now - when < IDLE_SAVE:
            self._saved.setdefault(name, (previous, when))
            return
        try:
            self.store.set_cursor(name, value)
        except StoreBusy as error:
            self._say(f"could not save the cursor ({error}); it is saved next time")
            return
        self._saved[name] = (value, now)

    def _wait_time(self) -> float:
        until_full = max(0.0, self._next_full - self.clock())
        if self._follower is not None:
            return min(until_full, 30.0)
        return min(until_full, self.settings.poll)

    def _failed(self, what: str, error: BaseException) -> float:
        self._failures += 1
        if isinstance(error, sqlite3.Error) and self._clerk is not None:
            error = self._clerk.store.fault(error)
        delay = min(BACKOFF_MAX, max(self.settings.poll, 1.0) * 2 ** (self._failures - 1))
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        self._say(f"{what} failed: {message}; retrying in {delay:.0f} s")
        return delay

    def _say(self, text: str) -> None:
        print(f"watch: {text}", file=self.err, flush=True)


def _parse_cursor(value: str) -> tuple[datetime, int]:
    stamp, _, rcid = value.partition("|")
    return _parse_time(stamp), int(rcid or 0)


def _format_cursor(moment: datetime, rcid: int) -> str:
    return f"{iso(moment, zulu=True)}|{rcid}"


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
