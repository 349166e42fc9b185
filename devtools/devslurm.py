"""A throwaway Slurm node for development and the tests: munged, slurmctld and slurmd
on 127.0.0.1, all under one folder.

The configuration is production's (`provisioning.slurmfiles.render`), given the
folder's paths, free ports, the machine's CPUs and a node name of its own (`atsdevNNN`,
`slurmd -N`), so that several instances on one machine never share a node's cgroups
(`/sys/fs/cgroup/*/slurm_NODE`, which are the machine's: cgroups are not namespaced
here). MUNGE runs with a key of its own (0400 munge:munge in a 0700 folder of munge's)
and a socket that is either in the folder (standalone) or, inside a dev login host's
mount namespace, at munge's default `/run/munge/munge.socket.2` on the namespace's
private /run, where every client looks. `enter` is a command prefix (`nsenter -t PID
-m --`) that starts the daemons in such a namespace, where NSS resolves the tools'
accounts through SSSD.

`stop()` cancels every job first (killing slurmd leaves the jobs' processes running),
ends slurmd, slurmctld and munged, and removes the node's cgroups, deepest first.
The state (pids, ports, the node) is kept in `FOLDER/devslurm.json`. Runs as root.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from devtools.daemons import alive, end, read_state, started, tail, untraversable, which
from devtools.ports import free_port
from provisioning.slurmfiles import MUNGE_SOCKET, SlurmNode, SlurmSettings, render

PROGRAMS = {
    "munged": "munge",
    "mungekey": "munge",
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "sbatch": "slurm-client",
    "sinfo": "slurm-client",
    "scancel": "slurm-client",
}
CGROUPS = Path("/sys/fs/cgroup")
MEMORY_MB = 2048  # what the node offers jobs: enough for the tests, far below the machine's
START_SECONDS = 20


class DevSlurmError(RuntimeError):
    """The node cannot start; the message says why, in one line."""


@dataclass
class SlurmState:
    node: str
    conf: str  # the slurm.conf client commands need (SLURM_CONF)
    munge_socket: str
    enter: list[str]  # the prefix the daemons were started behind (and clients run behind)
    slurmctld_port: int = 0
    slurmd_port: int = 0
    munged_pid: int = 0
    slurmctld_pid: int = 0
    slurmd_pid: int = 0


def new_node_name() -> str:
    """`atsdevNNNN`, a name no node on this machine has cgroups under."""
    while True:
        name = f"atsdev{random.randint(1000, 99999)}"  # noqa: S311 - not a secret
        if not node_cgroups(name):
            return name


def node_cgroups(node: str) -> list[Path]:
    """The node's cgroups on the machine (`/sys/fs/cgroup/*/slurm_NODE` and all below),
    deepest first."""
    found: list[Path] = []
    for top in CGROUPS.glob(f"*/slurm_{node}"):
        found += [path for path in top.rglob("*") if path.is_dir()]
        found.append(top)
    return sorted(found, key=lambda path: len(path.parts), reverse=True)


def remove_stale_cgroups() -> list[str]:
    """Remove the cgroups of dev nodes whose slurmd no longer runs (a run killed
    outright leaves them on the machine); the nodes whose cgroups were removed."""
    running = set()
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            words = (entry / "cmdline").read_bytes().split(b"\0")
            if entry.name.isdigit() and b"-N" in words and Path(words[0].decode()).name == "slurmd":
                running.add(words[words.index(b"-N") + 1].decode())
    stale = {top.name.removeprefix("slurm_") for top in CGROUPS.glob("*/slurm_atsdev*")}
    removed = []
    for node in sorted(stale - running):
        with contextlib.suppress(OSError):
            _remove_cgroups(node)
            removed.append(node)
    return removed


class DevSlurm:
    def __init__(self, folder: Path, node_name: str) -> None:
        self.folder = folder.resolve()
        self.node = node_name
        self.state_file = self.folder / "devslurm.json"

    # -- state -----------------------------------------------------------------

    def state(self) -> SlurmState | None:
        return read_state(self.state_file, SlurmState)

    def running(self) -> SlurmState | None:
        """The state when munged, slurmctld and slurmd all still run."""
        state = self.state()
        pids = (state.munged_pid, state.slurmctld_pid, state.slurmd_pid) if state else ()
        return state if state and all(alive(pid) for pid in pids) else None

    def env(self) -> dict[str, str]:
        """What a client command (sbatch, squeue, scancel) needs in its environment."""
        return {"SLURM_CONF": str(self.folder / "etc" / "slurm.conf")}

    # -- start -----------------------------------------------------------------

    def start(self, enter: list[str] | None = None) -> SlurmState:
        """Lay the node out under the folder and start munged, slurmctld and slurmd
        (behind the `enter` prefix); return once the node is idle."""
        enter = list(enter or [])
        if os.geteuid() != 0:
            raise DevSlurmError("a dev Slurm node runs as root (slurmd makes cgroups)")
        for program, package in PROGRAMS.items():
            if not which(program):
                raise DevSlurmError(f"{program} is missing: install {package} (scripts/setup)")
        if self.running():
            raise DevSlurmError(f"a Slurm node already runs from {self.folder}")
        self.stop()
        remove_stale_cgroups()
        if self.folder.exists():
            shutil.rmtree(self.folder)
        # Inside a namespace munged listens where every client looks (its private /run);
        # outside, in the folder, so the machine's /run is left alone.
        munge_socket = MUNGE_SOCKET if enter else str(self.folder / "munge-run" / "munge.socket.2")
        conf = str(self.folder / "etc" / "slurm.conf")
        state = SlurmState(self.node, conf, munge_socket, enter)
        state.slurmctld_port, state.slurmd_port = free_port(), free_port()
        while state.slurmd_port == state.slurmctld_port:
            state.slurmd_port = free_port()
        self._lay_out(state)
        try:
            state.munged_pid = self._munged(enter, state)
            state.slurmctld_pid = self._daemon(enter, "slurmctld", [])
            state.slurmd_pid = self._daemon(enter, "slurmd", ["-N", self.node])
            self.state_file.write_text(json.dumps(asdict(state)))
            self._wait_idle(state)
        except BaseException:
            self.stop()
            raise
        return state

    def _lay_out(self, state: SlurmState) -> None:
        root = self.folder
        root.mkdir(parents=True)
        # slurm and munge reach their folders through this one (a mktemp folder is 0700).
        root.chmod(0o711)
        if (closed := untraversable(root)) is not None:
            raise DevSlurmError(f"{closed} must be traversable by slurm and munge (o+x)")
        for name, owner, mode in (
            ("etc", "root", 0o755),
            ("state", "slurm", 0o700),
            ("spool", "root", 0o755),
            ("log", "slurm", 0o755),
            ("run", "slurm", 0o755),
            ("munge-key", "munge", 0o700),
            ("munge-run", "munge", 0o755),
        ):
            folder = root / name
            folder.mkdir(mode=mode)
            folder.chmod(mode)
            shutil.chown(folder, owner, owner)
        key = root / "munge-key" / "munge.key"
        subprocess.run(
            [which("mungekey") or "mungekey", "--create", "--keyfile", str(key)],
            check=True,
            capture_output=True,
        )
        key.chmod(0o400)
        shutil.chown(key, "munge", "munge")
        settings = SlurmSettings(
            controller_host=socket.gethostname().split(".")[0],
            controller_address="127.0.0.1",
            nodes=(
                SlurmNode(
                    self.node,
                    cpus=os.cpu_count() or 1,
                    memory_mb=MEMORY_MB,
                    address="127.0.0.1",
                    hostname=socket.gethostname().split(".")[0],
                ),
            ),
            slurmctld_port=state.slurmctld_port,
            slurmd_port=state.slurmd_port,
            state_dir=str(root / "state"),
            spool_dir=str(root / "spool"),
            log_dir=str(root / "log"),
            run_dir=str(root / "run"),
            munge_socket=state.munge_socket,
        )
        for item in render(settings):
            target = root / "etc" / Path(item.path).name
            target.write_text(item.text)
            target.chmod(item.mode)

    def _munged(self, enter: list[str], state: SlurmState) -> int:
        run = self.folder / "munge-run"
        socket_dir = Path(state.munge_socket).parent
        command = [
            *enter,
            "setpriv",
            "--reuid=munge",
            "--regid=munge",
            "--init-groups",
            which("munged") or "munged",
            "--foreground",
            f"--key-file={self.folder / 'munge-key' / 'munge.key'}",
            f"--socket={state.munge_socket}",
            f"--pid-file={run / 'munged.pid'}",
            f"--log-file={run / 'munged.log'}",
            f"--seed-file={run / 'munged.seed'}",
        ]
        if enter:
            # The namespace's /run/munge, made as the munge package makes it at boot.
            prepare = 'mkdir -p -m 0755 "$1" && chown munge:munge "$1"'
            subprocess.run([*enter, "sh", "-c", prepare, "sh", str(socket_dir)], check=True)
        process = self._spawn(command, "munged")
        socket_made = lambda: self._exists(enter, state.munge_socket)  # noqa: E731
        if not started(socket_made, lambda: process.poll() is None, START_SECONDS):
            raise DevSlurmError(f"munged did not start: {tail(run / 'munged.log')}")
        return process.pid

    def _daemon(self, enter: list[str], program: str, extra: list[str]) -> int:
        conf = self.folder / "etc" / "slurm.conf"
        command = [*enter, which(program) or program, "-D", "-f", str(conf), *extra]
        return self._spawn(command, program).pid

    def _spawn(self, command: list[str], name: str) -> subprocess.Popen[bytes]:
        with (self.folder / "log" / f"{name}.out").open("wb") as out:
            return subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def _exists(self, enter: list[str], path: str) -> bool:
        if not enter:
            return Path(path).is_socket()
        return subprocess.run([*enter, "test", "-S", path], check=False).returncode == 0

    def _wait_idle(self, state: SlurmState) -> None:
        deadline = time.monotonic() + START_SECONDS
        while True:
            shown = self.client("sinfo", "-h", "-n", self.node, "-o", "%t")
            if shown.returncode == 0 and shown.stdout.strip() == "idle":
                return
            pids = (state.munged_pid, state.slurmctld_pid, state.slurmd_pid)
            if not all(alive(pid) for pid in pids) or time.monotonic() > deadline:
                said = shown.stdout.strip() or shown.stderr.strip()
                logs = [tail(self.folder / "log" / f"{n}.log") for n in ("slurmctld", "slurmd")]
                raise DevSlurmError(
                    f"the Slurm node {self.node} is not idle ({said}): {' / '.join(logs)}"
                )
            time.sleep(0.05)

    def client(self, *command: str) -> subprocess.CompletedProcess[str]:
        """A client command (`sinfo`, `squeue`, `scancel`, …) run as root where the node
        runs (behind the prefix it was started behind), its output as text."""
        state = self.state()
        enter = state.enter if state else []
        env = [f"{key}={value}" for key, value in self.env().items()]
        return subprocess.run(
            [*enter, "env", *env, *command],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    # -- stop ------------------------------------------------------------------

    def stop(self) -> bool:
        """Cancel every job, end slurmd, slurmctld and munged and remove the node's
        cgroups; whether anything was running."""
        state = self.state()
        if state is None:
            _remove_cgroups(self.node)
            return False
        if alive(state.slurmctld_pid) and alive(state.munged_pid):
            self._cancel_jobs()
        pids = [state.slurmd_pid, state.slurmctld_pid, state.munged_pid]
        ran = any(alive(pid) for pid in pids)
        for pid in pids:  # slurmd first: it must not see its controller go
            end(pid)
        _remove_cgroups(state.node)
        self.state_file.unlink(missing_ok=True)
        return ran

    def _cancel_jobs(self) -> None:
        listed = self.client("squeue", "-h", "-o", "%i")
        jobs = listed.stdout.split() if listed.returncode == 0 else []
        if not jobs:
            return
        self.client("scancel", *jobs)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            left = self.client("squeue", "-h", "-t", "PD,R,CG,S", "-o", "%i")
            if left.returncode != 0 or not left.stdout.strip():
                return
            time.sleep(0.1)


def _remove_cgroups(node: str) -> None:
    """Remove the node's cgroups, deepest first, ending anything left inside."""
    if not node:
        return
    for group in node_cgroups(node):
        deadline = time.monotonic() + 5
        while group.exists():
            with contextlib.suppress(OSError):
                for pid in (group / "cgroup.procs").read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
            try:
                group.rmdir()
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
