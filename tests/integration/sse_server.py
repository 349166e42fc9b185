"""A tiny stand-in for Wikimedia EventStreams on 127.0.0.1, fed by the real local wiki.

It polls the local wiki's recent changes (by GET: pywikibot POSTs, so the server log
tells the two apart) and serves each change as an SSE event in the exact shape of
`https://stream.wikimedia.org/v2/stream/recentchange`, as observed from the
real service and its schema (mediawiki/recentchange 1.0.0):

    :ok

    event: message
    id: [{"topic":"eqiad.mediawiki.recentchange","partition":0,"offset":42},
         {"topic":"codfw.mediawiki.recentchange","partition":0,"offset":-1}]   (one line)
    data: {"$schema":"/mediawiki/recentchange/1.0.0","meta":{"uri":…,"request_id":…,
           "id":<uuid>,"dt":"2026-11-27T10:00:00Z","domain":"127.0.0.1",
           "stream":"mediawiki.recentchange","topic":"eqiad.mediawiki.recentchange",
           "partition":0,"offset":42},"id":<rcid>,"type":"edit","namespace":0,
           "title":"Toolserver/Requests","title_url":…,"comment":…,"timestamp":<unix s>,
           "user":…,"bot":false,"minor":false,"patrolled":true,
           "length":{"old":…,"new":…},"revision":{"old":…,"new":…},
           "server_url":"http://127.0.0.1:PORT","server_name":"127.0.0.1",
           "server_script_path":"","wiki":"testwiki","parsedcomment":…}   (one line)

The body is sent with chunked transfer encoding, as EventStreams does. Every real
change is followed by the same change as seen on another wiki (`en.wikipedia.org`)
and by a `canary` event, which a client must ignore. A `Last-Event-ID` header resumes
after that offset; without one, only new events are sent (EventStreams' default).
`broken = True` makes it answer 503 to every connection. `published(revid)` and
`sent(revid)` tell whether the change that saved a revision has become an event and
whether a client was sent it, so a test waits for that instead of sleeping.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import requests

TOPIC = "eqiad.mediawiki.recentchange"


class EventStreamsStandIn:
    def __init__(self, api_url: str, server: str) -> None:
        self.api_url = api_url
        self.server = server  # the wiki's $wgServer, e.g. http://127.0.0.1:18080
        self.broken = False
        self.last_event_ids: list[str | None] = []  # what each connection resumed from
        self.sent_ids: list[str] = []
        self._sent_offsets: set[int] = set()
        self._revision_offsets: dict[int, int] = {}  # revision id -> offset of its event
        self._events: deque[tuple[int, str]] = deque(maxlen=5000)  # (offset, frame)
        self._offset = 0
        self._changed = threading.Condition()
        self._closing = threading.Event()
        self._seen: deque[int] = deque(maxlen=5000)
        self._since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_port}/v2/stream/recentchange"

    def start(self) -> None:
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        threading.Thread(target=self._feed, daemon=True).start()

    def stop(self) -> None:
        self._closing.set()
        with self._changed:
            self._changed.notify_all()
        self._http.shutdown()
        self._http.server_close()

    # -- the feed: the wiki's real recent changes as events -------------------------

    def _feed(self) -> None:
        while not self._closing.wait(0.2):
            try:
                changes = self._recent_changes()
            except requests.RequestException:
                continue
            for change in changes:
                self._since = max(self._since, change["timestamp"])
                if change["rcid"] in self._seen:
                    continue
                self._seen.append(change["rcid"])
                host = self.server.split("://", 1)[1].split(":")[0]
                offset = self._publish(self._event(change, host, self.server))
                if change.get("revid"):
                    self._revision_offsets[change["revid"]] = offset
                self._publish(self._event(change, "en.wikipedia.org", "https://en.wikipedia.org"))
                self._publish({"meta": {"domain": "canary", "stream": "mediawiki.recentchange"}})

    def _recent_changes(self) -> list[dict[str, Any]]:
        response = requests.get(
            self.api_url,
            params={
                "action": "query",
                "list": "recentchanges",
                "rcprop": "title|ids|timestamp|user|comment|parsedcomment|sizes|flags",
                "rcdir": "newer",
                "rcstart": self._since,
                "rclimit": 100,
                "format": "json",
                "formatversion": 2,
            },
            timeout=10,
        )
        data = response.json()
        if "error" in data:  # a stand-in that silently sends nothing would prove nothing
            raise RuntimeError(f"the stand-in's recent-changes query failed: {data['error']}")
        return data["query"]["recentchanges"]

    def _event(self, change: dict[str, Any], domain: str, server: str) -> dict[str, Any]:
        when = datetime.fromisoformat(change["timestamp"].replace("Z", "+00:00"))
        title_url = f"{server}/index.php/{quote(change['title'].replace(' ', '_'))}"
        return {
            "$schema": "/mediawiki/recentchange/1.0.0",
            "meta": {
                "uri": title_url,
                "request_id": str(uuid.uuid4()),
                "id": str(uuid.uuid4()),
                "dt": change["timestamp"],
                "domain": domain,
                "stream": "mediawiki.recentchange",
            },
            "id": change["rcid"],
            "type": change["type"],
            "namespace": change["ns"],
            "title": change["title"],
            "title_url": title_url,
            "comment": change.get("comment", ""),
            "timestamp": int(when.timestamp()),
            "user": change.get("user", ""),
            "bot": bool(change.get("bot")),
            "minor": bool(change.get("minor")),
            "patrolled": False,  # anonymous readers may not see it; EventStreams sends it
            "length": {"old": change.get("oldlen"), "new": change.get("newlen")},
            "revision": {"old": change.get("old_revid"), "new": change.get("revid")},
            "server_url": server,
            "server_name": domain,
            "server_script_path": "",
            "wiki": "testwiki" if domain != "en.wikipedia.org" else "enwiki",
            "parsedcomment": change.get("parsedcomment", ""),
        }

    def published(self, revid: int) -> bool:
        """Whether the change that saved revision `revid` of the local wiki is an event."""
        return revid in self._revision_offsets

    def sent(self, revid: int) -> bool:
        """Whether that event was sent to a client."""
        return self._revision_offsets.get(revid) in self._sent_offsets

    def _publish(self, data: dict[str, Any]) -> int:
        with self._changed:
            self._offset += 1
            data["meta"].update(topic=TOPIC, partition=0, offset=self._offset)
            event_id = json.dumps(
                [
                    {"topic": TOPIC, "partition": 0, "offset": self._offset},
                    {"topic": "codfw.mediawiki.recentchange", "partition": 0, "offset": -1},
                ],
                separators=(",", ":"),
            )
            frame = f"event: message\nid: {event_id}\ndata: {json.dumps(data)}\n\n"
            self._events.append((self._offset, frame))
            self._changed.notify_all()
            return self._offset

    # -- serving -------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                resume = self.headers.get("Last-Event-ID")
                stand_in.last_event_ids.append(resume)
                if stand_in.broken:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                with stand_in._changed:
                    position = _resume_offset(resume, stand_in._offset)
                try:
                    self._chunk(":ok\n\n")
                    while not stand_in._closing.is_set():
                        with stand_in._changed:
                            pending = [(o, f) for o, f in stand_in._events if o > position]
                            if not pending:
                                stand_in._changed.wait(1.0)
                                continue
                            position = stand_in._offset
                        for offset, frame in pending:
                            self._chunk(frame)
                            stand_in.sent_ids.append(frame.split("\n")[1][4:])
                            stand_in._sent_offsets.add(offset)
                except (BrokenPipeError, ConnectionResetError):
                    return

            def _chunk(self, text: str) -> None:
                body = text.encode("utf-8")
                self.wfile.write(f"{len(body):x}\r\n".encode() + body + b"\r\n")
                self.wfile.flush()

        return Handler


def _resume_offset(last_event_id: str | None, newest: int) -> int:
    if not last_event_id:
        return newest
    try:
        for part in json.loads(last_event_id):
            if part.get("topic") == TOPIC:
                return int(part["offset"])
    except (ValueError, TypeError, KeyError):
        pass
    return newest
