"""The tool databases' operations against the real MariaDB the tool databases' tests
share (`world`, tests/integration/test_databases.py): `ats databases backup` writes one
whole, private file per database and prunes old ones; `ats databases restore` brings a
dropped database back, rows and all, usable by the tool with its own replica.my.cnf,
and refuses to overwrite or to cross accounts; a backup killed mid-way leaves no part
of a dump under a backup's name; and the client drop-in `ats host render` writes makes
`mariadb` find the server."""

# ruff: noqa: S608 - the statements are made of the names the tests gave their accounts

from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from databases.credentials import parse as parse_credentials
from databases.dumpfiles import DumpFile, dump_file, is_staging, parse
from databases.naming import owner_of_database
from provisioning.databasefiles import DatabaseFiles, render
from tests import forked_cli
from tests.integration.mariadb import Server, as_account, client_as
from tests.integration.test_databases import World, world  # noqa: F401 - fixture


def backups(folder: Path) -> dict[Path, DumpFile]:
    return {path: found for path in folder.iterdir() if (found := parse(path.name))}


def whole(path: Path) -> bool:
    """A dump that gunzips to its end and ends as mariadb-dump ends one."""
    try:
        text = gzip.decompress(path.read_bytes())
    except (OSError, EOFError):
        return False
    return text.rstrip().rsplit(b"\n", 1)[-1].startswith(b"-- Dump completed")


def ours(server: Server) -> set[str]:
    """Every database of a tool or member on the (shared) server."""
    return {name for name in server.sql("SHOW DATABASES").splitlines() if owner_of_database(name)}


def test_a_database_backed_up_dropped_and_restored_has_its_rows_and_works(
    world: World,  # noqa: F811 - the fixture
) -> None:
    tool = world.tool("keeper")
    other = world.tool("neighbour")
    world.converge()
    db = f"{tool.user}__counts"
    made = client_as(
        tool.uid,
        tool.cnf,
        # The test server is MariaDB's defaults (latin1); production's drop-in says utf8mb4.
        f"SET NAMES utf8mb4; CREATE DATABASE {db} CHARACTER SET utf8mb4; USE {db}; "
        "CREATE TABLE hits (page VARCHAR(64) PRIMARY KEY, n INT, raw BLOB); "
        "INSERT INTO hits VALUES ('Main_Page', 7, 0x00FF0A), ('Ünïcödé_😀', 3, NULL); "
        "CREATE VIEW busy AS SELECT page FROM hits WHERE n > 5",
    )
    assert made.returncode == 0, made.stderr
    folder = world.folder / "backups"

    done = world.ats("databases", "backup", str(folder))
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = [path for path, found in backups(folder).items() if found.database == db]
    assert path.name.startswith(f"keeper.{db}.20") and path.name.endswith(".sql.gz")
    assert f"{db}: {path} (" in done.stdout
    status = path.stat()
    assert (stat.S_IMODE(status.st_mode), status.st_uid) == (0o600, 0)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700

    dropped = world.ats("databases", "drop", "keeper", "--by", "Admin One", "--yes", "--force")
    assert dropped.returncode == 0 and db not in world.server.sql("SHOW DATABASES")
    restored = world.ats("databases", "restore", str(path), "--by", "Admin One")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip() == f"restored {path} into {db} of {tool.user} (tool keeper)"
    read = "SET NAMES utf8mb4; SELECT page, n, HEX(raw) FROM hits ORDER BY n; SELECT * FROM busy"
    wanted = "Ünïcödé_😀\t3\tNULL\nMain_Page\t7\t00FF0A\nMain_Page\n"
    assert client_as(tool.uid, tool.cnf, f"USE {db}; {read}").stdout == wanted
    # Still the tool's: it writes and makes tables there, and its neighbour cannot look.
    writes = client_as(tool.uid, tool.cnf, f"USE {db}; INSERT INTO hits VALUES ('Later', 1, NULL)")
    assert writes.returncode == 0, writes.stderr
    peek = client_as(other.uid, other.cnf, f"SELECT * FROM {db}.hits")
    assert peek.returncode != 0 and "denied" in peek.stderr
    (entry,) = [e for e in world.store.audit_log() if e.action == "databases-restored"]
    assert entry.actor == "Admin One"
    assert entry.evidence == {
        "account": "keeper",
        "database": db,
        "file": str(path),
        "replaced": False,
        "user": tool.user,
    }

    # Over an existing database: refused, unless --force, which replaces it whole.
    again = world.ats("databases", "restore", str(path), "--by", "Admin One")
    assert again.returncode == 1 and len(again.stderr.splitlines()) == 1
    assert f"ats: {db} exists: give --force to replace it" in again.stderr
    forced = world.ats("databases", "restore", str(path), "--by", "Admin One", "--force")
    assert forced.returncode == 0, forced.stderr
    assert client_as(tool.uid, tool.cnf, f"USE {db}; {read}").stdout == wanted  # no 'Later'
    # Into another name of the same account; never another account's, nor one of nobody.
    copy = f"{tool.user}__copy"
    into = world.ats("databases", "restore", str(path), "--by", "Admin One", "--into", copy)
    assert into.returncode == 0, into.stderr
    assert client_as(tool.uid, tool.cnf, f"USE {copy}; {read}").stdout == wanted
    for target, said in (
        (f"{other.user}__counts", f"holds a database of {tool.user}, not of {other.user}"),
        ("mysql", "'mysql' is not a database of a tool or member"),
    ):
        refused = world.ats("databases", "restore", str(path), "--by", "A", "--into", target)
        assert refused.returncode == 1 and said in refused.stderr, refused.stderr
    assert f"{other.user}__counts" not in world.server.sql("SHOW DATABASES")


