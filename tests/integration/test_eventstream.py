"""The stream follower hands the watcher the revision of every matching event, so the
watcher tells its own saves apart after its cycle has learnt their numbers (the event
of a save may arrive first)."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.eventstream import EventStreamFollower, parse_sse

EVENTS = [
    {"title": "Requests", "revision": {"old": 4, "new": 5}},
    {"title": "Elsewhere", "revision": {"old": 1, "new": 2}},
    {"title": "Requests", "revision": "not an object"},
    {"title": "Requests", "revision": {"old": 5, "new": 6}},
]


class _Stream(BaseHTTPRequestHandler):
    """Chunked, as EventStreams sends: a client reads each event as it comes."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        frames = [":ok\n\n"]
        for offset, event in enumerate(EVENTS):
            frames.append(f"event: message\nid: {offset}\ndata: {json.dumps(event)}\n\n")
        frames.append("event: canary\nid: 99\ndata: {}\n\n")
        for frame in frames:
            data = frame.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
        self.server.done.wait(10)  # type: ignore[attr-defined]

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stream)
    server.done = threading.Event()  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/stream"
    server.done.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def test_take_gives_the_revisions_of_matching_events_once(stream: str) -> None:
    wake = threading.Event()
    follower = EventStreamFollower(
        stream,
        lambda event: event.get("title") == "Requests",
        None,
        wake,
        err=io.StringIO(),
        user_agent="test",
    )
    follower.start()
    try:
        revisions: list[int | None] = []
        last_id = None
        deadline = time.monotonic() + 10
        while last_id != "99" and time.monotonic() < deadline:
            wake.wait(0.05)
            more, last_id = follower.take()
            revisions += more
        assert wake.is_set()  # a matching event wakes the watcher
        assert revisions == [5, None, 6]
        assert last_id == "99"  # the canary moves the cursor, matched or not
        assert follower.take() == ([], "99")
    finally:
        follower.close()


def test_parse_sse_joins_data_lines_and_skips_comments() -> None:
    lines = [":ok", "", "id: 7", "data: a", "data: b", "", "event: canary", "data: x", ""]
    events = list(parse_sse(lines))
    assert [(e.id, e.event, e.data) for e in events] == [
        ("7", "message", "a\nb"),
        ("7", "canary", "x"),
    ]
