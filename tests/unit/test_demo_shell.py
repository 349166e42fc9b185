"""The demo's shell part, where it cannot run: as an unprivileged user (a real process
with another uid, through `setpriv`) it prints one line saying why, starts nothing and
hands the demo nothing to stop, so the rest of the demo goes on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = """
from pathlib import Path
from ats.demo_shell import open_shell
print(open_shell(None, Path("/nonexistent"), "http://127.0.0.1:9", None, Path("/nonexistent")))
"""


def test_without_root_the_shell_part_is_skipped_in_one_line(tmp_path: Path) -> None:
    assert os.geteuid() == 0, "the tests run as root (scripts/test)"
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is missing"
    result = subprocess.run(
        [setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups"]
        + [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "shell:        skipped: it needs root (the login host runs in a mount namespace)",
        "[]",
    ]
    assert result.stderr == ""
