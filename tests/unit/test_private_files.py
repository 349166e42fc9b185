"""The store holds waiver and suspension reasons: its file, SQLite's files beside it and
every backup are 0600 whatever the umask of the process that made them."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ats.cli import main
from membership.store import Store, StoreError


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask of a shell or cron job; under systemd the units set 0027."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def test_a_new_store_and_its_wal_and_shm_are_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "ats.sqlite"
    store = Store(path)
    try:
        store.audit("Admin", "waiver-granted", reason="hardship")  # something in the WAL
        assert beside(path, "-wal").stat().st_size > 0
        assert {name: mode(beside(path, name)) for name in ("", "-wal", "-shm")} == {
            "": 0o600,
            "-wal": 0o600,
            "-shm": 0o600,
        }
    finally:
        store.close()


def test_a_umask_that_takes_the_owners_bits_still_leaves_a_usable_store(tmp_path: Path) -> None:
    os.umask(0o277)
    path = tmp_path / "ats.sqlite"
    Store(path).close()
    assert mode(path) == 0o600
    Store(path).close()  # and it can be written again


def test_a_store_made_looser_before_is_made_private_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "ats.sqlite"
    Store(path).close()
    path.chmod(0o644)
    with contextlib.closing(sqlite3.connect(path)) as other:  # a process that has it open
        other.execute("INSERT INTO audit (at, actor, action) VALUES ('now', 'x', 'y')")
        other.commit()
        assert mode(beside(path, "-wal")) == mode(beside(path, "-shm")) == 0o644
        Store(path).close()
        assert [mode(beside(path, name)) for name in ("", "-wal", "-shm")] == [0o600] * 3


def test_a_read_only_store_is_not_made_writable(tmp_path: Path) -> None:
    path = tmp_path / "ats.sqlite"
    Store(path).close()
    path.chmod(0o444)
    with contextlib.suppress(StoreError):  # refused as read-only, unless run as root
        Store(path).close()
    assert mode(path) == 0o400


def test_a_backup_and_a_restored_store_are_private(tmp_path: Path) -> None:
    config = tmp_path / "ats.toml"
    config.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/api.php"\nrequest_page = "R"\n'
        '[bot]\nusername = "Bot@clerk"\n[store]\npath = "live/ats.sqlite"\n',
        encoding="utf-8",
    )
    Store(tmp_path / "live" / "ats.sqlite").close()
    copy = tmp_path / "backups" / "ats-2026-01-01.sqlite"
    copy.parent.mkdir()
    assert main(["--config", str(config), "backup", str(copy)]) == 0
    assert mode(copy) == 0o600
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name]  # nothing left beside

    (tmp_path / "live" / "ats.sqlite").unlink()
    assert main(["--config", str(config), "restore", str(copy)]) == 0
    assert mode(tmp_path / "live" / "ats.sqlite") == 0o600
