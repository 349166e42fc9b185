"""The journey's end, with real services only: a member with a key and a tool they
maintain are provisioned into a real slapd (a provider with syncprov); `ats devhost
start` runs a login host (a syncrepl replica, SSSD, sshd, sudo) in a private mount
namespace; `ssh` with the member's key logs in, `become TOOL` acts as the tool, a
non-maintainer is refused with the message, a co-maintainer added on the bridge (the
worker running) can `become` it within a minute and one removed cannot, `ats host
check` inside the namespace passes line by line, a removed key and a suspension stop
logins within a minute (timed; the figures go to docs/benchmarks.md), and the
machine's own NSS and PAM are byte-for-byte what they were."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from bridge import create_app
from bridge.testing import log_in
from membership import accounts
from membership.store import Store
from provisioning.ldap import LdapBackend
from provisioning.worker import provision_person, provision_tool, run_forever, run_once
from tests.integration.journey import LIMIT, etc_snapshot
from tests.integration.slapd import Slapd, ats, ats_config, provider_settings

pytestmark = pytest.mark.loginhost


@pytest.fixture
def folder() -> Iterator[Path]:
    # slapd (as openldap) must reach the replica's folder: not under pytest's 0700 tmp.
    path = Path(tempfile.mkdtemp(prefix="ats-devhost-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def provider(folder: Path) -> Iterator[Slapd]:
    server = Slapd.start(folder / "provider", database_extra=provider_settings())
    yield server
    server.stop()


def _namespace_of(host: Path) -> str:
    pid = json.loads((host / "devhost.json").read_text())["namespace_pid"]
    return os.readlink(f"/proc/{pid}/ns/mnt")


def _processes_in(namespace: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "mnt") == namespace:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class Ssh:
    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder

    def key(self, name: str) -> str:
        path = self.folder / f"{name}.key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
        return (path.parent / f"{name}.key.pub").read_text().strip()

    def run(self, user: str, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh", "-p", str(self.port), "-i", str(self.folder / f"{user}.key")]
            + ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"]
            + ["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
            + ["-o", "IdentitiesOnly=yes", f"{user}@127.0.0.1", *command],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def refused_after(self, user: str) -> float:
        """Seconds until `user` can no longer log in (at most LIMIT)."""
        start = time.monotonic()
        while time.monotonic() - start < LIMIT:
            if self.run(user, "true").returncode != 0:
                return time.monotonic() - start
            time.sleep(0.25)
        return LIMIT + 1

    def until_refused(
        self, user: str, *command: str, said: str = ""
    ) -> subprocess.CompletedProcess[str]:
        """Run until it fails without doing anything, saying `said` (at most LIMIT): the
        last run. A removed co-maintainer's login that the host still lets become the tool
        (SSSD's cached groups) is ended by the session guard: it fails, but after the
        command ran, which is not yet a refusal."""
        deadline = time.monotonic() + LIMIT
        while True:
            result = self.run(user, *command)
            refused = result.returncode != 0 and said in result.stderr and result.stdout == ""
            if refused or time.monotonic() > deadline:
                return result
            time.sleep(0.25)

    def until(self, user: str, *command: str) -> subprocess.CompletedProcess[str]:
        """Run until it succeeds (SSSD fetches the sudo rules shortly after starting)."""
        deadline = time.monotonic() + LIMIT
        while True:
            result = self.run(user, *command)
            if result.returncode == 0 or time.monotonic() > deadline:
                return result
            time.sleep(0.5)


class Bridge:
    """The bridge on the test's store, a maintainer logged in (as after the OAuth login)."""

    def __init__(self, settings: dict[str, Any], store: Path, username: str) -> None:
        self.app = create_app({**settings, "store_path": str(store)})
        self.client = self.app.test_client()
        log_in(self.app, self.client, username)

    def post(self, action: str, username: str) -> str:
        page = self.client.get("/tool/mytool").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, page
        response = self.client.post(
            f"/tool/mytool/{action}",
            data={"csrf_token": token.group(1), "username": username},
            follow_redirects=True,
        )
        assert response.status_code == 200
        return unescape(response.get_data(as_text=True))


class Worker:
    """`run_forever` on its own thread and store connection, as `ats provision worker` runs."""

    def __init__(self, store: Path, backend: LdapBackend) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(store, backend), daemon=True)

    def _run(self, path: Path, backend: LdapBackend) -> None:
        store = Store(path)
        try:
            run_forever(store, backend, poll=0.5, stop=self.stop, log=lambda line: None)
        finally:
            store.close()

    def __enter__(self) -> Worker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.mark.process
