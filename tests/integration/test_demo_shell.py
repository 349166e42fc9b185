"""`ats demo` ends in a shell: run as root, it prints the command that logs in as the
approved sample member with the key it generated and `become`s their tool; that
command works (run here with `id`), the tool's continuous job runs and `toolforge jobs`
shows it and its output, the printed `curl` fetches the tool's page through the front
door, and SIGTERM (as Ctrl-C) stops the login host and
the directory with everything else."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ats.demo_shell import JOB, TOOL, shell_folder
from tests.waiting import wait_until

pytestmark = pytest.mark.loginhost

NO_PROMPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"]
NO_PROMPTS += ["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]


def _ssh(printed: list[str], *command: str) -> subprocess.CompletedProcess[str]:
    """The printed `ssh … -t become TOOL` with `command` in place of `-t become TOOL`
    (no terminal here), and no host-key prompt."""
    login = printed[: printed.index("-t")]
    return subprocess.run(
        [login[0], *NO_PROMPTS, *login[1:], *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.process
def test_the_demo_prints_a_command_that_logs_in_and_becomes_the_tool(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "ats.cli", "demo", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout or []), daemon=True)
    reader.start()
    folder = shell_folder(tmp_path)
    try:
        wait_until(
            lambda: any(line.startswith("shell:") for line in lines) or demo.poll() is not None,
            600,
            interval=0.5,
            what=lambda: "the shell line; the demo said:\n" + "".join(lines),
        )
        [shell] = [line for line in lines if line.startswith("shell:")]
        printed = shlex.split(shell.split(":", 1)[1])
        assert printed[0] == "ssh" and printed[-3:] == ["-t", "become", TOOL], shell
        key = Path(printed[printed.index("-i") + 1])
        assert key.is_file() and key.parent == tmp_path / "shell"

        member = _ssh(printed, "id")
        assert member.returncode == 0, member.stderr
        assert member.stdout.startswith("uid=") and "(toolsmith)" in member.stdout
        assert f"(tools.{TOOL})" in member.stdout  # the tool's group
        became = _ssh(printed, "become", TOOL, "id")
        assert became.returncode == 0, became.stderr
        assert became.stdout.startswith("uid=") and f"(tools.{TOOL})" in became.stdout
        assert "(toolsmith)" not in became.stdout.split()[0]

        # The tool runs its continuous job on the login host's Slurm node.
        assert any(line.startswith("jobs:") and JOB in line for line in lines), lines
        listed = _ssh(printed, "become", TOOL, "toolforge", "jobs", "list")
        row = next(line for line in listed.stdout.splitlines() if f" {JOB} " in line)
        assert [cell.strip() for cell in row.split("|")[1:-1]][:2] == [JOB, "continuous"]
        # And serves its page behind the front door: the printed curl fetches it.
        [fetch] = [line for line in lines if line.strip().startswith("curl --cacert")]
        page = wait_until(
            lambda: (
                (
                    done := subprocess.run(shlex.split(fetch), capture_output=True, text=True)
                ).returncode
                == 0
                and "citation-bot runs on American Toolserver" in done.stdout
                and done
            ),
            30,
            what=lambda: (
                "the tool's page through the front door: "
                + subprocess.run(shlex.split(fetch), capture_output=True, text=True).stdout[-600:]
            ),
        )
        assert page.stdout.startswith("<!doctype html>")
        # It counts its visits in its own database, with the credentials in its home.
        seen = re.search(
            r"Seen (\d+) times, counted in its database (s\d+__citations)", page.stdout
        )
        assert seen, page.stdout
        again = subprocess.run(shlex.split(fetch), capture_output=True, text=True, check=True)
        assert f"Seen {int(seen[1]) + 1} times" in again.stdout
        wait_until(
            lambda: (
                "checking citations"
                in _ssh(printed, "become", TOOL, "toolforge", "jobs", "logs", JOB).stdout
            ),
            30,
            what="the job's output",
        )
    finally:
        demo.send_signal(signal.SIGTERM)
        # A second press half-way through the stop (Ctrl-C twice) stops nothing less.
        wait_until(lambda: "stopping" in "".join(lines) or demo.poll() is not None, 30)
        demo.send_signal(signal.SIGTERM)
        demo.wait(120)
        reader.join(10)
    assert demo.returncode == 0, "".join(lines)
    # Stopped with the demo: the login host (its state file goes), the directory, and
    # every process started for it (the wiki, the bridge, the host's services).
    assert not (folder / "host" / "devhost.json").exists()
    assert not _alive_pid(folder / "directory" / "slapd.pid")
    assert _processes_naming(tmp_path, folder) == []
    shutil.rmtree(folder, ignore_errors=True)


def _processes_naming(*folders: Path) -> list[str]:
    """The command lines of running processes that name one of `folders`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and any(str(folder) in command for folder in folders):
            found.append(command)
    return found


def _alive_pid(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError):
        return False
    return True
