"""The tool databases' sizes without a server: the pure rule of who is over the limit and
which measurement is a crossing (told once, again only after going back under), the
store's record of a measurement replaced whole, and a measurement recording its notices
in its own transaction (a notice that fails leaves nothing recorded, so the next
measurement tells it: neither lost nor doubled)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from databases import sizes
from databases.desired import Wanted
from databases.usage import MB, assess, megabytes, over_limit
from membership.records import DatabaseUsage
from membership.store import Store

TOOL = Wanted("s51234", "tool", "mytool", 51234, "/data/project/mytool", True, owner="mytool")
MEMBER = Wanted("u10001", "person", "alice", 10001, "/home/alice", True, owner="Alice")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def stamp(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def measured(
    found: Mapping[str, Mapping[str, int]], before: tuple[DatabaseUsage, ...] = (), minute: int = 0
) -> Any:
    prior = {usage.user: usage for usage in before}
    return assess([TOOL, MEMBER], found, prior, 10 * MB, stamp(minute))


# -- the rule ---------------------------------------------------------------------------------


def test_each_account_is_measured_and_a_database_of_no_account_is_left_out() -> None:
    found = measured({"s51234": {"s51234__b": 3 * MB, "s51234__a": 1 * MB}, "s9__x": {"s9__x": 1}})
    tool, member = found.usage
    assert (tool.user, tool.total, tool.databases) == (
        "s51234",
        4 * MB,
        (("s51234__a", MB), ("s51234__b", 3 * MB)),
    )
    assert (member.user, member.owner, member.total, member.databases) == ("u10001", "Alice", 0, ())
    assert not tool.over and found.crossed == () and found.back_under == ()


def test_going_over_is_one_crossing_told_once_and_again_only_after_going_back_under() -> None:
    first = measured({"s51234": {"s51234__big": 11 * MB}})
    [crossed] = first.crossed
    assert (crossed.user, crossed.over, crossed.crossings, crossed.over_since) == (
        "s51234",
        True,
        1,
        stamp(0),
    )
    still = measured({"s51234": {"s51234__big": 12 * MB}}, first.usage, minute=5)
    assert still.crossed == () and still.usage[0].over_since == stamp(0)
    assert still.usage[0].crossings == 1
    back = measured({"s51234": {"s51234__big": 9 * MB}}, still.usage, minute=10)
    assert [usage.user for usage in back.back_under] == ["s51234"] and back.crossed == ()
    assert (back.usage[0].over, back.usage[0].over_since) == (False, None)
    again = measured({"s51234": {"s51234__big": 10 * MB + 1}}, back.usage, minute=15)
    assert [(u.crossings, u.over_since) for u in again.crossed] == [(2, stamp(15))]


def test_the_limit_itself_is_not_over_and_no_limit_is_never_over() -> None:
    assert not over_limit(10 * MB, 10 * MB) and over_limit(10 * MB + 1, 10 * MB)
    assert not over_limit(10**12, 0)
    over = measured({"s51234": {"s51234__big": 11 * MB}})
    lifted = assess([TOOL], {"s51234": {"s51234__big": 11 * MB}}, {"s51234": over.usage[0]}, 0, "")
    assert [u.user for u in lifted.back_under] == ["s51234"] and lifted.crossed == ()
    assert megabytes(12 * MB + MB // 3) == "12.3 MB"


# -- the store's record -------------------------------------------------------------------------


def test_a_measurement_replaces_the_one_before_whole(store: Store) -> None:
    first = measured({"s51234": {"s51234__a": MB, "s51234__b": 11 * MB}})
    store.record_database_usage(first.usage)
    assert store.database_usage() == list(first.usage)
    assert store.database_usage(over=True) == [first.usage[0]]
    assert store.databases_over_limit_count() == 1
    assert store.database_usage_of("tool", "mytool") == first.usage[0]
    assert store.database_usage_of("person", "mytool") is None
    assert store.database_usage_measured_at() == stamp(0)

    later = assess([TOOL], {"s51234": {"s51234__a": 2 * MB}}, {}, 10 * MB, stamp(5))
    store.record_database_usage(later.usage)
    [usage] = store.database_usage()
    assert usage.databases == (("s51234__a", 2 * MB),) and not usage.over
    assert store.database_usage_of("person", "alice") is None  # no longer wanted: gone
    assert store.database_usage_measured_at() == stamp(5)


# -- a measurement and its notices ----------------------------------------------------------------


class Server:
    """What a measurement asks of the database server: the sizes."""

    def __init__(self) -> None:
        self.found: dict[str, dict[str, int]] = {}

    def sizes(self) -> dict[str, dict[str, int]]:
        return self.found


def test_a_crossing_is_audited_and_noticed_once_in_the_measurements_transaction(
    store: Store,
) -> None:
    server = Server()
    noticed: list[tuple[str, int, bool]] = []

    def notice(in_store: Any, usage: DatabaseUsage) -> None:
        noticed.append((usage.user, usage.crossings, in_store.db.conn.in_transaction))

    def measure(minute: int) -> sizes.Measured:
        return sizes.measure(
            store, server, [TOOL, MEMBER], 10, notice, T0 + timedelta(minutes=minute)
        )

    server.found = {"u10001": {"u10001__big": 11 * MB}}
    done = measure(0)
    assert done.lines == [
        "u10001 (member alice): its databases hold 11.0 MB, over the limit of 10.0 MB: its "
        "holders and the admins are told"
    ]
    measure(5)
    server.found = {}
    assert measure(10).lines == [
        "u10001 (member alice): its databases hold 0.0 MB, under the limit again"
    ]
    server.found = {"u10001": {"u10001__big": 11 * MB}}
    measure(15)
    measure(20)
    assert noticed == [("u10001", 1, True), ("u10001", 2, True)]
    entries = [e for e in store.audit_log() if e.actor == sizes.ACTOR]
    assert [e.action for e in entries] == [sizes.OVER, sizes.UNDER, sizes.OVER]
    assert entries[0].evidence == {
        "user": "u10001",
        "account": "alice",
        "kind": "person",
        "subject": "Alice",  # on the member's page of the admins' desk
        "total": 11 * MB,
        "limit": 10 * MB,
    }


def test_a_notice_that_fails_leaves_the_measurement_unrecorded_for_the_next_to_tell(
    store: Store,
) -> None:
    server = Server()
    server.found = {"s51234": {"s51234__big": 11 * MB}}
    told: list[int] = []

    def failing(in_store: Any, usage: DatabaseUsage) -> None:
        raise OSError("the disk is full")

    with pytest.raises(OSError, match="the disk is full"):
        sizes.measure(store, server, [TOOL], 10, failing, T0)
    assert store.database_usage() == [] and store.audit_log() == []
    sizes.measure(store, server, [TOOL], 10, lambda s, u: told.append(u.crossings), T0)
    assert told == [1] and len(store.audit_log()) == 1


def test_sizes_are_measured_when_the_last_measurement_is_old_enough(store: Store) -> None:
    assert sizes.due(store, 300, T0)
    store.record_database_usage(measured({}).usage)
    assert not sizes.due(store, 300, T0 + timedelta(seconds=299))
    assert sizes.due(store, 300, T0 + timedelta(seconds=300))
