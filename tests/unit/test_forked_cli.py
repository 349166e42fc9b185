"""The tests' forked commands behave as `python -m ats.cli` started afresh would: exit
status, standard streams, environment and signal handlers of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import forked_cli


def test_a_command_gives_its_status_and_its_streams() -> None:
    done = forked_cli.run(["--help"])
    assert done.returncode == 0
    assert "usage: ats" in done.stdout
    wrong = forked_cli.run(["no-such-command"])
    assert wrong.returncode == 2
    assert "invalid choice" in wrong.stderr and wrong.stdout == ""


@pytest.mark.process
def test_it_answers_as_the_real_process_does(tmp_path: Path) -> None:
    config = tmp_path / "missing.toml"
    args = ["--config", str(config), "bot", "run", "--once"]
    forked = forked_cli.run(args)
    real = subprocess.run(
        [sys.executable, "-m", "ats.cli", *args], capture_output=True, text=True, check=False
    )
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        real.returncode,
        real.stdout,
        real.stderr,
    )
    assert forked.returncode != 0 and forked.stderr.startswith("ats: ")


def test_its_environment_is_its_own(tmp_path: Path) -> None:
    before = dict(os.environ)
    done = forked_cli.run(["config", "keys"], env={"PATH": "/usr/bin:/bin", "ATS_X": "1"})
    assert done.returncode == 0, done.stderr
    assert dict(os.environ) == before


def test_a_command_run_on_writes_to_its_file(tmp_path: Path) -> None:
    child = forked_cli.start(["bridge", "serve", "--help"], output=tmp_path / "out")
    assert child.wait(60) == 0 and child.returncode == 0
    assert "usage:" in (tmp_path / "out").read_text()
