"""The batch script of a run (`runtime.slurm.Submission.script`), run by bash as Slurm
runs it, outside Slurm: Slurm signals only the script when it cancels a run (and kills
what is left after KillWait), so the script hands the TERM to its command and waits
until the command has ended in its own time; a command that ends by itself gives the
run its exit status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from runtime.slurm import Mark, Submission
from tests.waiting import wait_until

BOT = (
    "import signal, sys, time\n"
    "log = open(sys.argv[1], 'a', buffering=1)\n"
    "def stop(number, frame):\n"
    "    log.write('asked to stop\\n'); time.sleep(1); log.write('stopped\\n'); sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, stop)\n"
    "log.write('running\\n')\n"
    "while True: time.sleep(0.1)\n"
)


def _script(tmp_path: Path, command: str) -> Path:
    job = Submission(
        "tools.bot", "feed", Mark("bot", "feed", 1, 1), command, str(tmp_path), "", None, 64, 1, ""
    )
    path = tmp_path / "script"
    path.write_text(job.script())
    return path


def test_a_cancelled_run_hands_the_signal_on_and_waits_for_its_command(tmp_path: Path) -> None:
    log = tmp_path / "log"
    bot = tmp_path / "bot.py"
    bot.write_text(BOT)
    # Two commands: the second must not run once the run is stopped.
    script = _script(tmp_path, f"{sys.executable} {bot} {log}; echo after >> {log}")
    run = subprocess.Popen(["/bin/bash", str(script)])
    wait_until(lambda: log.exists() and "running" in log.read_text(), 10, what="the command")
    stopped = time.monotonic()
    run.send_signal(signal.SIGTERM)  # what Slurm does when it cancels the run
    assert run.wait(10) == 143
    assert time.monotonic() - stopped >= 0.9  # it waited for the command to finish
    assert log.read_text() == "running\nasked to stop\nstopped\n"


def test_a_run_that_ends_by_itself_has_its_commands_status(tmp_path: Path) -> None:
    script = _script(tmp_path, "echo out; exit 3")
    done = subprocess.run(["/bin/bash", str(script)], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (3, "out\n")


def test_a_command_killed_by_a_signal_ends_its_run_with_that_signal(tmp_path: Path) -> None:
    # So that Slurm reports "signal 9", not "exit code 137".
    run = subprocess.Popen(["/bin/bash", str(_script(tmp_path, "exec sleep 1001"))])
    sleeping = wait_until(lambda: _children(run.pid), 10, what="the command")
    os.kill(sleeping[0], signal.SIGKILL)
    assert run.wait(10) == -signal.SIGKILL


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]
