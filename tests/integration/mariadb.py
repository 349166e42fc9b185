"""A real MariaDB for the tool databases' tests (`devtools.devmariadb`, one per test
process: the `mariadb` fixture), and what those tests do as an account: homes owned by
made-up uids under a folder every uid may traverse, and the `mariadb` client run as the
account with its own `replica.my.cnf`.

Tests share the server, so each takes uids of its own (`Uids`): the reconciler touches
only the users of the accounts in its store, and a test's users are nobody else's.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.devmariadb import DevMariaDB, DevMariaDBError, MariaDBState

UIDS = itertools.count(random.randint(200, 900) * 1000)  # per test process, apart from others'


@dataclass
class Server:
    dev: DevMariaDB
    state: MariaDBState

    @property
    def port(self) -> int:
        return self.state.port

    @property
    def socket(self) -> str:
        return self.state.socket

    def sql(self, statement: str) -> str:
        return self.dev.sql(statement)


def start_server() -> Iterator[Server]:
    """A dev MariaDB in a folder of its own (the mysql user must traverse it), removed
    after; fails (never skips) when it cannot start."""
    folder = Path(tempfile.mkdtemp(prefix="ats-mariadb-"))
    folder.chmod(0o711)
    dev = DevMariaDB(folder / "server")
    try:
        state = dev.start()
    except DevMariaDBError as error:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(str(error), pytrace=False)
    try:
        yield Server(dev, state)
    finally:
        dev.stop()
        shutil.rmtree(folder, ignore_errors=True)


def next_uid() -> int:
    return next(UIDS)


def make_home(root: Path, path: str, uid: int, mode: int = 0o750) -> Path:
    """ROOT/path, a folder of `uid` (its group the same number, as the directory gives)."""
    home = root / path.lstrip("/")
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, uid, uid)
    home.chmod(mode)
    return home


def homes_root() -> Path:
    """A folder every uid may traverse (a test's own tmp_path is root's alone)."""
    root = Path(tempfile.mkdtemp(prefix="ats-homes-"))
    root.chmod(0o755)
    for part in ("home", "data/project"):
        (root / part).mkdir(parents=True)
        (root / part).chmod(0o755)
    return root


def as_account(uid: int, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`command` run as `uid` (and gid `uid`, no other group)."""
    return subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8"},
    )


def client_as(uid: int, cnf: Path, statement: str) -> subprocess.CompletedProcess[str]:
    """The `mariadb` client run as the account, with its credentials file."""
    return as_account(
        uid, "mariadb", f"--defaults-file={cnf}", "--batch", "--skip-column-names", "-e", statement
    )
