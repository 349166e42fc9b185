"""A test run leaves nothing behind, however it ends (tests/run_cgroup.py), tried with
real `pytest` processes: one killed with SIGKILL while a server it started runs (the
next run ends that server and removes the dead run's cgroup), and one stopped with
SIGTERM (its fixture stops its server, and nothing is left)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.run_cgroup import PREFIX, cgroup_root
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
INNER = """
import os, subprocess, time, pathlib
import pytest

@pytest.fixture
def server():
    child = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    pathlib.Path(os.environ["PIDS"]).write_text(f"{child.pid}\\n")
    yield child
    child.terminate()
    child.wait()

def test_waits(server):
    time.sleep(1000)

def test_passes():
    pass
"""


def _inner(folder: Path, *args: str) -> subprocess.Popen[bytes]:
    (folder / "test_inner.py").write_text(INNER)
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.run_cgroup", "-p", "no:cacheprovider"]
        + ["-p", "no:toolforge_i18n"]
        + ["-c", os.devnull, "--rootdir", str(folder), str(folder / "test_inner.py"), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PIDS": str(folder / "pids")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except OSError:
        return False
    return state != "Z"


def _groups_of(pid: int) -> list[Path]:
    root = cgroup_root()
    assert root is not None
    return list(root.glob(f"{PREFIX}{pid}-*"))


@pytest.fixture
def needs_cgroups() -> None:
    if cgroup_root() is None:
        pytest.fail("the tests run as root with a writable cgroup v2 hierarchy", pytrace=False)


def test_a_run_killed_outright_is_cleaned_up_by_the_next(
    tmp_path: Path, needs_cgroups: None
) -> None:
    killed = _inner(tmp_path, "-k", "waits")
    wait_until(lambda: (tmp_path / "pids").exists(), timeout=60)
    server = int((tmp_path / "pids").read_text())
    assert _alive(server) and _groups_of(killed.pid)
    killed.send_signal(signal.SIGKILL)
    killed.wait(10)
    assert _alive(server)  # orphaned: nothing of the dead run stopped it

    following = _inner(tmp_path, "-k", "passes")
    assert following.wait(60) == 0
    assert not _alive(server)
    assert _groups_of(killed.pid) == [] and _groups_of(following.pid) == []


def test_a_run_stopped_with_sigterm_stops_its_servers(tmp_path: Path, needs_cgroups: None) -> None:
    stopped = _inner(tmp_path, "-k", "waits")
    wait_until(lambda: (tmp_path / "pids").exists(), timeout=60)
    server = int((tmp_path / "pids").read_text())
    stopped.send_signal(signal.SIGTERM)
    stopped.wait(30)
    assert not _alive(server)
    assert _groups_of(stopped.pid) == []
