"""Tools' jobs on a real Slurm node with real MUNGE: the dev login host's own node
(`devtools.devslurm`, started by `ats devhost start` inside its namespace, where SSSD
resolves the tools' accounts) and a standalone one. A tool submits as itself and its job
runs as it; a job without --mem gets the default, not the node; a job over its memory
ends OUT_OF_MEMORY; a timed start starts within seconds of its time; another account
does not see a tool's jobs; `stop` leaves no job, no daemon and no cgroup of the node on
the machine (cgroups are not namespaced), a start removes those a killed run left, and
the machine's /etc is what it was."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.devhost import DevHost
from devtools.devslurm import CGROUPS, DevSlurm, new_node_name, node_cgroups
from tests.integration.journey import etc_snapshot
from tests.integration.loginhost_site import TOOL_HOME, Site, close_site, open_site
from tests.integration.slapd import ats
from tests.waiting import wait_until

TOOL = "tools.mytool"
DAEMONS = ("munged", "slurmctld", "slurmd", "slurmstepd")


def machine_etc() -> dict[str, bytes]:
    """The machine's NSS and PAM files, and Slurm's and MUNGE's, byte for byte."""
    files = {**etc_snapshot()}
    for folder in (Path("/etc/slurm"), Path("/etc/munge")):
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                files[str(path)] = path.read_bytes()
    return files