def test_ssh_in_become_the_tool_and_lose_the_key(
    provider: Slapd, folder: Path, app_settings: dict[str, Any]
) -> None:
    before = etc_snapshot()
    config = ats_config(folder, provider, tool_home_root='"/home/tools"')
    store = Store(folder / "ats.sqlite")
    ldap = LdapBackend(
        provider.url,
        provider.base_dn,
        provider.root_dn,
        provider.password,
        tool_home="/home/tools/{name}",
    )
    host = folder / "host"
    ssh = Ssh(0, folder)
    provision_person(store, ldap, "Alice", [ssh.key("alice")])
    provision_person(store, ldap, "Bob", [ssh.key("bob")])
    provision_tool(store, ldap, "mytool", ["Alice"], by="test")

    # Without the directory's password the replica cannot bind: one clear line.
    started = ats(config, "devhost", "start", "--dir", str(host), password="")
    assert started.returncode != 0 and "ATS_LDAP_PASSWORD" in started.stderr
    assert "Traceback" not in started.stderr and started.stderr.count("\n") == 1, started.stderr
    # A directory that refuses the bind: one clear line, nothing left running.
    started = ats(config, "devhost", "start", "--dir", str(host), password="wrong")
    assert started.returncode != 0 and "cannot follow the directory" in started.stderr
    assert "Traceback" not in started.stderr and started.stderr.count("\n") == 1, started.stderr
    assert not (host / "devhost.json").exists()

    inside = ""
    started = ats(
        config,
        "devhost",
        "start",
        "--dir",
        str(host),
        "--user",
        "alice",
        password=provider.password,
    )
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        inside = _namespace_of(host)
        line = started.stdout.strip().splitlines()[-1]
        assert line.startswith("ssh -p ") and line.endswith(" alice@127.0.0.1"), line
        ssh.port = int(line.split()[2])
        status = ats(config, "devhost", "status", "--dir", str(host), password="")
        assert status.returncode == 0 and f"-p {ssh.port} " in status.stdout
        again = ats(config, "devhost", "start", "--dir", str(host), password=provider.password)
        assert again.returncode != 0 and "already runs" in again.stderr, again.stderr

        # The member logs in with their key: their uid and the tool's group.
        shown = ssh.run("alice", "id -un; id -nG; test -d ~ && echo home-made")
        assert shown.returncode == 0, shown.stderr
        name, groups, home = shown.stdout.split("\n")[:3]
        assert name == "alice" and "tools.mytool" in groups.split() and home == "home-made"
        # `become` is theirs; the tool's home is made the first time (group-writable, setgid).
        became = ssh.until("alice", "become mytool id -un; become mytool stat -c %a:%U .")
        assert became.returncode == 0, became.stderr
        assert became.stdout.split() == ["tools.mytool", "2770:tools.mytool"]
        # Their database credentials, written once their homes exist: the member's over
        # ssh, the tool's after `become`; neither reads the other's, nor does Bob.
        query = "mariadb --defaults-file=replica.my.cnf -N -e 'SELECT CURRENT_USER'"
        member_db = ssh.until("alice", f"cd && {query}")
        assert member_db.returncode == 0, member_db.stderr
        tool_db = ssh.until("alice", f"become mytool {query}")
        assert tool_db.returncode == 0, tool_db.stderr
        assert member_db.stdout.strip().startswith("u") and tool_db.stdout.strip().startswith("s")
        made = ssh.run(
            "alice",
            f"become mytool mariadb --defaults-file=replica.my.cnf -e "
            f"'CREATE DATABASE {tool_db.stdout.strip().split('@')[0]}__counts'",
        )
        assert made.returncode == 0, made.stderr
        # Nor a database outside the tool's prefix.
        outside = ssh.run(
            "alice", "become mytool mariadb --defaults-file=replica.my.cnf -e 'CREATE DATABASE x'"
        )
        assert outside.returncode != 0 and "Access denied" in outside.stderr
        # Bob's own credentials reach no database of the tool's.
        tool_user = tool_db.stdout.strip().split("@")[0]
        other = ssh.until("bob", "cd && mariadb --defaults-file=replica.my.cnf -e 'SELECT 1'")
        assert other.returncode == 0, other.stderr
        denied = ssh.run(
            "bob", f"cd && mariadb --defaults-file=replica.my.cnf -e 'USE {tool_user}__counts'"
        )
        assert denied.returncode != 0 and "Access denied" in denied.stderr
        for who, path in (("alice", "/home/tools/mytool"), ("bob", "/home/tools/mytool")):
            peek = ssh.run(who, f"cat {path}/replica.my.cnf")
            assert peek.returncode != 0 and "Permission denied" in peek.stderr, who
        # Bob logs in too, but may not become a tool he does not maintain.
        refused = ssh.run("bob", "become mytool id -un")
        assert refused.returncode == 1 and refused.stdout == ""
        assert "you (bob) are not a maintainer of the tool 'mytool'" in refused.stderr
        assert ssh.run("bob", "sudo -n -u tools.mytool id").returncode != 0
        assert ssh.run("alice", "sudo -n id -un").returncode != 0  # never root

        # `ats host check`, inside the login host, line by line.
        nsenter = status.stdout.split("inside it: ", 1)[1].split(" ats host check")[0].split()
        check = subprocess.run(
            [*nsenter, sys.executable, "-m", "ats.cli", "host", "check", "--member", "alice"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        lines = check.stdout.splitlines()
        assert [line.split(":")[0] for line in lines] == [
            "ok   lends no local account",
            "ok   takes keys only from the directory",
            "ok   refuses suspended members",
            "ok   ends revoked sessions",
            "ok   grants nothing setuid",
            "ok   tells nobody more than they need",
            "ok   resolves members",
            "ok   gets their keys",
            "ok   sees the sudo rules",
            "ok   makes homes",
        ]
        assert "alice may become tools.mytool" in check.stdout
        outside = subprocess.run(
            [sys.executable, "-m", "ats.cli", "host", "check", "--member", "alice"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert outside.returncode == 1 and "FAIL resolves members" in outside.stdout

        # A co-maintainer added on the bridge, the worker running: how long until they
        # can become the tool, and, removed again, until they no longer can.
        bridge = Bridge(app_settings, folder / "ats.sqlite", "Alice")
        with Worker(folder / "ats.sqlite", ldap):
            added = time.monotonic()
            assert "Bob is now a maintainer of mytool" in bridge.post("add", "Bob")
            joined = ssh.until("bob", "become mytool id -un")
            joined_after = time.monotonic() - added
            assert joined.returncode == 0, joined.stderr
            assert joined.stdout.strip() == "tools.mytool" and joined_after <= LIMIT
            left_at = time.monotonic()
            assert "Bob is no longer a maintainer of mytool" in bridge.post("remove", "Bob")
            left = ssh.until_refused("bob", "become mytool id -un")
            left_after = time.monotonic() - left_at
            assert left.returncode != 0 and left.stdout == "" and left_after <= LIMIT
            # sudo may refuse first ("a password is required"), until the host's cache
            # of Bob's groups expires and `become` itself says why.
            said = "you (bob) are not a maintainer of the tool 'mytool'"
            told = ssh.until_refused("bob", "become mytool id -un", said=said)
            assert said in told.stderr and time.monotonic() - left_at <= LIMIT

        # A key removed: how long it keeps opening a shell.
        ldap.set_keys("bob", [])
        removed = ssh.refused_after("bob")
        # A suspension: refused before any session opens.
        accounts.enqueue_suspend(store, "Alice", "membership lapsed")
        outcome = run_once(store, ldap)
        assert outcome is not None and outcome.ok, outcome
        suspended = ssh.refused_after("alice")
        print(
            f"\nco-maintainer added on the bridge can become after {joined_after:.1f} s, "
            f"removed cannot after {left_after:.1f} s; removed key refused after "
            f"{removed:.1f} s; suspended member refused after {suspended:.1f} s"
        )
        assert removed <= LIMIT and suspended <= LIMIT
    finally:
        stopped = ats(config, "devhost", "stop", "--dir", str(host), password="")
        store.close()
    assert inside and _processes_in(inside) == []  # sshd, SSSD, every session: gone
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert ats(config, "devhost", "status", "--dir", str(host), password="").returncode == 1
    assert ssh.run("bob", "true").returncode == 255  # nothing listens any more
    assert etc_snapshot() == before


@pytest.mark.process
def test_devhost_refuses_what_it_cannot_serve_in_one_line(folder: Path) -> None:
    host = folder / "host"
    config = ats_config(folder, None)  # the dry-run backend: no directory to serve
    started = ats(config, "devhost", "start", "--dir", str(host), password="secret")
    assert started.returncode != 0 and 'backend = "ldap"' in started.stderr
    assert started.stderr.count("\n") == 1 and "Traceback" not in started.stderr
    # A tools' root the machine lacks: refused, and nothing is made outside the folder.
    missing = folder / "no-such-root" / "project"
    config = ats_config(folder, None, tool_home_root=f'"{missing}"')
    config.write_text(config.read_text().replace('backend = "dry-run"', 'backend = "ldap"'))
    started = ats(config, "devhost", "start", "--dir", str(host), password="secret")
    assert started.returncode == 2 and f"the tools' root {missing} is not on this machine" in (
        started.stderr
    )
    assert started.stderr.count("\n") == 1 and not missing.parent.exists()
    status = ats(config, "devhost", "status", "--dir", str(host), password="")
    assert status.returncode == 1 and status.stdout.startswith("no login host runs from")
    stopped = ats(config, "devhost", "stop", "--dir", str(host), password="")
    assert stopped.returncode == 0 and stopped.stdout.strip() == "not running"
    check = subprocess.run(
        [sys.executable, "-m", "ats.cli", "host", "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    # Not a login host: every host line says what is missing, in one line each.
    assert check.returncode == 1 and "Traceback" not in check.stderr, check.stderr
    assert check.stdout.startswith("FAIL lends no local account: ")
    assert all(line.startswith(("ok  ", "FAIL")) for line in check.stdout.splitlines())
