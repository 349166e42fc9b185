"""A throwaway OpenLDAP server (Debian's slapd) on a free port of 127.0.0.1.

`Slapd.start(tmp)` writes a slapd.conf with the core, cosine, nis and inetorgperson
schemas plus the project's openssh-lpk and sudo schemas, an mdb database under `tmp`, a rootdn
whose password is hashed by `slappasswd`, and starts slapd in the foreground as the
`openldap` user; `stop()` ends it, `halt()` and `resume()` make an outage. Used by
the tests and by bench/bench_provision.py. A missing slapd is an error that says how
to install it, never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from membership.records import RequestRecord
    from membership.store import Store

from devtools.devdirectory import BASE_DN, ROOT_DN, slapd_conf
from devtools.ports import free_port
from tests import forked_cli

SCHEMAS = Path(__file__).resolve().parents[2] / "provisioning" / "schema"
SCHEMA = SCHEMAS / "openssh-lpk.schema"
SUDO_SCHEMA = SCHEMAS / "sudo.schema"
INSTALL = "apt-get install -y --no-install-recommends slapd ldap-utils"


def _find(program: str) -> str:
    for candidate in (shutil.which(program), f"/usr/sbin/{program}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(f"{program} is not installed; install it with: {INSTALL}")


@dataclass
class Slapd:
    directory: Path
    port: int
    process: subprocess.Popen[bytes]
    password: str
    base_dn: str = BASE_DN
    root_dn: str = ROOT_DN
    owned: bool = False

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        directory: Path | None = None,
        password: str = "test-secret",  # noqa: S107
        *,
        sudo_schema: bool = True,
        database_extra: str = "",
    ) -> Slapd:
        """Start a server in `directory` (default: a new one under /tmp, removed at
                `stop()`); the `openldap` user must be able to reach it, which pytest's
                private tmp_path does not allow. `sudo_schema=False`: a directory whose admin
                has not loaded the sudo schema; `database_extra`: more lines for the database
        (a replication provider's, say)."""
        slapd, slappasswd = _find("slapd"), _find("slappasswd")
        owned = directory is None
        if directory is None:
            directory = Path(tempfile.mkdtemp(prefix="ats-slapd-"))
        directory.mkdir(parents=True, exist_ok=True)
        data = directory / "data"
        data.mkdir(exist_ok=True)
        hashed = subprocess.run(
            [slappasswd, "-s", password], check=True, capture_output=True, text=True
        ).stdout.strip()
        # slapd runs as openldap, which may not reach a checkout under a private (0700)
        # folder: it reads its copy of the project's schema from the server's own folder.
        schemas = [f"/etc/ldap/schema/{n}.schema" for n in ("core", "cosine", "nis")]
        schemas.append("/etc/ldap/schema/inetorgperson.schema")
        for shipped in (SCHEMA, SUDO_SCHEMA) if sudo_schema else (SCHEMA,):
            schemas.append(str(directory / shipped.name))
            shutil.copyfile(shipped, directory / shipped.name)
        conf = directory / "slapd.conf"
        conf.write_text(slapd_conf(directory, schemas, hashed, database_extra))
        # The base entry, loaded offline so the server starts with its suffix.
        (directory / "base.ldif").write_text(
            f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\n"
            "dc: toolserver\no: American Toolserver\n"
        )
        subprocess.run(
            [_find("slapadd"), "-f", str(conf), "-l", str(directory / "base.ldif")],
            check=True,
            capture_output=True,
        )
        user = []
        if os.geteuid() == 0:
            shutil.chown(directory, "openldap", "openldap")
            for path in directory.rglob("*"):
                shutil.chown(path, "openldap", "openldap")
            user = ["-u", "openldap", "-g", "openldap"]
        port = free_port()
        log = (directory / "slapd.log").open("wb")
        process = subprocess.Popen(
            [slapd, "-d", "0", "-h", f"ldap://127.0.0.1:{port}/", "-f", str(conf), *user],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = cls(directory, port, process, password, owned=owned)
        server._wait()
        return server

    def _wait(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.directory / "slapd.log").read_text(errors="replace")
                raise RuntimeError(f"slapd exited with {self.process.returncode}:\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("slapd did not listen within 10 s")

    def halt(self) -> None:
        """Stop the server but keep its data, as an outage would (see `resume`)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)

    def resume(self) -> None:
        """Start the halted server again on the same port with the same data."""
        conf = self.directory / "slapd.conf"
        user = ["-u", "openldap", "-g", "openldap"] if os.geteuid() == 0 else []
        log = (self.directory / "slapd.log").open("ab")
        self.process = subprocess.Popen(
            [_find("slapd"), "-d", "0", "-h", f"ldap://127.0.0.1:{self.port}/", "-f", str(conf)]
            + user,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.owned:
            shutil.rmtree(self.directory, ignore_errors=True)

    def search(self, base: str, filter: str = "(objectClass=*)") -> list[dict[str, list[str]]]:
        """Entries under `base` as ldapsearch sees them (an independent check)."""
        import ldap3

        conn = ldap3.Connection(self.url, self.root_dn, self.password, auto_bind=True)
        try:
            conn.search(base, filter, attributes=["*"])
            out = []
            for item in conn.response:
                attrs = {
                    k: [v.decode() if isinstance(v, bytes) else str(v) for v in vals]
                    for k, vals in item["raw_attributes"].items()
                }
                attrs["dn"] = [item["dn"]]
                out.append(attrs)
            return out
        finally:
            conn.unbind()


def provider_settings() -> str:
    """The shipped provider settings (`ldap/provider.conf`: syncprov and the access
    rules) for a server of this module's suffix and admin."""
    from provisioning.loginhost import HostSettings, render

    settings = HostSettings("ldap://127.0.0.1/", "ldap://127.0.0.1/", BASE_DN, ROOT_DN)
    return next(f.text for f in render(settings) if f.path == "ldap/provider.conf")


def ats_config(folder: Path, slapd: Slapd | None, **extra: Any) -> Path:
    """`folder/ats.toml` with the store beside it and `slapd` as the LDAP backend (the
    dry-run backend when None); `extra` are more `[provisioning]` keys (numbers)."""
    path = folder / "ats.toml"
    backend = (
        'backend = "dry-run"\n'
        if slapd is None
        else f'backend = "ldap"\nldap_url = "{slapd.url}"\nbase_dn = "{slapd.base_dn}"\n'
        f'bind_dn = "{slapd.root_dn}"\n'
    )
    lines = "".join(f"{key} = {value}\n" for key, value in extra.items())
    path.write_text(f"""[wiki]
api = "http://127.0.0.1:9/api.php"
request_page = "Toolserver/Requests"
[bot]
username = "ClerkBot@clerk"
[store]
path = "ats.sqlite"
[provisioning]
{backend}{lines}""")
    return path


def ats(config: Path, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    """`ats --config CONFIG ARGS...` run to its end as its own process, with `password`
    as the directory's bind password."""
    return forked_cli.run(
        ["--config", str(config), *args],
        env={**os.environ, "ATS_LDAP_PASSWORD": password},
        timeout=120,
    )


def approve(store: Store, who: str, key: str) -> RequestRecord:
    """An account request for `who`, approved (the worker queues a job for it)."""
    return store.add_request(
        page="Toolserver/Requests",
        key=key,
        heading=f"Account request: {who}",
        requester=who,
        subject=who,
        type="account",
        fields={"type": "account", "purpose": "bots"},
        content_hash="h",
        intro_revid=1,
        intro_timestamp="2026-11-01T00:00:00Z",
        state="approved",
        detail={},
    )
