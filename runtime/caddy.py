"""Caddy's admin API, as the front door uses it: load a whole configuration, read it,
add, replace and remove one tool's route (the adapter; runtime/frontdoor.py makes the
JSON, runtime/doorkeeper.py decides).

Caddy keeps the configuration as JSON and every change through the API applies at once,
in the same process. Its verbs at a path: `PUT` creates, and *inserts* into an array
(also at `/id/ID`, which names the object's place: a second route with the same `@id`,
never a replacement), `PATCH` replaces what exists, `DELETE` removes; `/id/ID` reaches
the object whose `@id` is ID. So a new route is `PUT` at index 0 of the front server's
routes (before the fallbacks), an existing one is `PATCH`ed through its id. Anything
Caddy refuses, or a Caddy that does not answer, is a `CaddyError` in one line.
"""

from __future__ import annotations

from typing import Any

import requests

from policies.errors import Refusal
from runtime.frontdoor import PREFIX, SERVER, route_id

TIMEOUT = 10.0  # seconds for one call (a load re-provisions every app)


class CaddyError(Refusal, RuntimeError):
    """Caddy refused or could not be reached; the message says which, in one line."""


class Caddy:
    def __init__(self, admin_url: str, *, timeout: float = TIMEOUT) -> None:
        """`admin_url`: the admin API, `http://127.0.0.1:PORT`."""
        self.admin_url = admin_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
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
            raise CaddyError(f"Caddy's admin API at {self.admin_url} answered no configuration")
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
        url = self.admin_url + path
        try:
            answer = self.session.request(method, url, json=body, timeout=self.timeout)
        except requests.Timeout:
            raise CaddyError(
                f"Caddy's admin API at {self.admin_url} did not answer in {self.timeout:g} s"
            ) from None
        except requests.RequestException:
            raise CaddyError(
                f"Caddy's admin API at {self.admin_url} cannot be reached: is Caddy running?"
            ) from None
        if answer.status_code >= 400:
            said = _said(answer)
            if answer.status_code == 404 and path.startswith("/id/"):
                raise _Missing(said)
            raise CaddyError(f"Caddy refused {method} {path}: {said}")
        if not answer.content:
            return None
        try:
            return answer.json()
        except ValueError:
            raise CaddyError(f"Caddy answered {method} {path} with something not JSON") from None


class _Missing(CaddyError):
    """No object with that @id."""


def _said(answer: requests.Response) -> str:
    try:
        said = answer.json().get("error")
    except (ValueError, AttributeError):
        said = None
    text = str(said or answer.text or answer.reason).strip().splitlines()
    return f"{answer.status_code} {text[0] if text else ''}".strip()