def test_a_damaged_backup_is_refused_and_a_failed_restore_leaves_no_half_database(
    world: World,  # noqa: F811 - the fixture
) -> None:
    tool = world.tool("careful")
    world.converge()
    db = f"{tool.user}__data"
    at = datetime.now(UTC)
    folder = world.folder / "by-hand"
    folder.mkdir()
    cut = folder / dump_file("careful", db, at).name
    cut.write_bytes(gzip.compress(b"CREATE TABLE t (n INT);\n")[:-8])
    refused = world.ats("databases", "restore", str(cut), "--by", "Admin One")
    assert refused.returncode == 1 and "is not a whole backup" in refused.stderr
    failing = folder / dump_file("careful", db, at - timedelta(days=1)).name
    failing.write_bytes(
        gzip.compress(
            b"CREATE TABLE t (n INT);\nINSERT INTO nosuch VALUES (1);\n-- Dump completed\n"
        )
    )
    failed = world.ats("databases", "restore", str(failing), "--by", "Admin One")
    assert failed.returncode == 1 and len(failed.stderr.splitlines()) == 1
    assert "doesn't exist" in failed.stderr and f"{db} was dropped again" in failed.stderr
    assert db not in world.server.sql("SHOW DATABASES")


def test_a_backup_writes_one_file_per_database_and_prunes_old_ones(
    world: World,  # noqa: F811 - the fixture
) -> None:
    tool, alice = world.tool("many"), world.member("alice")
    world.converge()
    names = [f"{tool.user}__{n}" for n in ("a", "b", "c.d")] + [f"{alice.user}__wiki data"]
    for name in names:
        owner = tool if name.startswith(tool.user) else alice
        assert client_as(owner.uid, owner.cnf, f"CREATE DATABASE `{name}`").returncode == 0
    folder = world.folder / "backups"
    folder.mkdir(mode=0o700)
    now = datetime.now(UTC)
    planted = {
        days: folder / dump_file("many", names[0], now - timedelta(days=days)).name
        for days in (10, 20)
    }
    gone = folder / dump_file("many", f"{tool.user}__gone", now - timedelta(days=20)).name
    for path in [*planted.values(), gone]:
        path.write_bytes(b"")
    stray = folder / "notes.txt"
    stray.write_text("the admins' own\n")
    leftover = folder / f".{planted[10].name}.partial"
    leftover.write_bytes(b"half")

    done = world.ats("databases", "backup", str(folder), "--keep", "2", "--days", "15")
    assert done.returncode == 0, done.stdout + done.stderr
    on_server = ours(world.server)
    found = backups(folder)
    counted = Counter(item.database for item in found.values())
    # One new file for every database on the server, and only the kept old one besides.
    assert set(counted) == on_server and set(names) <= on_server
    assert counted[names[0]] == 2 and all(counted[name] == 1 for name in on_server - {names[0]})
    assert planted[10].exists() and not planted[20].exists() and not gone.exists()
    assert f"pruned {planted[20]}" in done.stdout and f"pruned {gone}" in done.stdout
    assert stray.read_text() == "the admins' own\n" and not leftover.exists()
    for path in found:
        if path != planted[10]:
            assert whole(path), path
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert done.stdout.splitlines()[-1].startswith(f"{len(on_server)} of {len(on_server)} ")


