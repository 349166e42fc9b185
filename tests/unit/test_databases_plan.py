"""The tool databases' pure rules: names, the credentials file, who must have credentials
and whether they are active, and what a pass would do about each difference."""

from __future__ import annotations

import hashlib

import pytest

from databases.credentials import Credentials, parse, text
from databases.desired import Homes, Wanted, wanted
from databases.naming import (
    NamingError,
    database_prefix,
    grant_pattern,
    native_hash,
    new_password,
    owner_of_database,
    user_name,
)
from databases.plan import FileSeen, ServerUser, Settings, lines, plan
from membership.records import AccountRecord

SETTINGS = Settings("db.example", 3306, max_connections=20)
OWN = "s51234\\_\\_%"
PASSWORD = "Correct4Horse5Battery6Staple7Abc8"
GOOD = Credentials("s51234", PASSWORD, "db.example", 3306)


def account(active: bool = True, kind: str = "tool") -> Wanted:
    user = "s51234" if kind == "tool" else "u51234"
    why = "" if active else "the tool is disabled by the chapter's admins"
    return Wanted(user, kind, "mytool", 51234, "/data/project/mytool", active, why)


def server_user(**changes: object) -> ServerUser:
    facts: dict[str, object] = {
        "user": "s51234",
        "hashes": (native_hash(PASSWORD),),
        "databases": {OWN: (True, False)},
        "max_connections": 20,
    }
    facts.update(changes)
    return ServerUser(**facts)  # type: ignore[arg-type]


def actions(steps: list) -> list[str]:
    return [step.action for step in steps]


# -- names ----------------------------------------------------------------------------


def test_names_have_toolsdbs_shape() -> None:
    assert user_name("tool", 51234) == "s51234"
    assert user_name("person", 10001) == "u10001"
    assert database_prefix("s51234") == "s51234__"
    assert grant_pattern("s51234") == OWN
    assert owner_of_database("s51234__wikidata") == "s51234"
    assert owner_of_database("s51234__") is None
    assert owner_of_database("s51234_x") is None
    assert owner_of_database("mysql") is None
    with pytest.raises(NamingError):
        grant_pattern("s1'; DROP USER root; --")
    with pytest.raises(NamingError):
        user_name("group", 5)


def test_the_hash_is_mariadbs_native_one_and_passwords_are_random() -> None:
    # PASSWORD('pw1') as the server computes it.
    assert native_hash("pw1") == "*2B602296A79E0A8784ACC5C88D92E46588CCA3C3"
    inner = hashlib.sha1(b"x").digest()  # noqa: S324
    assert native_hash("x") == "*" + hashlib.sha1(inner).hexdigest().upper()  # noqa: S324
    made = {new_password() for _ in range(50)}
    assert len(made) == 50
    assert all(len(p) == 32 and p.isalnum() for p in made)


# -- the file -------------------------------------------------------------------------


def test_the_file_reads_back_what_it_writes_and_tolerates_a_persons_edits() -> None:
    assert parse(text(GOOD)) == GOOD
    edited = (
        "# mine\n[mysql]\nuser = other\n[client]\n  user='s51234'\npassword = \"pw\"\n"
        "host=db.example\nport = 3306\n"
    )
    assert parse(edited) == Credentials("s51234", "pw", "db.example", 3306)
    assert parse("[client]\nuser = s1\npassword = x\nhost = h\n") is None
    assert parse("[client]\nuser = s1\npassword = x\nhost = h\nport = many\n") is None
    assert parse("\x00\xff garbage") is None
    assert PASSWORD not in repr(GOOD)


# -- who must have credentials ----------------------------------------------------------


def test_every_account_with_a_uid_gets_a_user_active_unless_suspended_or_inactive() -> None:
    records = [
        AccountRecord("alice", "person", "Alice", 10001, "2026-01-01"),
        AccountRecord("dave", "person", "Dave", 10004, "2026-01-01", suspended_at="2026-02-01"),
        AccountRecord("nouid", "person", "Nouid", None, "2026-01-01"),
        AccountRecord("mytool", "tool", "mytool", 10002, "2026-01-01"),
        AccountRecord("oldtool", "tool", "oldtool", 10003, "2026-01-01"),
    ]
    inactive = {"oldtool": "none of the tool's maintainers is a member in good standing"}
    found = wanted(records, inactive, Homes(root="/srv/root"))
    assert [(w.user, w.name, w.home, w.active) for w in found] == [
        ("s10002", "mytool", "/srv/root/data/project/mytool", True),
        ("s10003", "oldtool", "/srv/root/data/project/oldtool", False),
        ("u10001", "alice", "/srv/root/home/alice", True),
        ("u10004", "dave", "/srv/root/home/dave", False),
    ]
    assert found[1].why == inactive["oldtool"]
    assert found[3].why == "the member is suspended"
    assert Homes().of("tool", "x") == "/data/project/x"


# -- what a pass does -------------------------------------------------------------------


def test_an_account_as_it_should_be_needs_nothing() -> None:
    assert plan(account(), server_user(), FileSeen("ok", GOOD), SETTINGS) == ([], [])


def test_a_missing_user_is_created_and_its_missing_file_written() -> None:
    steps, notes = plan(account(), None, FileSeen("missing"), SETTINGS)
    assert actions(steps) == ["create", "new_password"]
    assert notes == []
    assert lines(steps) == [
        "s51234 (tool mytool): no database user",
        "s51234 (tool mytool): /data/project/mytool/replica.my.cnf is missing",
    ]


