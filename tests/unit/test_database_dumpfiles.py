"""The tool databases' backup files by name (`databases.dumpfiles`): a name says the
account, the database and the time, reads back exactly whatever the database is called,
never leaves its folder, and pruning keeps what it promises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from databases.dumpfiles import DumpFile, dump_file, is_staging, parse, staging_name, to_prune

AT = datetime(2025, 3, 1, 3, 15, 0, 123456, tzinfo=UTC)


def test_a_name_says_the_account_the_database_and_the_time() -> None:
    made = dump_file("mytool", "s51234__data", AT)
    assert made.name == "mytool.s51234__data.20250301T031500Z.sql.gz"
    assert parse(made.name) == made
    assert (made.database, made.owner, made.account) == ("s51234__data", "s51234", "mytool")


@pytest.mark.parametrize(
    "database",
    [
        "s51234__a.b",
        "s51234__../../etc/passwd",
        "u10001__wiki data",
        "u10001__ünïcödé",
        "s51234__%41",
        "s51234__-x~y",
        "s51234__" + "😀" * 10,
    ],
)
def test_any_database_name_reads_back_and_stays_in_the_folder(database: str) -> None:
    made = dump_file("mytool", database, AT)
    assert "/" not in made.name and not made.name.startswith(".")
    assert len(made.name.split(".")) == 5  # account . database . time . sql . gz
    found = parse(made.name)
    assert found is not None and found.database == database


def test_a_name_too_long_for_a_file_is_its_accounts_prefix_and_a_hash() -> None:
    long = "s51234__" + "😀" * 56
    made = dump_file("mytool", long, AT)
    assert len(made.name.encode()) <= 255
    found = parse(made.name)
    assert found is not None and found.owner == "s51234" and found.database == ""
    assert dump_file("mytool", long, AT + timedelta(days=1)).key == made.key


def test_an_account_name_of_another_shape_is_replaced_by_the_user() -> None:
    assert dump_file("Odd.Name", "s51234__x", AT).account == "s51234"


@pytest.mark.parametrize(
    "name",
    [
        "notes.txt",
        "mytool.mysql.20250301T031500Z.sql.gz",  # not a database of an account
        "mytool.s51234__data.20250301T031500Z.sql",
        "mytool.s51234__a%2e.20250301T031500Z.sql.gz",  # not as written (lower-case hex)
        "mytool.s51234__a%FF.20250301T031500Z.sql.gz",  # not UTF-8
        "mytool.s51234__data.20251301T031500Z.sql.gz",  # no 13th month
        ".mytool.s51234__data.20250301T031500Z.sql.gz.partial",
    ],
)
def test_other_names_are_not_backups(name: str) -> None:
    assert parse(name) is None


def test_a_staging_name_is_hidden_and_never_a_backup() -> None:
    name = dump_file("mytool", "s51234__data", AT).name
    assert is_staging(staging_name(name)) and not is_staging(name)
    assert parse(staging_name(name)) is None
    with pytest.raises(ValueError, match="not a database of a tool or member"):
        dump_file("mytool", "mysql", AT)


def days_ago(database: str, *days: int) -> list[DumpFile]:
    return [dump_file("t", database, AT - timedelta(days=day)) for day in days]


def test_pruning_keeps_the_newest_of_each_database() -> None:
    files = days_ago("s1__a", 0, 1, 2, 3) + days_ago("s1__b", 5)
    pruned = to_prune(files, keep=2, max_age=None, now=AT, existing={"s1__a", "s1__b"})
    assert sorted((AT - item.at).days for item in pruned) == [2, 3]
    assert to_prune(files, keep=0, max_age=None, now=AT, existing=set()) == []


def test_pruning_by_age_keeps_the_last_of_a_database_that_exists() -> None:
    files = days_ago("s1__a", 40, 50) + days_ago("s1__gone", 40, 50) + days_ago("s1__b", 1, 31)
    pruned = to_prune(
        files, keep=0, max_age=timedelta(days=30), now=AT, existing={"s1__a", "s1__b"}
    )
    names = {(item.database, (AT - item.at).days) for item in pruned}
    assert names == {("s1__a", 50), ("s1__gone", 40), ("s1__gone", 50), ("s1__b", 31)}
