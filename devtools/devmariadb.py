"""A throwaway MariaDB server for development and the tests: Debian's mariadbd, run as
user mysql on 127.0.0.1, everything under one folder.

`start()` makes the data folder with `mariadb-install-db` the first time (root may log
in only through the socket, as Debian's package sets it up; no test database) and then
runs `mariadbd --no-defaults` — so /etc/mysql is never read — with its socket, pid file,
error log, temporary files and data in the folder, no binary log and a small buffer
pool; it returns once the server answers on its socket. Stopping and starting again keeps the data.
`enter` is a command prefix (`nsenter -t PID -m --`) that starts it inside a dev login
host's mount namespace; the server listens on the machine's loopback either way (a
mount namespace shares the network), so clients reach it at `127.0.0.1:PORT`, which is
what a `replica.my.cnf` names. Root reaches it as `root` through `socket`. The state
(pid, port, socket) is kept in `FOLDER/devmariadb.json`. Runs as root.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from devtools.daemons import alive, end, read_state, started, tail, untraversable, which
from devtools.ports import free_port

PROGRAMS = {
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "mariadb": "mariadb-client",
}
USER = "mysql"
START_SECONDS = 30
# What keeps a development server small and quick to start; production's own settings
# are the chapter's (Debian's /etc/mysql), not these.
SMALL = (
    "--skip-log-bin",
    "--skip-name-resolve",
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=16M",
    "--max-connections=200",
    # As the chapter's server (`ats host render`'s drop-in): all of Unicode, no LOAD DATA LOCAL.
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
    "--local-infile=0",
)


class DevMariaDBError(RuntimeError):
    """The server cannot start; the message says why, in one line."""


@dataclass
class MariaDBState:
    pid: int
    port: int
    socket: str  # root's way in (`unix_socket` authentication)
    enter: list[str]


class DevMariaDB:
    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.state_file = self.folder / "devmariadb.json"
        self.data = self.folder / "data"
        # Its own, not the machine's /tmp: temporary tables are named by process id, so
        # servers in other pid namespaces (or a /tmp cleaner) could take each other's.
        self.tmp = self.folder / "tmp"
        self.socket = self.folder / "run" / "mysqld.sock"
        self.log = self.folder / "log" / "error.log"

    # -- state -----------------------------------------------------------------

    def state(self) -> MariaDBState | None:
        return read_state(self.state_file, MariaDBState)

    def running(self) -> MariaDBState | None:
        state = self.state()
        return state if state and alive(state.pid) else None

    # -- start and stop --------------------------------------------------------

    def start(self, enter: list[str] | None = None, port: int = 0) -> MariaDBState:
        """Make the data folder if it is missing and start mariadbd (behind the `enter`
        prefix) on `port` (0: a free one); return once it answers."""
        enter = list(enter or [])
        if os.geteuid() != 0:
            raise DevMariaDBError("a dev MariaDB runs as root (it becomes the mysql user)")
        for program, package in PROGRAMS.items():
            if not which(program):
                raise DevMariaDBError(f"{program} is missing: install {package} (scripts/setup)")
        if self.running():
            raise DevMariaDBError(f"a MariaDB already runs from {self.folder}")
        self._lay_out()
        if not (self.data / "mysql").is_dir():
            self._install(enter)
        port = port or free_port()
        command = [
            *enter,
            which("mariadbd") or "mariadbd",
            "--no-defaults",
            f"--user={USER}",
            f"--datadir={self.data}",
            f"--tmpdir={self.tmp}",
            f"--socket={self.socket}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={self.folder / 'run' / 'mysqld.pid'}",
            f"--log-error={self.log}",
            *SMALL,
        ]
        with (self.folder / "log" / "mariadbd.out").open("ab") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        state = MariaDBState(process.pid, port, str(self.socket), enter)
        self.state_file.write_text(json.dumps(asdict(state)))
        answers = lambda: _answers(self.socket)  # noqa: E731
        if not started(answers, lambda: process.poll() is None, START_SECONDS):
            self.stop()
            raise DevMariaDBError(f"mariadbd did not start: {tail(self.log)}")
        return state

    def _lay_out(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o711)  # mysql reaches its folders through it
        if (closed := untraversable(self.folder)) is not None:
            raise DevMariaDBError(f"{closed} must be traversable by mysql (o+x)")
        for name, mode in (("data", 0o700), ("tmp", 0o700), ("run", 0o755), ("log", 0o750)):
            folder = self.folder / name
            folder.mkdir(mode=mode, exist_ok=True)
            folder.chmod(mode)
            shutil.chown(folder, USER, USER)

    def _install(self, enter: list[str]) -> None:
        done = subprocess.run(
            [
                *enter,
                which("mariadb-install-db") or "mariadb-install-db",
                "--no-defaults",
                f"--user={USER}",
                f"--datadir={self.data}",
                f"--tmpdir={self.tmp}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                *SMALL,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            said = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise DevMariaDBError(f"mariadb-install-db failed: {said}")

    def stop(self) -> bool:
        """End mariadbd (a clean shutdown, SIGKILL after 30 s); whether it was running."""
        state = self.state()
        if state is None:
            return False
        ran = alive(state.pid)
        end(state.pid, wait=30)
        self.state_file.unlink(missing_ok=True)
        return ran

    # -- clients ---------------------------------------------------------------

    def sql(self, statement: str) -> str:
        """`statement` run as root (through the socket) by the `mariadb` client; its
        output, tab-separated without column names. Raises DevMariaDBError on an error."""
        done = subprocess.run(
            [
                which("mariadb") or "mariadb",
                "--no-defaults",
                f"--socket={self.socket}",
                "--user=root",
                "--batch",
                "--skip-column-names",
                "--execute",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise DevMariaDBError(f"mariadb: {done.stderr.strip()}")
        return done.stdout


def _answers(path: Path) -> bool:
    """Whether a server greets on the socket (MariaDB's handshake: protocol 10)."""
    if not path.is_socket():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(str(path))
            greeting = sock.recv(5)
        except OSError:
            return False
    return len(greeting) == 5 and greeting[4] == 10
