"""The tool databases against a real MariaDB (one per test process) with homes owned by
made-up uids: `ats databases reconcile [--fix]` makes every account's user and
`replica.my.cnf`, changes nothing the second time, reports and repairs drift planted by
hand, locks a suspended member's user and unlocks it on restore, keeps each account to
its own databases, survives two reconcilers at once and one cut short at any step, and
rotates a password without a moment where the file does not work; and measures each
account's databases into the store, telling a crossing of the size limit once."""

# ruff: noqa: S608 - the statements are made of the names the tests gave their accounts

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import pytest

from ats.commands.database_access import reconciler
from ats.config import load_config
from databases.credentials import parse
from databases.naming import native_hash
from databases.sizes import measure as measure_sizes
from databases.usage import megabytes
from membership.store import Store
from runtime.database_mail import notices
from tests import forked_cli
from tests.integration.mariadb import (
    Server,
    as_account,
    client_as,
    homes_root,
    make_home,
    next_uid,
)


@dataclass
class Account:
    kind: str
    name: str
    uid: int
    home: Path

    @property
    def user(self) -> str:
        return f"{'s' if self.kind == 'tool' else 'u'}{self.uid}"

    @property
    def cnf(self) -> Path:
        return self.home / "replica.my.cnf"


@dataclass
class World:
    folder: Path
    root: Path
    server: Server
    store: Store
    accounts: dict[str, Account] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.folder / "ats.toml"

    def member(self, name: str, *, home: bool = True, suspended: bool = False) -> Account:
        uid = next_uid()
        self.store.record_account(name, "person", name.capitalize(), uid)
        if suspended:
            self.store.set_account_suspended(name, "a test")
        path = self.root / "home" / name
        if home:
            make_home(self.root, f"/home/{name}", uid)
        self.accounts[name] = Account("person", name, uid, path)
        return self.accounts[name]

    def tool(self, name: str, *maintainers: str) -> Account:
        uid = next_uid()
        self.store.record_account(name, "tool", name, uid)
        if maintainers:
            self.store.set_tool_maintainers(name, maintainers, "Admin One")
        make_home(self.root, f"/data/project/{name}", uid, 0o2770)
        self.accounts[name] = Account("tool", name, uid, self.root / "data" / "project" / name)
        return self.accounts[name]

    def ats(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:  # noqa: A002
        return forked_cli.run(["--config", str(self.config), *args], input=input, timeout=120)

    @contextlib.contextmanager
    def reconciler(self) -> Iterator[Any]:
        with reconciler(load_config(self.config)) as work:
            yield work

    def converge(self) -> Any:
        with self.reconciler() as work:
            return work.converge()

    def connect(self, account: Account) -> pymysql.connections.Connection[Any]:
        """A connection with what the account's file says (read as root)."""
        credentials = parse(account.cnf.read_text())
        assert credentials is not None
        return pymysql.connect(
            host=credentials.host,
            port=credentials.port,
            user=credentials.user,
            password=credentials.password,
            connect_timeout=5,
        )

    def works(self, account: Account) -> bool:
        return client_as(account.uid, account.cnf, "SELECT 1").stdout.strip() == "1"


@pytest.fixture
def world(tmp_path: Path, mariadb: Server) -> Iterator[World]:
    root = homes_root()
    (tmp_path / "ats.toml").write_text(f"""[wiki]
api = "http://127.0.0.1:9/api.php"
request_page = "Toolserver/Requests"
[bot]
username = "ClerkBot@clerk"
[store]
path = "ats.sqlite"
[provisioning]
backend = "unix"
root = "{root}"
[databases]
admin_socket = "{mariadb.socket}"
client_host = "127.0.0.1"
client_port = {mariadb.port}
max_connections = 5
""")
    store = Store(tmp_path / "ats.sqlite")
    try:
        yield World(tmp_path, root, mariadb, store)
    finally:
        store.close()
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


def test_reconcile_makes_every_account_its_user_and_file_then_changes_nothing(
    world: World,
) -> None:
    alice = world.member("alice")
    dave = world.member("dave", suspended=True)
    world.member("erin", home=False)
    tool = world.tool("mytool", "Alice")
    old = world.tool("oldtool", "Dave")  # its one maintainer is suspended

    found = world.ats("databases", "reconcile")
    assert found.returncode == 1, found.stderr
    assert f"{tool.user} (tool mytool): no database user" in found.stdout
    assert f"{alice.user} (member alice): {alice.cnf} is missing" in found.stdout
    fixed = world.ats("databases", "reconcile", "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "no home yet at" in fixed.stdout and "erin" in fixed.stdout

    for account in (alice, dave, tool, old):
        status = account.cnf.lstat()
        assert stat.S_ISREG(status.st_mode)
        assert (status.st_uid, stat.S_IMODE(status.st_mode)) == (account.uid, 0o400)
        credentials = parse(account.cnf.read_text())
        assert credentials is not None
        assert (credentials.user, credentials.port) == (account.user, world.server.port)
        # Only the hash is on the server, and it is the file's password's.
        hashes = world.server.sql(
            f"SELECT JSON_VALUE(Priv, '$.authentication_string') FROM mysql.global_priv "
            f"WHERE User = '{account.user}' AND Host = '%'"
        ).split()
        assert hashes == [native_hash(credentials.password)]
    assert world.works(alice) and world.works(tool)
    refused = client_as(dave.uid, dave.cnf, "SELECT 1")
    assert refused.returncode != 0 and "locked" in refused.stderr
    assert not world.works(old)

    before = {name: a.cnf.read_bytes() for name, a in world.accounts.items() if a.cnf.exists()}
    again = world.ats("databases", "reconcile")
    assert again.returncode == 0, again.stdout
    assert "no drift" in again.stdout
    assert world.ats("databases", "reconcile", "--fix").returncode == 0
    after = {name: a.cnf.read_bytes() for name, a in world.accounts.items() if a.cnf.exists()}
    assert after == before
    # A server given on the command line (a dev login host's) instead of [databases].
    moved = world.ats("databases", "reconcile", "--client-port", "1")
    assert moved.returncode == 1
    assert f"{alice.cnf} has port {world.server.port}, not 1" in moved.stdout


def test_each_account_has_its_own_databases_and_nothing_else(world: World) -> None:
    tool, other = world.tool("mytool"), world.tool("othertool")
    alice = world.member("alice")
    world.converge()
    own = f"{tool.user}__data"
    made = client_as(
        tool.uid,
        tool.cnf,
        f"CREATE DATABASE {own}; USE {own}; CREATE TABLE t (n INT); INSERT INTO t VALUES (7)",
    )
    assert made.returncode == 0, made.stderr
    theirs = f"{other.user}__secret"
    assert client_as(other.uid, other.cnf, f"CREATE DATABASE {theirs}").returncode == 0

    # Another's database: not created, not read, not even listed.
    for statement in (
        f"CREATE DATABASE {other.user}__mine",
        f"SELECT * FROM {own}.t",
        "CREATE DATABASE scratch",
        f"CREATE DATABASE {tool.user}_x",  # one underscore: not its prefix
    ):
        denied = client_as(alice.uid, alice.cnf, statement)
        assert denied.returncode != 0 and "denied" in denied.stderr, statement
    assert client_as(tool.uid, tool.cnf, f"USE {theirs}").returncode != 0
    listed = client_as(tool.uid, tool.cnf, "SHOW DATABASES").stdout.split()
    assert own in listed and theirs not in listed
    # Another account's credentials file cannot be read.
    peek = as_account(alice.uid, "cat", str(tool.cnf))
    assert peek.returncode != 0 and "Permission denied" in peek.stderr
    assert client_as(tool.uid, tool.cnf, f"SELECT n FROM {own}.t").stdout.strip() == "7"


def test_drift_planted_by_hand_is_reported_and_fixed(world: World) -> None:
    accounts = {
        name: world.member(name)
        for name in ("grant", "gone", "wrongpw", "extra", "loose", "linked", "kept", "dropped")
    }
    world.converge()
    a = accounts
    kept_before = a["kept"].cnf.read_bytes()
    shadow = world.folder / "shadow"
    shadow.write_text("root:secret-hash\n")
    shadow.chmod(0o600)
    world.server.sql(
        f"REVOKE ALL PRIVILEGES ON `{a['grant'].user}\\_\\_%`.* FROM '{a['grant'].user}'@'%';"
        f"GRANT SELECT ON mysql.* TO '{a['extra'].user}'@'%';"
        f"DROP USER '{a['dropped'].user}'@'%';"
    )
    a["gone"].cnf.unlink()
    a["wrongpw"].cnf.chmod(0o600)
    a["wrongpw"].cnf.write_text(a["wrongpw"].cnf.read_text().replace("password = ", "password = x"))
    a["loose"].cnf.chmod(0o644)
    a["linked"].cnf.unlink()
    a["linked"].cnf.symlink_to(shadow)

    found = world.ats("databases", "reconcile")
    assert found.returncode == 1
    lines = found.stdout.splitlines()
    for expected in (
        f"{a['grant'].user} (member grant): lacks its grant on `{a['grant'].user}\\_\\_%`",
        f"{a['gone'].user} (member gone): {a['gone'].cnf} is missing",
        f"{a['wrongpw'].user} (member wrongpw): {a['wrongpw'].cnf} holds a password the "
        "server does not accept",
        f"{a['extra'].user} (member extra): holds privileges on `mysql`, not its own",
        f"{a['loose'].user} (member loose): {a['loose'].cnf} was readable by others (mode 0644)",
        f"{a['linked'].user} (member linked): {a['linked'].cnf} is a symbolic link (not followed)",
        f"{a['dropped'].user} (member dropped): no database user",
    ):
        assert expected in lines, found.stdout
    assert not any("kept" in line for line in lines)

    fixed = world.ats("databases", "reconcile", "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert world.ats("databases", "reconcile").returncode == 0
    for account in a.values():
        assert world.works(account), account.name
    assert a["kept"].cnf.read_bytes() == kept_before  # a working file is kept as it was
    assert (
        shadow.read_text() == "root:secret-hash\n" and stat.S_IMODE(shadow.stat().st_mode) == 0o600
    )
    assert not a["linked"].cnf.is_symlink()
    denied = client_as(a["extra"].uid, a["extra"].cnf, "SELECT User FROM mysql.user")
    assert denied.returncode != 0


def test_a_home_that_is_a_link_is_refused_and_nothing_written_through_it(world: World) -> None:
    elsewhere = world.folder / "elsewhere"
    elsewhere.mkdir()
    mallory = world.member("mallory", home=False)
    os.chown(elsewhere, mallory.uid, mallory.uid)
    mallory.home.symlink_to(elsewhere)
    found = world.ats("databases", "reconcile", "--fix")
    assert found.returncode == 1
    assert "is a symbolic link or not a folder; its file is not written" in found.stderr
    assert list(elsewhere.iterdir()) == []


def test_a_suspension_locks_the_user_and_ends_its_connections_and_a_restore_unlocks(
    world: World,
) -> None:
    carol = world.member("carol")
    tool = world.tool("carols-tool", "Carol")
    world.converge()
    held = world.connect(carol)
    tools_held = world.connect(tool)

    world.store.set_account_suspended("carol", "a test")
    done = world.converge()
    assert f"{carol.user} (member carol): not locked, but the member is suspended" in done.fixed
    assert any(
        "none of the tool's maintainers is a member in good standing" in line for line in done.fixed
    )
    for account in (carol, tool):
        refused = client_as(account.uid, account.cnf, "SELECT 1")
        assert "account is locked" in refused.stderr
    for connection in (held, tools_held):
        with pytest.raises(pymysql.err.OperationalError):
            connection.ping(reconnect=False)

    world.store.set_account_suspended("carol", None)
    world.converge()
    assert world.works(carol) and world.works(tool)


def test_two_reconcilers_at_once_leave_one_working_password_each(world: World) -> None:
    accounts = [world.member(f"m{index}") for index in range(30)]
    outputs = [world.folder / f"out{index}" for index in range(2)]
    children = [
        forked_cli.start(
            ["--config", str(world.config), "databases", "reconcile", "--fix"], output=out
        )
        for out in outputs
    ]
    for child in children:
        assert child.wait(120) == 0, [out.read_text() for out in outputs]
    assert world.ats("databases", "reconcile").returncode == 0
    users = ", ".join(f"'{a.user}'" for a in accounts)
    counts = world.server.sql(
        "SELECT JSON_LENGTH(COALESCE(JSON_EXTRACT(Priv, '$.auth_or'), '[]')) "
        f"FROM mysql.global_priv WHERE Host = '%' AND User IN ({users})"
    ).split()
    assert len(counts) == len(accounts) and set(counts) <= {"0", "1"}  # one password each
    assert all(world.works(account) for account in accounts)


class Killed(BaseException):
    """A process ending between two steps (nothing catches it, as nothing catches a kill)."""


def cut_after(work: Any, changes: int) -> None:
    """Make `work` die (Killed) after `changes` statements to the server or files written:
    every point between two things a pass changes."""
    count = {"n": 0}

    def counted(real: Any) -> Any:
        def change(*args: Any) -> Any:
            if count["n"] >= changes:
                raise Killed
            count["n"] += 1
            return real(*args)

        return change

    work.server._run = counted(work.server._run)
    work.write_file = counted(work.write_file)


def test_a_pass_cut_short_between_any_two_changes_is_finished_by_the_next(world: World) -> None:
    accounts = [world.member(f"k{index}") for index in range(3)] + [world.tool("ktool")]
    world.converge()
    killed = 0
    for changes in range(100):
        # The same drift each round: a user dropped, one locked by hand, two files lost.
        first, second, third, fourth = accounts
        world.server.sql(
            f"DROP USER '{first.user}'@'%'; ALTER USER '{second.user}'@'%' ACCOUNT LOCK"
        )
        third.cnf.unlink()
        fourth.cnf.unlink()
        with world.reconciler() as work:
            cut_after(work, changes)
            try:
                work.converge()
            except Killed:
                killed += 1
            else:
                break
        with world.reconciler() as work:
            done = work.converge()
            assert done.failed == []
            assert work.drift() == ([], [])
        assert all(world.works(account) for account in accounts), changes
    assert killed >= 6  # create, grant, unlock, a password and a file each, …


def test_a_rotation_cut_short_leaves_a_working_file_and_the_next_pass_one_password(
    world: World,
) -> None:
    bob = world.member("bob")
    world.converge()
    for changes in (1, 2):  # after both passwords are accepted; after the file is written
        before = bob.cnf.read_bytes()
        with world.reconciler() as work:
            cut_after(work, changes)
            with pytest.raises(Killed):
                work.rotate(work.account("bob"), grace=0)
        assert world.works(bob)  # the file works whether it was written or not
        assert (bob.cnf.read_bytes() == before) == (changes == 1)
        with world.reconciler() as work:
            done = work.converge()
        assert done.fixed == [
            f"{bob.user} (member bob): the server accepts another password beside the file's"
        ]
        assert world.works(bob)


def test_rotate_keeps_a_working_file_at_every_moment(world: World) -> None:
    tool = world.tool("rotating")
    world.converge()
    old = parse(tool.cnf.read_text())
    failures: list[str] = []
    tries = {"n": 0}
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                world.connect(tool).close()
            except pymysql.err.MySQLError as error:
                failures.append(str(error))
            tries["n"] += 1

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        time.sleep(0.2)
        rotated = world.ats("databases", "rotate", "rotating", "--by", "Admin One", "--grace", "1")
        time.sleep(0.3)
    finally:
        stop.set()
        poller.join()
    assert rotated.returncode == 0, rotated.stderr
    assert "file written before the old one stopped" in rotated.stdout
    assert failures == [] and tries["n"] >= 5  # polled throughout (fewer on a loaded machine)
    new = parse(tool.cnf.read_text())
    assert old and new and new.password != old.password
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(
            host="127.0.0.1", port=world.server.port, user=old.user, password=old.password
        )
    entries = [e for e in world.store.audit_log() if e.action == "database-password-rotated"]
    assert [(e.actor, e.evidence["user"]) for e in entries] == [("Admin One", tool.user)]
    assert old.password not in str(entries[0].evidence)


def test_drop_asks_refuses_an_active_account_and_is_audited(world: World) -> None:
    tool = world.tool("leaving")
    world.converge()
    for name in ("a", "b"):
        assert client_as(tool.uid, tool.cnf, f"CREATE DATABASE {tool.user}__{name}").returncode == 0

    active = world.ats("databases", "drop", "leaving", "--by", "Admin One", "--yes")
    assert active.returncode == 1
    assert "is active: disable the tool or suspend the member first" in active.stderr
    world.store.set_account_suspended("leaving", "gone")
    wrong = world.ats("databases", "drop", "leaving", "--by", "Admin One", input="leavin\n")
    assert wrong.returncode == 1 and "not confirmed" in wrong.stderr
    assert f"{tool.user}__a" in world.server.sql("SHOW DATABASES")
    dropped = world.ats("databases", "drop", "leaving", "--by", "Admin One", input="leaving\n")
    assert dropped.returncode == 0, dropped.stderr
    assert "dropped 2 database(s)" in dropped.stdout
    assert tool.user not in world.server.sql("SHOW DATABASES")
    entries = [e for e in world.store.audit_log() if e.action == "databases-dropped"]
    assert entries[0].evidence["databases"] == [f"{tool.user}__a", f"{tool.user}__b"]


def test_sizes_lists_each_accounts_databases(world: World) -> None:
    tool = world.tool("sized")
    world.converge()
    client_as(
        tool.uid,
        tool.cnf,
        f"CREATE DATABASE {tool.user}__big; CREATE TABLE {tool.user}__big.t (s TEXT)",
    )
    shown = world.ats("databases", "sizes")
    assert shown.returncode == 0, shown.stderr
    assert f"{tool.user} (tool sized): " in shown.stdout
    assert f"  {tool.user}__big: " in shown.stdout


def test_a_database_grown_over_the_limit_is_told_once_and_its_sizes_are_in_the_store(
    world: World,
) -> None:
    world.member("alice")
    tool = world.tool("growing", "Alice")
    mail = '[mail]\nrelay = "127.0.0.1"\nsender = "tools@ts.example"\n'
    mail += 'recipient_domain = "ts.example"\n'
    world.config.write_text(world.config.read_text() + "size_limit_mb = 1\n" + mail)
    config = load_config(world.config)
    world.converge()
    big = f"{tool.user}__big"
    made = client_as(
        tool.uid,
        tool.cnf,
        f"CREATE DATABASE {big}; CREATE TABLE {big}.t (s TEXT); CREATE TABLE {big}.u (i INT); "
        f"INSERT INTO {big}.t SELECT REPEAT('x', 1000) FROM {big}.seq_1_to_2000; "
        # The server's estimate of a table's size is updated by its statistics: at once here.
        f"ANALYZE TABLE {big}.t",
    )
    assert made.returncode == 0, made.stderr

    def measure() -> Any:
        with world.reconciler() as work:
            return measure_sizes(work.store, work.server, work.accounts(), 1, notices(config.mail))

    told = [measure().lines for _ in range(3)]  # the service's passes, minutes apart
    usage = world.store.database_usage_of("tool", "growing")
    assert usage is not None and usage.over and usage.crossings == 1
    assert told == [
        [
            f"{tool.user} (tool growing): its databases hold {megabytes(usage.total)}, "
            "over the limit of 1.0 MB: its holders and the admins are told"
        ],
        [],
        [],
    ]
    assert [name for name, _ in usage.databases] == [big]
    assert usage.total > 1024 * 1024 and usage.databases[0][1] == usage.total
    [queued] = world.store.tool_job_mails("growing")
    assert (queued.recipients, queued.subject) == (
        ("alice@ts.example",),
        "[growing] Databases over the size limit",
    )
    over = [e for e in world.store.audit_log() if e.action == "database-over-limit"]
    assert [e.evidence["user"] for e in over] == [tool.user]
    alice = world.store.database_usage_of("person", "alice")
    assert alice is not None and (alice.total, alice.databases, alice.over) == (0, (), False)


@pytest.mark.process
def test_a_reconciler_killed_mid_way_leaves_what_the_next_pass_finishes(world: World) -> None:
    accounts = [world.member(f"p{index}") for index in range(150)]
    command = [sys.executable, "-m", "ats.cli", "--config", str(world.config)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    log = (world.folder / "killed.log").open("w")
    process = subprocess.Popen(
        [*command, "databases", "reconcile", "--fix"], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        # Killed once it has begun writing files and before it has written them all.
        while sum(a.cnf.exists() for a in accounts) < 3:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        process.kill()
    finally:
        process.wait()
        log.close()
    written = sum(a.cnf.exists() for a in accounts)
    assert 3 <= written < len(accounts)

    fixed = world.ats("databases", "reconcile", "--fix")  # the lease's holder is dead: at once
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert world.ats("databases", "reconcile").returncode == 0
    assert all(world.works(account) for account in accounts[::10])


def test_two_services_keep_accounts_in_step_and_lock_a_suspension_within_seconds(
    world: World,
) -> None:
    alice = world.member("alice")
    world.config.write_text(world.config.read_text() + "sizes_interval = 1\n")
    args = ["--config", str(world.config), "databases", "serve", "--interval", "1"]
    outputs = [world.folder / f"serve{index}.log" for index in range(2)]
    services = [forked_cli.start(args, output=out) for out in outputs]
    try:
        wait_for(lambda: world.works(alice), "alice's file")
        started = time.monotonic()
        bob = world.member("bob")
        wait_for(lambda: world.works(bob), "a new member's file")
        new_to_working = time.monotonic() - started
        world.store.set_account_suspended("alice", "a test")
        started = time.monotonic()
        wait_for(lambda: "locked" in client_as(alice.uid, alice.cnf, "SELECT 1").stderr, "lock")
        suspended_to_locked = time.monotonic() - started
    finally:
        for service in services:
            service.terminate()
        codes = [service.wait(30) for service in services]
    said = [out.read_text() for out in outputs]
    assert codes == [0, 0], said
    assert all("stopped on SIGTERM" in text and "Traceback" not in text for text in said)
    assert new_to_working < 5 and suspended_to_locked < 5, (new_to_working, suspended_to_locked)
    # Each difference was repaired once, by one of the two.
    fixed = [line for text in said for line in text.splitlines() if "fixed:" in line]
    assert sum("no database user" in line and bob.user in line for line in fixed) == 1
    assert sum("not locked" in line for line in fixed) == 1
    # And the sizes were measured into the store after a pass.
    measured = world.store.database_usage_of("person", "alice")
    assert measured is not None and measured.user == alice.user


def wait_for(condition: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.05)
