"""The whole journey's parts for the end-to-end test and bench/bench_journey.py.

`Journey` owns, for one `WikiBot` (the real local wiki, one request page, one store):
a slapd provider with `syncprov` (the shipped `ldap/provider.conf`), `ats bridge serve`
with the stand-in OAuth provider, a configuration naming both (`[provisioning]` LDAP,
tool homes under the login host's private /home), and `ats devhost start` — a syncrepl
replica, SSSD, sshd and sudo in a private mount namespace. `Ssh` runs `ssh` against it
with keys made by `ssh-keygen`. `stop()` ends everything it started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devtools.bridgewalk import Visitor
from tests.integration.bridge_server import BridgeServer
from tests.integration.conftest import WikiBot
from tests.integration.slapd import Slapd, ats, provider_settings
from tests.waiting import wait_until

LIMIT = 60  # seconds: what a member waits for at most, after any change
IDS = {"ChapterAdmin": 1, "Veteran": 2}
TOOL_HOMES = "/home/tools"  # inside the login host's private /home


def etc_snapshot() -> dict[str, bytes]:
    """The machine's own NSS and PAM files, byte for byte."""
    files = [Path("/etc/nsswitch.conf"), *sorted(Path("/etc/pam.d").iterdir())]
    return {str(path): path.read_bytes() for path in files if path.is_file()}


class Ssh:
    """`ssh` to the login host on 127.0.0.1 with keys kept in `folder`."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder

    def key(self, name: str) -> Path:
        """A new Ed25519 key pair `folder/NAME.key`(.pub); the private key's path."""
        path = self.folder / f"{name}.key"
        path.unlink(missing_ok=True)
        path.with_suffix(".key.pub").unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
        return path

    def public(self, name: str) -> str:
        return (self.folder / f"{name}.key.pub").read_text().strip()

    def command(self, user: str, key: str, *command: str) -> list[str]:
        return (
            ["ssh", "-p", str(self.port), "-i", str(self.folder / f"{key}.key")]
            + ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"]
            + ["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
            + ["-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10"]
            + [f"{user}@127.0.0.1", *command]
        )

    def run(self, user: str, *command: str, key: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(user, key or user, *command),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def logs_in(self, user: str, key: str = "") -> bool:
        return self.run(user, "true", key=key).returncode == 0

    def until(self, user: str, *command: str, key: str = "") -> subprocess.CompletedProcess[str]:
        """Run until it succeeds or LIMIT passes; the last result."""
        results: list[subprocess.CompletedProcess[str]] = []

        def succeeds() -> bool:
            results.append(self.run(user, *command, key=key))
            return results[-1].returncode == 0

        with contextlib.suppress(AssertionError):  # the caller judges the last result
            wait_until(succeeds, timeout=LIMIT, interval=0.25)
        return results[-1]


class Journey:
    def __init__(self, wikibot: WikiBot) -> None:
        self.wikibot = wikibot
        # slapd (as openldap) must reach its folders: not under pytest's 0700 tmp.
        self.folder = Path(tempfile.mkdtemp(prefix="ats-journey-"))
        self.folder.chmod(0o711)
        self.host = self.folder / "host"
        self.ssh = Ssh(0, self.folder)
        self.provider: Slapd | None = None
        self.bridge: BridgeServer | None = None
        self.children: list[subprocess.Popen[bytes]] = []

    # -- services ----------------------------------------------------------------

    def start(self) -> Journey:
        self.provider = Slapd.start(self.folder / "provider", database_extra=provider_settings())
        self.bridge = BridgeServer(self.wikibot)
        with self.bridge.config.open("a") as config:
            config.write(f"""
[provisioning]
backend = "ldap"
ldap_url = "{self.provider.url}"
base_dn = "{self.provider.base_dn}"
bind_dn = "{self.provider.root_dn}"
login_host = "127.0.0.1"
tool_home_root = "{TOOL_HOMES}"
""")
        self.bridge.start()
        return self

    @property
    def config(self) -> Path:
        assert self.bridge is not None
        return self.bridge.config

    @property
    def env(self) -> dict[str, str]:
        assert self.provider is not None
        return {"ATS_LDAP_PASSWORD": self.provider.password}

    def start_host(self) -> None:
        """`ats devhost start`: the login host, reading a replica of the provider."""
        assert self.provider is not None
        password = self.provider.password
        started = ats(self.config, "devhost", "start", "--dir", str(self.host), password=password)
        assert started.returncode == 0, started.stdout + started.stderr
        self.ssh.port = int(started.stdout.strip().splitlines()[-1].split()[2])

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        """`ats ARGS…` as a long-running child (`bot watch`, `provision run`)."""
        log = (self.folder / f"{args[0]}-{args[1]}.log").open("ab")
        child = subprocess.Popen(
            [*self.wikibot_command(), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**self.wikibot.env, **self.env},
        )
        self.children.append(child)
        return child

    def wikibot_command(self) -> list[str]:
        return [sys.executable, "-m", "ats.cli", "--config", str(self.config)]

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        if self.host.exists():
            ats(self.config, "devhost", "stop", "--dir", str(self.host), password="")
        if self.bridge is not None:
            self.bridge.stop()
        if self.provider is not None:
            self.provider.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- steps -------------------------------------------------------------------

    def cycle(self) -> None:
        self.wikibot.cycle()

    def provision(self) -> str:
        return self.wikibot.run("provision", "run", "--once", env=self.env).stdout

    def sign_in(self, username: str, **user: object) -> Visitor:
        assert self.bridge is not None
        self.bridge.oauth.login_as(username, IDS.get(username, 9), **user)  # type: ignore[arg-type]
        visitor = Visitor(self.bridge.url)
        visitor.sign_in(username)
        return visitor

    def requester_gates(self, username: str, key: str) -> Visitor:
        """`username` signs in, accepts the terms and adds the public key `key`; an admin
        attests their identification and records their fee."""
        requester = self.sign_in(username, editcount=650)
        requester.accept_terms()
        requester.add_key(key)
        admin = self.sign_in("ChapterAdmin", groups=("*", "user", "sysop"))
        admin.attest(username)
        admin.record_payment(username, "20.00", "USD", f"REF-{username}-{time.time_ns()}")
        return requester

    def state(self, heading: str) -> str:
        with contextlib.closing(self.wikibot.store()) as store:
            [record] = [r for r in store.requests(self.wikibot.page) if r.heading == heading]
            return record.state


def member_ids(ssh: Ssh, user: str) -> tuple[str, str]:
    """`id -u` and `id -nG` of `user`, logged in with their key."""
    shown = ssh.run(user, "id -u; id -nG")
    assert shown.returncode == 0, shown.stderr
    uid, groups = shown.stdout.strip().split("\n")
    return uid, groups


def running_as_root() -> bool:
    return os.geteuid() == 0
