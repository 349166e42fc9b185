"""The runtime's API: where `toolforge jobs` on a login host sends what its user asked,
and who asked is proven by MUNGE, never by a name in the request.

The client (`toolforge`, rendered by `ats host render`) encodes its request with
`munge` — a credential that MUNGE's daemon makes for the calling process's own uid
and gid, encrypted with the key the hosts share — and POSTs it here. `unmunge`
decodes it against the local daemon: the uid inside is the caller, and a credential
is accepted once (a replay is refused by MUNGE itself) and for five minutes. The uid
must be a tool's user (`tools.NAME`, inside the directory's uid range): a member who
has not done `become TOOL`, or anyone else, is refused before anything is read. The
request is plain JSON inside the credential; the answer is JSON: what to print, the
exit status, and for `logs` and `--wait` what the client does next as the tool.

One request at a time per connection, any number of connections (a thread each).
"""

from __future__ import annotations

import json
import logging
import pwd
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from policies.errors import NotAllowed, Refusal

log = logging.getLogger(__name__)

MAX_REQUEST = 2 * 1024 * 1024  # bytes of a credential (a jobs.yaml travels inside)
UNMUNGE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Caller:
    uid: int
    user: str
    tool: str


# (caller, request) -> the answer's JSON
Handler = Callable[[Caller, Mapping[str, Any]], dict[str, Any]]


class Credentials:
    """Decodes MUNGE credentials against the local munged."""

    def __init__(
        self,
        *,
        socket: str | None = None,
        uid_range: tuple[int, int] = (10000, 59999),
        tool_prefix: str = "tools.",
    ) -> None:
        self.socket = socket
        self.uid_range = uid_range
        self.tool_prefix = tool_prefix

    def caller(self, credential: bytes) -> tuple[Caller, dict[str, Any]]:
        """The tool that made `credential`, and its request; NotAllowed if it is no
        valid credential of a tool's user."""
        command = ["unmunge"]
        if self.socket:
            command.append(f"--socket={self.socket}")
        try:
            done = subprocess.run(
                command, input=credential, capture_output=True, timeout=UNMUNGE_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise Refusal(f"MUNGE cannot decode the request here: {error}") from None
        if done.returncode != 0:
            # unmunge says why on stderr, or in the STATUS line of its metadata.
            said = done.stderr.decode(errors="replace").strip().splitlines()
            status = [
                line.split(":", 1)[1].strip()
                for line in done.stdout.decode(errors="replace").splitlines()
                if line.startswith("STATUS:")
            ]
            why = (said or status or ["MUNGE gave no reason"])[-1].removeprefix("unmunge: ")
            raise NotAllowed(f"the request's credential was refused: {why}")
        head, _, payload = done.stdout.partition(b"\n\n")
        metadata = dict(
            line.split(":", 1) for line in head.decode(errors="replace").splitlines() if ":" in line
        )
        # "UID: name (number)"; the number is what MUNGE vouches for.
        found = re.search(r"\((\d+)\)\s*$", metadata.get("UID", ""))
        if found is None:
            raise NotAllowed("the request's credential names no uid")
        uid = int(found.group(1))
        low, high = self.uid_range
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            user = ""
        if not (low <= uid <= high and user.startswith(self.tool_prefix)):
            raise NotAllowed(
                "toolforge jobs manages a tool's jobs: run it as the tool (become TOOL first)"
            )
        try:
            request = json.loads(payload)
        except ValueError:
            raise NotAllowed("the request is not JSON") from None
        if not isinstance(request, dict):
            raise NotAllowed("the request is not a JSON object")
        return Caller(uid, user, user.removeprefix(self.tool_prefix)), request


def make_server(
    address: tuple[str, int], credentials: Credentials, handler: Handler
) -> ThreadingHTTPServer:
    """An HTTP server on `address` answering POSTed credentials with `handler`."""

    class Requests(BaseHTTPRequestHandler):
        server_version = "ats-runtime"
        sys_version = ""

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 < length <= MAX_REQUEST:
                self._answer(HTTPStatus.BAD_REQUEST, _error("the request is empty or too large"))
                return
            credential = self.rfile.read(length)
            try:
                caller, request = credentials.caller(credential)
            except Refusal as refusal:
                self._answer(HTTPStatus.FORBIDDEN, _error(str(refusal)))
                return
            try:
                answer = handler(caller, request)
            except Refusal as refusal:
                answer = _error(str(refusal))
            except Exception:
                log.exception("runtime API: %s asked %r", caller.user, request.get("argv"))
                answer = _error("the jobs service failed; its log says why")
            self._answer(HTTPStatus.OK, answer)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED, _error("POST a MUNGE credential"))

        def _answer(self, status: HTTPStatus, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("runtime API: " + format, *args)

    server = ThreadingHTTPServer(address, Requests)
    server.daemon_threads = True
    return server


def _error(message: str) -> dict[str, Any]:
    return {"code": 1, "stdout": "", "stderr": f"ERROR: {message}\n"}