def daemons_under(folder: Path) -> list[str]:
    """Slurm and MUNGE processes whose command line names `folder` (a job's steps are
    found through the node's cgroups)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(folder) in line and any(name in line for name in DAEMONS):
                found.append(f"{entry.name}: {line}")
    return found


class Node:
    """The dev login host's Slurm node, reached from inside its namespace."""

    def __init__(self, site: Site) -> None:
        self.site = site
        host = DevHost(site.host)
        state = host.running()
        assert state is not None and state.slurm_node and state.slurm_conf
        self.name = state.slurm_node
        self.slurm = host.slurm(state)

    def as_user(self, user: str, *command: str) -> subprocess.CompletedProcess[str]:
        """`command` run as `user` inside the login host, as the runtime's controller
        does (no SLURM_CONF: the namespace's /etc/slurm is the node's)."""
        return subprocess.run(
            [*self.site.nsenter, "runuser", "-u", user, "--", *command],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={key: value for key, value in os.environ.items() if key != "SLURM_CONF"},
        )

    def submit(self, *options: str) -> str:
        done = self.as_user(TOOL, "sbatch", "--parsable", f"--chdir={TOOL_HOME}", *options)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def jobs(self) -> dict[str, dict[str, Any]]:
        """Every job slurmctld knows, finished ones included, by id (as root sees them)."""
        shown = self.slurm.client("squeue", "--json")
        assert shown.returncode == 0, shown.stderr
        return {str(job["job_id"]): job for job in json.loads(shown.stdout)["jobs"]}

    def ended(self, job: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            found = self.jobs().get(job)
            ending = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING")
            return found if found and found["job_state"] not in ending else None

        return wait_until(done, timeout=30, interval=0.2, what=lambda: str(self.jobs()))

    def read(self, path: str) -> str:
        shown = subprocess.run(
            [*self.site.nsenter, "cat", path], capture_output=True, text=True, check=False
        )
        return shown.stdout


@pytest.fixture(scope="module")
def login_host() -> Iterator[tuple[Site, dict[str, bytes]]]:
    """One dev login host with its Slurm node for the module; the last test stops it."""
    before = machine_etc()
    started = time.monotonic()
    site = open_site()
    print(f"\nthe login host with its Slurm node started in {time.monotonic() - started:.2f} s")
    try:
        yield site, before
    finally:
        if site.folder.exists():  # not stopped by the last test
            close_site(site)


@pytest.mark.loginhost
def test_a_tool_submits_and_its_jobs_run_as_the_tool(
    login_host: tuple[Site, dict[str, bytes]],
) -> None:
    node = Node(login_host[0])
    # A timed start first, so that its wait overlaps the other jobs'.
    asked = int(time.time())  # sbatch reads `now` itself: slurmctld may stamp the
    timed = node.submit("--begin=now+3", "--wrap", "true")  # submission a second later
    site = node.site
    status = ats(site.config, "devhost", "status", "--dir", str(site.host), password="")
    assert f"slurm: node {node.name}, SLURM_CONF={node.slurm.env()['SLURM_CONF']}\n" in (
        status.stdout
    )
    assert f"as a tool: {' '.join(site.nsenter)} runuser -u tools.NAME -- sbatch" in status.stdout
    plain = node.submit("--wrap", "id -un; id -gn")
    done = node.ended(plain)
    assert done["job_state"] == "COMPLETED" and done["user_name"] == TOOL
    output = node.read(f"{TOOL_HOME}/slurm-{plain}.out").split()
    assert output == [TOOL, TOOL]
    # Without --mem the job is given the default per CPU, not the whole node.
    shown = node.slurm.client("scontrol", "show", "job", plain)
    assert "MinMemoryCPU=512M" in shown.stdout, shown.stdout

    # A member who is not the tool sees none of its jobs; the tool sees them.
    assert node.as_user("alice", "squeue", "-h", "-t", "all").stdout.strip() == ""
    mine = node.as_user(TOOL, "squeue", "-h", "-t", "all", "-o", "%i").stdout.split()
    assert plain in mine and timed in mine

    # Over ssh, as a maintainer who becomes the tool: the host's own config and socket.
    over_ssh = node.site.ssh.run("alice", "become mytool sbatch --parsable --wrap true")
    assert over_ssh.returncode == 0, over_ssh.stderr
    assert node.ended(over_ssh.stdout.strip())["job_state"] == "COMPLETED"

    started = node.ended(timed)
    assert started["job_state"] == "COMPLETED"
    waited = started["start_time"] - asked
    print(f"\na job submitted with --begin=now+3 started after {waited} s")
    assert 3 <= waited <= 7


@pytest.mark.loginhost
def test_a_job_over_its_memory_ends_out_of_memory(
    login_host: tuple[Site, dict[str, bytes]],
) -> None:
    node = Node(login_host[0])
    fill = "python3 -c 'block = b\"x\" * (256 * 2**20); print(len(block))'"
    job = node.submit("--mem=64M", "--wrap", fill)
    # Within its memory the same kind of job completes.
    small = node.submit("--mem=64M", "--wrap", fill.replace("256", "16"))
    assert node.ended(job)["job_state"] == "OUT_OF_MEMORY"
    assert node.ended(small)["job_state"] == "COMPLETED"


@pytest.mark.loginhost
def test_stopping_the_host_leaves_no_job_daemon_or_cgroup(
    login_host: tuple[Site, dict[str, bytes]],
) -> None:
    site, before = login_host
    node = Node(site)
    running = node.submit("--wrap", "sleep 300")
    wait_until(lambda: node.jobs()[running]["job_state"] == "RUNNING", timeout=20)
    assert node_cgroups(node.name), "a running job has cgroups of its node"
    started = time.monotonic()
    close_site(site)
    print(f"\nthe login host with a running job stopped in {time.monotonic() - started:.2f} s")
    assert node_cgroups(node.name) == []
    assert daemons_under(site.host) == []
    assert machine_etc() == before


def test_a_standalone_node_keeps_munge_and_its_cgroups_to_itself() -> None:
    folder = Path(tempfile.mkdtemp(prefix="ats-devslurm-"))
    folder.chmod(0o711)  # slurm and munge reach the node's folders through it
    before = machine_etc()
    # What a run killed outright leaves: the cgroups of a node whose slurmd is gone.
    stale = new_node_name()
    (CGROUPS / "freezer" / f"slurm_{stale}" / "uid_0").mkdir(parents=True)
    slurm = DevSlurm(folder / "node", new_node_name())
    try:
        started = time.monotonic()
        state = slurm.start()
        print(f"\na standalone node was idle after {time.monotonic() - started:.2f} s")
        assert slurm.running() == state
        assert node_cgroups(stale) == []
        # Its own munged, on a socket in its folder: a credential made there decodes there.
        socket = f"--socket={state.munge_socket}"
        assert state.munge_socket.startswith(str(folder))
        made = subprocess.run(["munge", socket, "-n"], capture_output=True, check=True)
        decoded = subprocess.run(
            ["unmunge", socket], input=made.stdout, capture_output=True, check=False
        )
        assert decoded.returncode == 0 and b"STATUS:          Success" in decoded.stdout
        env = {**os.environ, **slurm.env()}
        job = subprocess.run(
            ["sbatch", "--parsable", f"--chdir={folder}", "--wrap", "sleep 300"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert job.returncode == 0, job.stderr

        def running() -> bool:
            shown = subprocess.run(
                ["squeue", "-h", "-j", job.stdout.strip(), "-o", "%T"],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            return shown.stdout.strip() == "RUNNING"

        wait_until(running, timeout=20)
        assert node_cgroups(state.node)
    finally:
        started = time.monotonic()
        stopped = slurm.stop()
        print(f"a standalone node with a running job stopped in {time.monotonic() - started:.2f} s")
    assert stopped and slurm.running() is None
    assert node_cgroups(state.node) == [] and daemons_under(folder) == []
    assert machine_etc() == before
    shutil.rmtree(folder, ignore_errors=True)
