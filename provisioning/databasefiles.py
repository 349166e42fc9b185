"""The tool databases' server settings and the login hosts' client side, rendered: a
MariaDB drop-in for the database server and one for every host whose members and tools
use it.

Pure: `render(DatabaseFiles)` returns two `HostFile`s made from the templates
`mariadb-server.cnf.tmpl` and `mariadb-client.cnf.tmpl` in `provisioning/hostfiles/`,
each commented with why it says what it says. Both go to
`/etc/mysql/mariadb.conf.d/`, after Debian's `50-*` files, so theirs are overridden:
the server listens where `[databases] client_host` and `client_port` say every
`replica.my.cnf` reaches it, looks up no names, speaks utf8mb4, refuses `LOAD DATA
LOCAL`, keeps file access to one empty folder (`secure-file-priv`) and takes
`max_connections` at once. `ats host render` writes them beside the login host's and
Slurm's files; `deploy/ansible/databases.yml` applies the server's and
`deploy/ansible/loginhost.yml` the client's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from provisioning.loginhost import HostFile, RenderError, fill, template

HOST = re.compile(r"^[-A-Za-z0-9_.:]+$")  # a name or an IPv4/IPv6 address
PATH = re.compile(r"^/[-/A-Za-z0-9_.]*[^/]$")
DROP_INS = "etc/mysql/mariadb.conf.d"
LAYOUT: tuple[tuple[str, str, int], ...] = (
    ("mariadb-server.cnf.tmpl", f"{DROP_INS}/60-ats-server.cnf", 0o644),
    ("mariadb-client.cnf.tmpl", f"{DROP_INS}/60-ats-client.cnf", 0o644),
)


@dataclass(frozen=True)
class DatabaseFiles:
    host: str  # where clients reach the server, and what it listens on ([databases] client_host)
    port: int = 3306
    per_account: int = 20  # connections each account may hold ([databases] max_connections)
    max_connections: int = 500  # connections at once, for everyone
    files_dir: str = "/var/lib/mysql-files"  # secure-file-priv: the one folder of files


def render(settings: DatabaseFiles) -> list[HostFile]:
    """The server's drop-in and the clients', in `LAYOUT` order."""
    values = _values(settings)
    return [HostFile(path, fill(template(name), values, name), mode) for name, path, mode in LAYOUT]


def _values(settings: DatabaseFiles) -> dict[str, str]:
    if not HOST.match(settings.host):
        raise RenderError(
            f"[databases] client_host {settings.host!r} must be a host name or an address: "
            "where the login hosts reach the database server, and where it listens"
        )
    if not 0 < settings.port < 65536:
        raise RenderError(f"[databases] client_port must be a TCP port (got {settings.port})")
    if not PATH.match(settings.files_dir):
        raise RenderError(f"the server's folder of files {settings.files_dir!r} must be a path")
    if settings.per_account > settings.max_connections:
        raise RenderError(
            f"[databases] max_connections ({settings.per_account}, per account) must be at "
            f"most the server's own ({settings.max_connections})"
        )
    return {
        "BIND_ADDRESS": settings.host,
        "HOST": settings.host,
        "PORT": str(settings.port),
        "PER_ACCOUNT": str(settings.per_account or "any number"),
        "MAX_CONNECTIONS": str(settings.max_connections),
        "FILES_DIR": settings.files_dir,
    }
