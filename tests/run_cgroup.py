"""Every process a test run starts dies with the run, however the run ends.

A pytest plugin (loaded by tests/conftest.py). At the start of a run, as root on a
machine with a writable cgroup v2 hierarchy, the run moves itself into a cgroup of its
own, `ats-tests-PID-START` (its pid and start time), which every process it starts
inherits: the wikis' PHP servers, slapd (as `openldap` too), the bridge, a dev login
host's namespace with SSSD and sshd, and anything those start in turn. At the end it
ends whatever is still in there, moves back to where it was and removes the cgroup. A
run killed outright (`kill -9`, a CI time-out) cannot; the next run finds the cgroup of
a run that no longer exists and ends everything in it first. Runs of other checkouts
at the same time keep their own cgroups and are never touched. SIGTERM ends a run as
Ctrl-C does, so its fixtures stop their servers in order.

Without root or cgroup v2 the plugin does nothing (a run then cleans up only through
its fixtures).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

PREFIX = "ats-tests-"


def cgroup_root() -> Path | None:
    """The cgroup v2 hierarchy's mount point, when this process may make cgroups in it."""
    if os.geteuid() != 0:
        return None
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup2":
            root = Path(fields[1])
            if os.access(root, os.W_OK) and (root / "cgroup.procs").exists():
                return root
    return None


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot, '' when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(") ", 1)[1].split()[19]


def _own_name() -> str:
    return f"{PREFIX}{os.getpid()}-{_start_time(os.getpid())}"


def _current(root: Path) -> Path:
    """The cgroup v2 this process is in."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return root / line[3:].lstrip("/")
    return root


def end_all(group: Path, *, spare: int | None = None) -> None:
    """Kill every process in `group` (but `spare`), and wait until they are gone."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return
        pids = [pid for pid in pids if pid != spare]
        if not pids:
            return
        if spare is None and (group / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                (group / "cgroup.kill").write_text("1")
        else:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def sweep(root: Path) -> list[str]:
    """End the processes of earlier runs that no longer exist and remove their cgroups;
    the names of those removed."""
    removed = []
    for group in sorted(root.glob(f"{PREFIX}*")):
        try:
            pid_text, start = group.name.removeprefix(PREFIX).split("-", 1)
            pid = int(pid_text)
        except ValueError:
            continue
        if _start_time(pid) == start:
            continue  # that run is still going
        end_all(group)
        with contextlib.suppress(OSError):
            group.rmdir()
            removed.append(group.name)
    return removed


class RunCgroup:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = _current(root)
        self.group = root / _own_name()

    def enter(self) -> None:
        self.group.mkdir(exist_ok=True)
        (self.group / "cgroup.procs").write_text(str(os.getpid()))

    def leave(self) -> None:
        end_all(self.group, spare=os.getpid())
        with contextlib.suppress(OSError):
            (self.home / "cgroup.procs").write_text(str(os.getpid()))
        end_all(self.group)
        with contextlib.suppress(OSError):
            self.group.rmdir()


_RUN: dict[str, Any] = {}


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")  # a pytest-xdist worker: its controller owns it


def pytest_sessionstart(session: pytest.Session) -> None:
    if _is_worker(session.config):
        return
    root = cgroup_root()
    if root is None:
        return
    sweep(root)
    run = RunCgroup(root)
    try:
        run.enter()
    except OSError:
        return
    _RUN["cgroup"] = run
    previous = signal.getsignal(signal.SIGTERM)

    def interrupted(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, previous)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = _RUN.pop("cgroup", None)
    if run is not None:
        run.leave()
