"""What the dev daemons (`devhost`, `devslurm`, `devcaddy`, `devmariadb`) share to run and
end their processes: whether a pid still runs, ending one, waiting for one to answer,
finding a program, a log's last lines, the folders a daemon's user must pass, and the
state file each keeps of what it started."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

State = TypeVar("State")


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie left by a parent that is gone counts as ended)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def end(pid: int, wait: float = 10.0) -> None:
    """SIGTERM `pid`; SIGKILL it if it still runs after `wait` seconds, and wait (up to
    5 s more) for it to be gone."""
    if not alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while alive(pid) and time.monotonic() < deadline + 5:
            time.sleep(0.02)


def which(program: str) -> str | None:
    """`program`'s path, looking in the sbin folders too (daemons live there)."""
    return shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")


def tail(path: Path, lines: int = 3) -> str:
    """The last lines of a log, on one line, to say why a daemon did not start."""
    try:
        found = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return f"(no {path.name})"
    return " | ".join(found[-lines:]) or f"(empty {path.name})"


def started(ready: Callable[[], bool], running: Callable[[], bool], seconds: float) -> bool:
    """Wait until `ready()` (the daemon answers); False as soon as `running()` says it
    ended, or after `seconds`."""
    deadline = time.monotonic() + seconds
    while not ready():
        if not running() or time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def untraversable(folder: Path) -> Path | None:
    """The first folder above `folder` (not /) that other users may not pass through
    (o+x): a daemon running as its own user would not reach its files."""
    for parent in list(folder.parents)[:-1]:
        if not parent.stat().st_mode & 0o001:
            return parent
    return None


def read_state(path: Path, kind: type[State]) -> State | None:
    """The state a dev daemon wrote to `path` (a JSON object of `kind`'s fields), or
    None when there is none or it is not one."""
    try:
        fields: Any = json.loads(path.read_text())
        return kind(**fields)
    except (OSError, ValueError, TypeError):
        return None
