"""The demo's shell part, where it cannot run: without root, or without `unshare`, it
prints one line saying why, starts nothing and hands the demo nothing to stop, so the
rest of the demo goes on. (The tests run as root; the uid and the missing command are
what this process is told, nothing else is changed. The shell part itself, as root, is
tests/integration/test_demo_shell.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from ats import demo_shell


def _open(capsys: pytest.CaptureFixture[str]) -> tuple[list[object], list[str]]:
    started = demo_shell.open_shell(
        None,  # type: ignore[arg-type]  # never reached: nothing is started
        Path("/nonexistent"),
        "http://127.0.0.1:9",
        None,  # type: ignore[arg-type]
        Path("/nonexistent"),
    )
    return list(started), capsys.readouterr().out.splitlines()


def test_without_root_the_shell_part_is_skipped_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo_shell.os, "geteuid", lambda: 65534)
    started, printed = _open(capsys)
    assert started == []
    assert printed == [
        "shell:        skipped: it needs root (the login host runs in a mount namespace)"
    ]
    assert not Path("/nonexistent").exists()


def test_without_unshare_the_shell_part_is_skipped_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo_shell.os, "geteuid", lambda: 0)
    monkeypatch.setattr(demo_shell.shutil, "which", lambda name: None)
    started, printed = _open(capsys)
    assert started == []
    assert printed == ["shell:        skipped: unshare is missing (util-linux)"]
