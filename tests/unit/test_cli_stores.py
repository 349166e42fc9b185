"""Every command that opens the store closes it, when it succeeds and when it fails: after
`cli.main` returns, this process holds no file of the store open."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ats import cli


def open_store_files(store: Path) -> list[str]:
    """The files of the SQLite store at `store` (the database, its -wal and -shm) that
    this process has open, from /proc/self/fd."""
    names = {str(store), f"{store}-wal", f"{store}-shm"}
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the descriptor listdir itself used, closed since
            continue
        if target in names:
            found.append(target)
    return found


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "ats.toml"
    path.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/api.php"\n'
        'request_page = "Toolserver/Requests"\n[bot]\nusername = "Clerk@c"\n'
        '[store]\npath = "ats.sqlite"\n[provisioning]\nbackend = "dry-run"\n'
    )
    return path


@pytest.mark.parametrize(
    ("command", "status"),
    [
        (["report"], 0),
        (["report", "--csv", "/nonexistent-folder/report.csv"], 2),
        (["purge", "--dry-run"], 0),
        (["purge"], 0),
        (["payments", "import", "export.csv", "--by", "Admin"], 0),
        (["payments", "import", "missing.csv", "--by", "Admin"], 2),
        (["provision", "run", "--once"], 0),
        (["provision", "account", "Example User", "--key", "key.pub"], 0),
    ],
)
def test_a_command_closes_the_store(
    config: Path,
    command: list[str],
    status: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = config.parent
    (root / "export.csv").write_text("date,reference,payer_wiki_username,amount,currency,method\n")
    (root / "key.pub").write_text(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b\n"
    )
    monkeypatch.chdir(root)
    assert cli.main(["--config", str(config), *command]) == status, capsys.readouterr()
    assert (root / "ats.sqlite").exists()  # the command did open it
    assert open_store_files(root / "ats.sqlite") == []
