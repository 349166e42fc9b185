"""A dev login host with members and a tool, for the tests and bench/bench_revocation.py.

`open_site(extra)` starts a slapd provider with the shipped access rules, provisions
Alice and Bob (keys made by ssh-keygen) and the tool `mytool` they maintain (plus
`extra` people made straight in the directory), and runs `ats devhost start` on it;
`close_site` stops everything. `Session` is an open `ssh` session; `processes` finds a
user's processes by their command line.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from membership.store import Store
from provisioning.ldap import LdapBackend
from provisioning.worker import provision_person, provision_tool
from tests.integration.journey import LIMIT, Ssh
from tests.integration.slapd import Slapd, ats, ats_config, provider_settings
from tests.waiting import wait_until

TOOL_HOME = "/home/tools/mytool"


@dataclass
class Site:
    folder: Path
    provider: Slapd
    store: Store
    ldap: LdapBackend
    config: Path
    ssh: Ssh
    nsenter: list[str]
    replica_port: int

    @property
    def host(self) -> Path:
        return self.folder / "host"

    def tool_uid(self) -> int:
        account = self.ldap.describe("mytool")
        assert account is not None and account.kind == "tool"
        return account.uid


def open_site(
    extra: tuple[str, ...] = (),
    *,
    uid_range: tuple[int, int] = (10000, 59999),
    config_extra: str = "",
) -> Site:
    """The site; `uid_range` is its directory's (a site whose range no other site's
    overlaps may run beside them: each host's session guard looks at its range only);
    `config_extra`, more sections of its configuration (TOML)."""
    folder = Path(tempfile.mkdtemp(prefix="ats-holds-"))
    folder.chmod(0o711)  # slapd (as openldap) reaches its folders through it
    provider = Slapd.start(folder / "provider", database_extra=provider_settings())
    store = Store(folder / "ats.sqlite")
    ldap = LdapBackend(
        provider.url,
        provider.base_dn,
        provider.root_dn,
        provider.password,
        id_range=uid_range,
        tool_home=TOOL_HOME.replace("mytool", "{name}"),
    )
    ssh = Ssh(0, folder)
    for name in ("alice", "bob", *extra):
        ssh.key(name)
    provision_person(store, ldap, "Alice", [ssh.public("alice")])
    provision_person(store, ldap, "Bob", [ssh.public("bob")])
    for name in extra:
        ldap.create_person(name.capitalize(), name, [ssh.public(name)])
    provision_tool(store, ldap, "mytool", ["Alice", "Bob"], by="test")
    low, high = uid_range
    config = ats_config(folder, provider, tool_home_root='"/home/tools"', uid_min=low, uid_max=high)
    if config_extra:
        config.write_text(config.read_text() + config_extra)
    site = Site(folder, provider, store, ldap, config, ssh, [], 0)
    started = ats(config, "devhost", "start", "--dir", str(site.host), password=provider.password)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        ssh.port = int(started.stdout.strip().splitlines()[-1].split()[2])
        status = ats(config, "devhost", "status", "--dir", str(site.host), password="")
        site.nsenter = status.stdout.split("inside it: ", 1)[1].split(" ats host check")[0].split()
        site.replica_port = int(status.stdout.split("replica on ")[1].split(")")[0])
        # SSSD fetches the sudo rules shortly after it starts.
        became = ssh.until("alice", "become mytool true")
        assert became.returncode == 0, became.stderr
    except BaseException:
        close_site(site)
        raise
    return site


def close_site(site: Site) -> None:
    ats(site.config, "devhost", "stop", "--dir", str(site.host), password="")
    site.store.close()
    site.provider.stop()
    shutil.rmtree(site.folder, ignore_errors=True)


class Session:
    """An open `ssh` session running `command` until it is ended."""

    def __init__(self, site: Site, user: str, command: str) -> None:
        self.process = subprocess.Popen(
            site.ssh.command(user, user, command),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        self.first = self.process.stdout.readline().strip()

    def alive(self) -> bool:
        return self.process.poll() is None

    def end(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait(10)


def processes(uid: int, marker: str) -> list[int]:
    """Pids of the processes of `uid` whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid != uid:
                    continue
                if marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def start_as_tool(site: Site, user: str, marker: str) -> None:
    """`user` starts `sleep MARKER` as the tool, in the background, from their login."""
    started = site.ssh.run(
        user, f"become mytool sh -c 'nohup sleep {marker} >/dev/null 2>&1 &' && echo started"
    )
    assert started.returncode == 0 and started.stdout.strip() == "started", started.stderr


def ended_within(check: Callable[[], bool]) -> float:
    """Seconds until `check` holds (at most LIMIT)."""
    started = time.monotonic()
    wait_until(check, timeout=LIMIT, interval=0.2)
    return time.monotonic() - started