def test_a_home_not_made_yet_waits_and_is_no_drift() -> None:
    steps, notes = plan(account(), None, FileSeen("no-home"), SETTINGS)
    assert actions(steps) == ["create"]
    assert [note.line for note in notes] == [
        "s51234 (tool mytool): no home yet at /data/project/mytool; its file waits for it"
    ]


def test_a_working_password_is_kept_and_the_file_only_rewritten_with_it() -> None:
    moved = Credentials("s51234", PASSWORD, "old-db.example", 3307)
    steps, _ = plan(account(), server_user(), FileSeen("ok", moved, mode=0o600), SETTINGS)
    assert actions(steps) == ["rewrite_file"]
    assert steps[0].password == PASSWORD
    assert (
        "host 'old-db.example', not 'db.example', port 3307, not 3306, mode 0600" in steps[0].line
    )
    assert PASSWORD not in repr(steps[0])


@pytest.mark.parametrize(
    ("seen", "said"),
    [
        (FileSeen("missing"), "is missing"),
        (FileSeen("link"), "is a symbolic link (not followed)"),
        (FileSeen("not-a-file"), "is not the account's own regular file"),
        (FileSeen("unreadable", detail="Permission denied"), "cannot be read (Permission denied)"),
        (FileSeen("ok", None), "holds no [client] user, password, host and port"),
        (
            FileSeen("ok", Credentials("s51234", "guessed", "db.example", 3306)),
            "holds a password the server does not accept",
        ),
        (
            FileSeen("ok", Credentials("s99999", PASSWORD, "db.example", 3306)),
            "names the user 's99999', not s51234",
        ),
        (FileSeen("ok", GOOD, mode=0o444), "was readable by others (mode 0444)"),
    ],
)
def test_a_file_that_does_not_work_gets_a_new_password(seen: FileSeen, said: str) -> None:
    steps, _ = plan(account(), server_user(), seen, SETTINGS)
    assert actions(steps) == ["new_password"]
    assert said in steps[0].line


def test_a_home_that_is_not_the_accounts_is_refused_not_written() -> None:
    seen = FileSeen("home-refused", detail="the home /data/project/mytool belongs to uid 0")
    steps, _ = plan(account(), server_user(), seen, SETTINGS)
    assert actions(steps) == ["refused"]
    assert "belongs to uid 0; its file is not written" in steps[0].line


def test_a_rotation_cut_short_keeps_the_files_password_only() -> None:
    other = native_hash("the-new-one-never-written")
    both = server_user(hashes=(native_hash(PASSWORD), other))
    steps, _ = plan(account(), both, FileSeen("ok", GOOD), SETTINGS)
    assert actions(steps) == ["single_password"]
    assert steps[0].password_hash == native_hash(PASSWORD)
    # Cut short after the file was written: the new one is the file's and stays.
    newer = Credentials("s51234", "the-new-one-never-written", "db.example", 3306)
    steps, _ = plan(account(), both, FileSeen("ok", newer), SETTINGS)
    assert [s.password_hash for s in steps] == [other]


def test_locks_follow_the_account_and_a_locked_users_connections_end() -> None:
    steps, _ = plan(account(active=False), server_user(), FileSeen("ok", GOOD), SETTINGS)
    assert actions(steps) == ["lock"]
    assert steps[0].line == (
        "s51234 (tool mytool): not locked, but the tool is disabled by the chapter's admins"
    )
    steps, _ = plan(account(), server_user(locked=True), FileSeen("ok", GOOD), SETTINGS)
    assert actions(steps) == ["unlock"]
    held = server_user(locked=True, sessions=2)
    steps, _ = plan(account(active=False), held, FileSeen("ok", GOOD), SETTINGS)
    assert actions(steps) == ["end_sessions"]


def test_grants_beyond_its_own_are_taken_and_its_own_given_whole() -> None:
    drifted = server_user(
        global_access=256,
        databases={OWN: (False, True), "other": (True, False)},
        roles=("helpers",),
    )
    steps, _ = plan(account(), drifted, FileSeen("ok", GOOD), SETTINGS)
    assert actions(steps) == [
        "revoke_global",
        "revoke_db",
        "revoke_role",
        "grant",
        "revoke_grant_option",
    ]
    assert steps[1].target == "other"
    assert lines(steps) == [
        "s51234 (tool mytool): holds privileges on every database",
        "s51234 (tool mytool): holds privileges on `other`, not its own",
        "s51234 (tool mytool): holds the role helpers",
        "s51234 (tool mytool): lacks some privileges on `s51234\\_\\_%`",
        "s51234 (tool mytool): may grant others `s51234\\_\\_%`",
    ]


def test_table_grants_take_everything_and_its_own_grant_is_made_again_unsaid() -> None:
    steps, _ = plan(account(), server_user(other_grants=3), FileSeen("ok", GOOD), SETTINGS)
    assert actions(steps) == ["revoke_other", "grant"]
    assert steps[1].implied
    assert lines(steps) == ["s51234 (tool mytool): holds table, column or routine privileges"]
    missing = server_user(databases={})
    steps, _ = plan(account(), missing, FileSeen("ok", GOOD), SETTINGS)
    assert lines(steps) == ["s51234 (tool mytool): lacks its grant on `s51234\\_\\_%`"]


def test_the_connection_limit_follows_the_setting() -> None:
    steps, _ = plan(account(), server_user(max_connections=0), FileSeen("ok", GOOD), SETTINGS)
    assert lines(steps) == ["s51234 (tool mytool): may open unlimited connections, not 20"]
