"""A local OpenLDAP directory for the demo: Debian's slapd on a free port of 127.0.0.1.

`DevDirectory.start(folder, password, schemas, database_extra)` writes a slapd.conf
with the core, cosine, nis and inetorgperson schemas plus the ones handed in (name →
text; the project's openssh-lpk and sudo schemas, which this package may not read
itself), an mdb database under `folder/data` holding the suffix, and a rootdn whose
password is hashed by `slappasswd`; `database_extra` are more database lines (a
replication provider's `syncprov`, say). The data stays in `folder` between runs: a
second start serves what the first one held. slapd runs in the foreground as the
`openldap` user when started by root; `stop()` ends it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devtools.ports import free_port

BASE_DN = "dc=toolserver,dc=example"
ROOT_DN = "cn=admin,dc=toolserver,dc=example"
SYSTEM_SCHEMAS = ("core", "cosine", "nis", "inetorgperson")


def slapd_conf(folder: Path, includes: list[str], hashed: str, database_extra: str = "") -> str:
    """The slapd.conf of a server kept in `folder` (its pid file there, its mdb database
    in `folder/data`) with the schema files `includes` and the rootdn's `hashed`
    password; the tests' servers are written by it too."""
    lines = "\n".join(f"include {path}" for path in includes)
    return f"""{lines}
pidfile {folder}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 1073741824
suffix "{BASE_DN}"
rootdn "{ROOT_DN}"
rootpw {hashed}
directory {folder / "data"}
index objectClass eq
index uid,uidNumber,gidNumber,cn,employeeNumber eq
{database_extra}
"""


class DevDirectoryError(RuntimeError):
    """The directory cannot start; the message says why, in one line."""


@dataclass
class DevDirectory:
    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    password: str
    base_dn: str = BASE_DN
    root_dn: str = ROOT_DN

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls, folder: Path, password: str, schemas: dict[str, str], database_extra: str = ""
    ) -> DevDirectory:
        slapd, slappasswd = _find("slapd"), _find("slappasswd")
        data = folder / "data"
        data.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o711)  # slapd (as openldap) reaches its files through it
        hashed = subprocess.run(
            [slappasswd, "-s", password], check=True, capture_output=True, text=True
        ).stdout.strip()
        includes = [f"/etc/ldap/schema/{name}.schema" for name in SYSTEM_SCHEMAS]
        for name, text in schemas.items():
            (folder / name).write_text(text)
            includes.append(str(folder / name))
        conf = folder / "slapd.conf"
        conf.write_text(slapd_conf(folder, includes, hashed, database_extra))
        conf.chmod(0o600)
        if not (data / "data.mdb").exists():
            (folder / "base.ldif").write_text(
                f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\n"
                "dc: toolserver\no: American Toolserver\n"
            )
            added = subprocess.run(
                [_find("slapadd"), "-f", str(conf), "-l", str(folder / "base.ldif")],
                capture_output=True,
                text=True,
                check=False,
            )
            if added.returncode != 0:
                raise DevDirectoryError(f"slapadd failed: {added.stderr.strip()[-200:]}")
        subprocess.run(["chown", "-R", "openldap:openldap", str(folder)], check=True)
        port = free_port()
        log = (folder / "slapd.log").open("wb")
        process = subprocess.Popen(
            [slapd, "-d", "0", "-h", f"ldap://127.0.0.1:{port}/", "-f", str(conf)]
            + ["-u", "openldap", "-g", "openldap"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo, which stops it in order
        )
        directory = cls(folder, port, process, password)
        deadline = time.monotonic() + 10
        while not _listens(port):
            if process.poll() is not None or time.monotonic() > deadline:
                directory.stop()
                tail = (folder / "slapd.log").read_text(errors="replace").strip()[-200:]
                raise DevDirectoryError(f"slapd did not start: {tail or 'no log'}")
            time.sleep(0.05)
        return directory

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _find(program: str) -> str:
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if found is None:
        raise DevDirectoryError(f"{program} is missing: install slapd and ldap-utils")
    return found


def _listens(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0
