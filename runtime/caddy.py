"""Caddy's admin API, as the front door uses it: load a whole configuration, read it,
add, replace and remove one tool's route (the adapter; runtime/frontdoor.py makes the
JSON, runtime/doorkeeper.py decides).

Caddy keeps the configuration as JSON and every change through the API applies at once,
in the same process. The admin API answers at `HOST:PORT` or on a Unix socket (`unix//PATH`,
Caddy's own notation, as `[web] admin` names it): on a host where tools' jobs run, the
socket, which only Caddy's user (and root) may open, keeps a tool from rewriting every
route; anything that can reach a TCP port on 127.0.0.1 could. Its verbs at a path: `PUT`
creates, and *inserts* into an array
(also at `/id/ID`, which names the object's place: a second route with the same `@id`,
never a replacement), `PATCH` replaces what exists, `DELETE` removes; `/id/ID` reaches
the object whose `@id` is ID. So a new route is `PUT` at index 0 of the front server's
routes (before the fallbacks), an existing one is `PATCH`ed through its id. Anything
Caddy refuses, or a Caddy that does not answer, is a `CaddyError` in one line.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

from policies.errors import Refusal
from runtime.frontdoor import PREFIX, SERVER, route_id

TIMEOUT = 10.0  # seconds for one call (a load re-provisions every app)


class CaddyError(Refusal, RuntimeError):
    """Caddy refused or could not be reached; the message says which, in one line."""


class Caddy:
    def __init__(self, admin: str, *, timeout: float = TIMEOUT) -> None:
        """`admin`: where the admin API listens, `HOST:PORT` (or `http://HOST:PORT`) or
        `unix//PATH`."""
        self.admin = admin.removeprefix("http://").rstrip("/")
        self.timeout = timeout
        self.routes_path = f"/config/apps/http/servers/{SERVER}/routes"

    def alive(self) -> bool:
        """Whether the admin API answers."""
        try:
            self._call("GET", "/config/")
        except CaddyError:
            return False
        return True

    def config(self) -> dict[str, Any]:
        """The whole configuration ({} when Caddy runs with none)."""
        answer = self._call("GET", "/config/")
        if answer is None:
            return {}
        if not isinstance(answer, dict):
            raise CaddyError(f"Caddy's admin API at {self.admin} answered no configuration")
        return answer

    def load(self, config: dict[str, Any]) -> None:
        """Replace the whole configuration."""
        self._call("POST", "/load", config)

    def routes(self) -> dict[str, dict[str, Any]]:
        """The tools' routes on the front server, by `@id`."""
        listed = self._call("GET", self.routes_path)
        if not isinstance(listed, list):
            return {}
        return {
            route["@id"]: route
            for route in listed
            if isinstance(route, dict) and str(route.get("@id", "")).startswith(PREFIX)
        }

    def put_route(self, route: dict[str, Any]) -> None:
        """Add the route (before every other) or replace the one with its `@id`."""
        ident = route.get("@id")
        if not isinstance(ident, str) or not ident.startswith(PREFIX):
            raise CaddyError(f"a tool's route needs an @id {PREFIX}NAME, not {ident!r}")
        if self._exists(ident):
            self._call("PATCH", f"/id/{ident}", route)
        else:
            self._call("PUT", f"{self.routes_path}/0", route)

    def delete_route(self, tool: str) -> None:
        """Remove the tool's route; nothing to do when there is none."""
        ident = route_id(tool)
        if self._exists(ident):
            self._call("DELETE", f"/id/{ident}")

    def _exists(self, ident: str) -> bool:
        try:
            self._call("GET", f"/id/{ident}")
        except _Missing:
            return False
        return True

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        connection = self._connection()
        sent = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if sent is not None else {}
        try:
            connection.request(method, path, body=sent, headers=headers)
            answer = connection.getresponse()
            status, reason, content = answer.status, answer.reason, answer.read()
        except TimeoutError:
            raise CaddyError(
                f"Caddy's admin API at {self.admin} did not answer in {self.timeout:g} s"
            ) from None
        except (OSError, http.client.HTTPException):
            raise CaddyError(
                f"Caddy's admin API at {self.admin} cannot be reached: is Caddy running?"
            ) from None
        finally:
            connection.close()
        if status >= 400:
            said = _said(status, reason, content)
            if status == 404 and path.startswith("/id/"):
                raise _Missing(said)
            raise CaddyError(f"Caddy refused {method} {path}: {said}")
        if not content:
            return None
        try:
            return json.loads(content)
        except ValueError:
            raise CaddyError(f"Caddy answered {method} {path} with something not JSON") from None

    def _connection(self) -> http.client.HTTPConnection:
        if self.admin.startswith("unix/"):
            return _UnixConnection(self.admin.removeprefix("unix/"), self.timeout)
        return http.client.HTTPConnection(self.admin, timeout=self.timeout)


class _UnixConnection(http.client.HTTPConnection):
    """HTTP to the admin API's Unix socket (its Host header says `localhost`, which
    Caddy's admin API accepts on a socket)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(self.timeout)
        try:
            connection.connect(self.socket_path)
        except OSError:
            connection.close()
            raise
        self.sock = connection


class _Missing(CaddyError):
    """No object with that @id."""


def _said(status: int, reason: str, content: bytes) -> str:
    text = content.decode("utf-8", errors="replace")
    try:
        said = json.loads(text).get("error")
    except (ValueError, AttributeError):
        said = None
    lines = str(said or text or reason).strip().splitlines()
    return f"{status} {lines[0] if lines else ''}".strip()
