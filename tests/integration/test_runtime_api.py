"""Who asks the jobs service is proven by MUNGE, never by a name in the request
(runtime/api.py), against a real munged: a credential is taken once, a forged or
altered one is refused, a request that is not a tool's is refused before anything is
read, a name written in the request counts for nothing, and the service answers a
refusal with one line and a 403. A tool's own request, over ssh and `become`, is in
tests/integration/test_runtime_jobs.py."""

from __future__ import annotations

import json
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policies.errors import NotAllowed
from runtime.api import Caller, Credentials, make_server

MUNGE = pwd.getpwnam("munge")
ROOT = pwd.getpwuid(0).pw_name


@pytest.fixture(scope="module")
def socket() -> Iterator[str]:
    """A munged of the test's own, with its own key, on a socket in its folder."""
    folder = Path(tempfile.mkdtemp(prefix="ats-munge-"))
    folder.chmod(0o755)
    run = folder / "run"
    keys = folder / "keys"
    for made, mode in ((run, 0o755), (keys, 0o700)):
        made.mkdir(mode=mode)
        shutil.chown(made, MUNGE.pw_uid, MUNGE.pw_gid)
    key = keys / "munge.key"
    subprocess.run(["mungekey", "--create", "--keyfile", str(key)], check=True)
    shutil.chown(key, MUNGE.pw_uid, MUNGE.pw_gid)
    key.chmod(0o400)
    path = run / "munge.socket"
    daemon = subprocess.Popen(
        ["setpriv", f"--reuid={MUNGE.pw_uid}", f"--regid={MUNGE.pw_gid}", "--init-groups"]
        + ["munged", "-F", f"--key-file={key}", f"--socket={path}", f"--pid-file={run}/pid"]
        + [f"--seed-file={keys}/seed", f"--log-file={folder}/munged.log"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not path.is_socket():
            assert daemon.poll() is None and time.monotonic() < deadline, "munged did not start"
            time.sleep(0.02)
        yield str(path)
    finally:
        daemon.terminate()
        daemon.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def credential(socket: str, request: dict[str, Any]) -> bytes:
    made = subprocess.run(
        ["munge", f"--socket={socket}"],
        input=json.dumps(request).encode(),
        capture_output=True,
        check=True,
    )
    return made.stdout


def root_counts_as_a_tool(socket: str) -> Credentials:
    """Credentials for which this machine's root (uid 0) would be a tool's user."""
    return Credentials(socket=socket, uid_range=(0, 0), tool_prefix=ROOT[:2])


def test_a_credential_names_its_maker_and_is_taken_once(socket: str) -> None:
    made = credential(socket, {"op": "cli", "argv": ["jobs", "list"], "tool": "someone-else"})
    caller, request = root_counts_as_a_tool(socket).caller(made)
    # The uid MUNGE vouches for, not the name in the request, says which tool asks.
    assert caller.uid == 0 and caller.user == ROOT and caller.tool == ROOT[2:]
    assert request["argv"] == ["jobs", "list"]
    with pytest.raises(NotAllowed, match="credential was refused.*[Rr]eplay"):
        root_counts_as_a_tool(socket).caller(made)


def test_a_forged_or_altered_credential_is_refused(socket: str) -> None:
    made = credential(socket, {"op": "cli", "argv": ["jobs", "list"]})
    altered = made[:20] + (b"A" if made[20:21] != b"A" else b"B") + made[21:]
    for bad in (altered, b"MUNGE:not-a-credential:", b"{}"):
        with pytest.raises(NotAllowed, match="credential was refused"):
            root_counts_as_a_tool(socket).caller(bad)


def test_who_is_no_tool_is_refused_before_anything_is_read(socket: str) -> None:
    made = credential(socket, {"op": "cli", "argv": ["jobs", "flush"]})
    with pytest.raises(NotAllowed, match="become TOOL"):
        Credentials(socket=socket).caller(made)  # uid 0 is outside the directory's range


def test_the_service_answers_a_refusal_with_one_line(socket: str) -> None:
    asked: list[Caller] = []

    def handler(caller: Caller, request: Any) -> dict[str, Any]:
        asked.append(caller)
        return {"code": 0, "stdout": "ok\n"}

    server = make_server(("127.0.0.1", 0), Credentials(socket=socket), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/"
    try:
        made = credential(socket, {"op": "cli", "argv": ["jobs", "list"]})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, data=made), timeout=10)
        assert refused.value.code == 403
        answer = json.load(refused.value)
        assert answer["code"] == 1 and answer["stderr"].startswith("ERROR: ")
        assert answer["stderr"].count("\n") == 1 and "Traceback" not in answer["stderr"]
        with pytest.raises(urllib.error.HTTPError) as empty:
            urllib.request.urlopen(urllib.request.Request(url, data=b""), timeout=10)
        assert empty.value.code == 400
        assert asked == []
    finally:
        server.shutdown()
        server.server_close()