def test_a_backup_over_tcp_as_an_administrator_of_its_own(
    world: World,  # noqa: F811 - the fixture
) -> None:
    tool = world.tool("remote")
    world.converge()
    db = f"{tool.user}__far"
    assert client_as(tool.uid, tool.cnf, f"CREATE DATABASE {db}").returncode == 0
    # As on a database server that is not the host holding the homes: admin_host and a
    # password from the environment, never on a command line.
    admin, password = f"atsadmin{tool.uid}", f"pw-{tool.uid}-not-logged"
    world.server.sql(
        f"CREATE USER '{admin}'@'127.0.0.1' IDENTIFIED BY '{password}'; "
        f"GRANT ALL PRIVILEGES ON *.* TO '{admin}'@'127.0.0.1' WITH GRANT OPTION"
    )
    config = world.folder / "remote.toml"
    config.write_text(
        world.config.read_text().replace(
            f'admin_socket = "{world.server.socket}"',
            f'admin_host = "127.0.0.1"\nadmin_port = {world.server.port}\nadmin_user = "{admin}"',
        )
    )
    folder = world.folder / "backups"
    done = forked_cli.run(
        ["--config", str(config), "databases", "backup", str(folder)],
        env={**os.environ, "ATS_DATABASES_PASSWORD": password},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert password not in done.stdout + done.stderr
    (path,) = [path for path, item in backups(folder).items() if item.database == db]
    assert whole(path)
    world.server.sql(f"DROP USER '{admin}'@'127.0.0.1'")


@pytest.mark.process
def test_a_backup_killed_mid_way_leaves_no_half_file_under_a_backups_name(
    world: World,  # noqa: F811 - the fixture
) -> None:
    tool = world.tool("bulky")
    world.converge()
    db = f"{tool.user}__big"
    made = client_as(
        tool.uid,
        tool.cnf,
        f"CREATE DATABASE {db}; USE {db}; "
        "CREATE TABLE t AS SELECT seq, SHA2(seq, 256) AS h FROM seq_1_to_150000",
    )
    assert made.returncode == 0, made.stderr
    folder = world.folder / "backups"
    command = [sys.executable, "-m", "ats.cli", "--config", str(world.config)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    log = (world.folder / "killed.log").open("w")
    process = subprocess.Popen(
        [*command, "databases", "backup", str(folder)], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        # Killed while the big dump is being written: its staging file has begun.
        while not any(
            is_staging(entry.name) and db in entry.name and entry.stat().st_size > 65536
            for entry in (folder.iterdir() if folder.is_dir() else ())
        ):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.002)
        process.kill()
    finally:
        process.wait()
        log.close()
    assert any(is_staging(entry.name) for entry in folder.iterdir())
    assert not [item for item in backups(folder).values() if item.database == db]
    assert all(whole(path) for path in backups(folder))

    again = world.ats("databases", "backup", str(folder))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "left by a backup that did not finish" in again.stdout
    assert not [entry for entry in folder.iterdir() if is_staging(entry.name)]
    (path,) = [path for path, item in backups(folder).items() if item.database == db]
    assert whole(path)


def test_the_rendered_client_settings_lead_mariadb_to_the_server(
    world: World,  # noqa: F811 - the fixture
) -> None:
    tool = world.tool("finder")
    world.converge()
    _, client = render(DatabaseFiles(host="127.0.0.1", port=world.server.port))
    dropin = world.root / "60-ats-client.cnf"  # where every uid may read it
    dropin.write_text(client.text)
    dropin.chmod(0o644)
    credentials = parse_credentials(tool.cnf.read_text())
    assert credentials is not None
    # Only a user and a password are given: the host and port come from the drop-in.
    found = as_account(
        tool.uid,
        "mariadb",
        f"--defaults-file={dropin}",
        f"--user={credentials.user}",
        f"--password={credentials.password}",
        "--batch",
        "--skip-column-names",
        "-e",
        "SELECT @@port, CURRENT_USER(), @@character_set_client",
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == [str(world.server.port), f"{tool.user}@%", "utf8mb4"]
