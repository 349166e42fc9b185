"""Following Wikimedia's EventStreams (Server-Sent Events) for changes to watched pages.

`parse_sse` turns the lines of an SSE response into events (pure, per the HTML
living standard: `event`, `data`, `id` fields, `:` comments, a blank line ends an
event). `EventStreamFollower` reads a stream such as
`https://stream.wikimedia.org/v2/stream/recentchange` on a background thread with
`requests`, resumes after the last event id it saw (`Last-Event-ID`), reconnects with
back-off, and gives up (`failed`) after a few connections in a row that delivered
nothing, so the watcher can fall back to polling. It keeps no history: only the revisions
of the matching events since the last `take()` and the id of the newest event read.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import requests

MAX_EVENT_BYTES = 1_000_000  # an EventStreams event is ~1 KB; anything huge is dropped


@dataclass(frozen=True)
class ServerSentEvent:
    id: str | None  # the stream's last event id when this event was dispatched
    event: str
    data: str


def parse_sse(lines: Iterable[str]) -> Iterator[ServerSentEvent]:
    data: list[str] = []
    size = 0
    event = ""
    last_id: str | None = None
    for line in lines:
        if not line:
            if data and size <= MAX_EVENT_BYTES:
                yield ServerSentEvent(last_id, event or "message", "\n".join(data))
            data, size, event = [], 0, ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            size += len(value) + 1
            if size <= MAX_EVENT_BYTES:
                data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            last_id = value


class EventStreamFollower:
    """Reads an SSE stream on a daemon thread; `accept` picks the events that matter."""

    def __init__(
        self,
        url: str,
        accept: Callable[[dict[str, Any]], bool],
        last_id: str | None,
        wake: threading.Event,
        *,
        err: TextIO,
        user_agent: str,
        failures_allowed: int = 3,
        read_timeout: float = 60.0,
        backoff_max: float = 30.0,
    ) -> None:
        self.url = url
        self._accept = accept
        self._wake = wake
        self._err = err
        self._user_agent = user_agent
        self._failures_allowed = failures_allowed
        self._read_timeout = read_timeout
        self._backoff_max = backoff_max
        self._lock = threading.Lock()
        self._revisions: list[int | None] = []
        self._last_id = last_id
        self._closing = threading.Event()
        self.failed = False
        self._thread = threading.Thread(target=self._run, name="eventstream", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def take(self) -> tuple[list[int | None], str | None]:
        """(the new revision of each matching event since the last call, None for an
        event without one; the newest event id). The caller tells its own edits apart:
        an event can arrive before the edit's maker has learnt the revision's number."""
        with self._lock:
            revisions, self._revisions = self._revisions, []
            return revisions, self._last_id

    def close(self) -> None:
        """Stop following. The thread may sit in a read until its timeout: it is a daemon,
        and closing the response from here would block on the reader's buffer lock."""
        self._closing.set()

    def _run(self) -> None:
        failures = 0
        session = requests.Session()
        try:
            while not self._closing.is_set():
                try:
                    delivered = self._follow(session)
                    problem = "the stream ended without an event"
                except (requests.RequestException, ValueError) as error:
                    delivered, problem = 0, f"{type(error).__name__}: {error}"
                if self._closing.is_set():
                    return
                failures = 0 if delivered else failures + 1
                if failures >= self._failures_allowed:
                    self._say(f"{self.url} failed {failures} times in a row ({problem})")
                    self.failed = True
                    self._wake.set()
                    return
                delay = min(self._backoff_max, 2.0 ** (failures - 1)) if failures else 0.5
                self._closing.wait(delay)
        finally:
            session.close()

    def _follow(self, session: requests.Session) -> int:
        headers = {"Accept": "text/event-stream", "User-Agent": self._user_agent}
        with self._lock:
            if self._last_id:
                headers["Last-Event-ID"] = self._last_id
        resuming = headers.get("Last-Event-ID")
        delivered = 0
        with session.get(
            self.url, headers=headers, stream=True, timeout=(10, self._read_timeout)
        ) as response:
            response.raise_for_status()
            response.encoding = "utf-8"
            self._say(f"following {self.url}" + (f" after {resuming}" if resuming else ""))
            lines = response.iter_lines(chunk_size=1024, decode_unicode=True)
            for event in parse_sse(line.rstrip("\r") for line in lines):
                delivered += 1
                self._handle(event)
                if self._closing.is_set():
                    break
        return delivered

    def _handle(self, event: ServerSentEvent) -> None:
        try:
            data = json.loads(event.data)
        except ValueError:
            data = None
        matched = isinstance(data, dict) and event.event == "message" and self._accept(data)
        with self._lock:
            if matched:
                revision = data.get("revision")
                new = revision.get("new") if isinstance(revision, dict) else None
                self._revisions.append(new if isinstance(new, int) else None)
            if event.id:
                self._last_id = event.id
        if matched:
            self._wake.set()

    def _say(self, text: str) -> None:
        print(f"watch: {text}", file=self._err, flush=True)
