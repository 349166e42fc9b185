"""`ats backup` and `ats restore` on a real SQLite store: a copy taken while another
thread writes is consistent, and each refusal is one line."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ats.cli import main
from membership.backup import in_use
from membership.store import MIGRATIONS, Store


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "ats.toml"
    path.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/api.php"\nrequest_page = "R"\n'
        '[bot]\nusername = "Bot@clerk"\n[store]\npath = "live/ats.sqlite"\n',
        encoding="utf-8",
    )
    Store(tmp_path / "live" / "ats.sqlite").close()
    return path


def ats(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def audit_count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM audit").fetchone()[0]


def test_a_backup_taken_while_writing_restores_consistent(config: Path, tmp_path: Path) -> None:
    live = tmp_path / "live" / "ats.sqlite"
    stop = threading.Event()
    written = []

    def write() -> None:
        store = Store(live)
        while not stop.is_set():
            with store.transaction():  # a request's audit pair, always written together
                store.audit("Bridge", "pair-first", n=len(written))
                store.audit("Bridge", "pair-second", n=len(written))
            written.append(1)
        store.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(written) < 50:
            time.sleep(0.01)
        assert ats(config, "backup", str(tmp_path / "copy.sqlite")) == 0
        during = len(written)
    finally:
        stop.set()
        writer.join()
    assert len(written) > during  # the writer was not stopped by the copy

    restored = tmp_path / "restored" / "ats.toml"
    restored.parent.mkdir()
    restored.write_text(config.read_text().replace("live/", "again/"), encoding="utf-8")
    assert ats(restored, "restore", str(tmp_path / "copy.sqlite")) == 0
    path = tmp_path / "restored" / "again" / "ats.sqlite"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        pairs = db.execute("SELECT action, count(*) FROM audit GROUP BY action").fetchall()
        names = [row[0] for row in db.execute("SELECT name FROM _sqlite_migrations")]
    counts = dict(pairs)
    assert counts["pair-first"] == counts["pair-second"] >= 50  # no half transaction
    assert names == list(MIGRATIONS)
    assert audit_count(path) < audit_count(live)


def test_restore_refuses_an_existing_store_without_force(config, tmp_path, capsys) -> None:
    assert ats(config, "backup", str(tmp_path / "copy.sqlite")) == 0
    capsys.readouterr()
    assert ats(config, "restore", str(tmp_path / "copy.sqlite")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists: pass --force" in err
    assert ats(config, "restore", "--force", str(tmp_path / "copy.sqlite")) == 0


def test_restore_refuses_a_store_a_running_process_has_open(config, tmp_path, capsys) -> None:
    live = tmp_path / "live" / "ats.sqlite"
    assert ats(config, "backup", str(tmp_path / "copy.sqlite")) == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from membership.store import Store; s = Store(sys.argv[1]); "
            "print('open', flush=True); sys.stdin.read()",
            str(live),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        assert in_use(live)
        capsys.readouterr()
        assert ats(config, "restore", str(tmp_path / "copy.sqlite")) == 1
        err = capsys.readouterr().err
        assert "is open in a running process" in err and err.count("\n") == 1
    finally:
        holder.communicate("")
    assert not in_use(live)


def test_restore_refuses_what_is_not_a_store(config, tmp_path, capsys) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    for path, reason in (
        (text, "not a SQLite database"),
        (other, "holds no ats schema"),
        (tmp_path / "missing.sqlite", "there is no backup file"),
    ):
        capsys.readouterr()
        assert ats(config, "restore", "--force", str(path)) == 1
        err = capsys.readouterr().err
        assert reason in err and err.count("\n") == 1, err


def test_restore_refuses_a_backup_from_a_newer_version(config, tmp_path, capsys) -> None:
    copy = tmp_path / "copy.sqlite"
    assert ats(config, "backup", str(copy)) == 0
    with sqlite3.connect(copy) as db:
        db.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('ats', '9999_from_the_future', '2030-01-01')"
        )
    before = audit_count(tmp_path / "live" / "ats.sqlite")
    capsys.readouterr()
    assert ats(config, "restore", "--force", str(copy)) == 1
    err = capsys.readouterr().err
    assert "newer version of ats" in err and "9999_from_the_future" in err
    assert audit_count(tmp_path / "live" / "ats.sqlite") == before


def test_backup_refuses_the_store_itself_and_a_missing_store(config, tmp_path, capsys) -> None:
    assert ats(config, "backup", str(tmp_path / "live" / "ats.sqlite")) == 1
    assert "is the store itself" in capsys.readouterr().err
    (tmp_path / "live" / "ats.sqlite").unlink()
    assert ats(config, "backup", str(tmp_path / "copy.sqlite")) == 1
    assert "no store at" in capsys.readouterr().err


def test_a_backup_ends_under_a_steady_writer_in_another_process(config, tmp_path) -> None:
    live = tmp_path / "live" / "ats.sqlite"
    store = Store(live)
    with store.transaction():
        for n in range(2000):  # several MB: many pages to copy while the writer writes
            store.audit("Bot", "filler", n=n, text="x" * 4000)
    store.close()
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, select\nfrom membership.store import Store\n"
            "s = Store(sys.argv[1]); s.audit('Bridge', 'steady'); print('writing', flush=True)\n"
            "while not select.select([sys.stdin], [], [], 0)[0]:\n"
            "    s.audit('Bridge', 'steady')\n",
            str(live),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
        done = threading.Event()
        copier = threading.Thread(
            target=lambda: (ats(config, "backup", str(tmp_path / "copy.sqlite")), done.set())
        )
        started = time.monotonic()
        copier.start()
        finished = done.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        writer.communicate("stop\n")
        copier.join()
    assert finished, "the backup did not end while another process kept writing"
    assert took < 30
    with sqlite3.connect(tmp_path / "copy.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM audit WHERE action = 'steady'").fetchone()[0] > 0
