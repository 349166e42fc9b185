"""The store reads a list of rows as one packed value (`StoreConnection._packed`): the
same rows, values and order as reading them row by row, in one step of the statement;
and many lists in one statement (`StoreConnection.read`), each as it reads alone."""

from __future__ import annotations

import random
from typing import Any

import pytest

from membership.store import Store
from tests.builders import add_request


@pytest.fixture
def filled(store: Store) -> Store:
    rng = random.Random(11)
    names = ["Ädä", "Bob", "Zoë 𝔘", "o'brien", 'quote " name', "\\back", "ünïcode—dash"]
    for n in range(120):
        who = f"{rng.choice(names)} {rng.randrange(1000)}"
        add_request(
            store,
            who,
            key=f"k{n}",
            intro_timestamp=None if n % 7 == 0 else f"2026-0{1 + n % 9}-1{n % 10}T00:00:00Z",
            intro_revid=2**62 + n if n % 5 == 0 else n,  # integers past a double's precision
            state=rng.choice(["received", "done", "declined", "on-hold"]),
            fields={"type": "account", "purpose": f"row {n}: {who}"},
        )
    return store


def _row_by_row(store: Store, sql: str, args: Any = ()) -> list[dict[str, Any]]:
    cursor = store.db.conn.execute(sql, args)
    keys = [column[0] for column in cursor.description]
    return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


@pytest.mark.parametrize(
    ("where", "args", "order_by"),
    [
        (None, (), "id"),
        (None, (), "id DESC"),
        ("state = ?", ("done",), "subject, id"),
        ("intro_timestamp IS NULL OR state <> ?", ("received",), "intro_timestamp DESC, id"),
        ("subject LIKE ?", ("%o%",), "heading COLLATE NOCASE, id DESC"),
    ],
)
def test_packed_rows_are_the_rows_read_one_by_one(
    filled: Store, where: str | None, args: tuple[str, ...], order_by: str
) -> None:
    sql = "SELECT * FROM requests" + (f" WHERE {where}" if where else "")  # noqa: S608
    sql += f" ORDER BY {order_by}"
    expected = _row_by_row(filled, sql, args)
    assert expected, "the case reads some rows"
    assert filled._rows("requests", where, args, order_by=order_by) == expected


def test_no_rows_and_chosen_columns(filled: Store) -> None:
    assert filled._rows("requests", "state = ?", ["no-such-state"]) == []
    chosen = filled._rows("requests", "id <= 3", columns=("id", "subject"))
    assert [set(row) for row in chosen] == [{"id", "subject"}] * 3


def test_a_list_is_one_statement_that_sqlite_packs(filled: Store) -> None:
    ran: list[str] = []
    filled.db.conn.set_trace_callback(ran.append)
    try:
        rows = filled._rows("requests", "state = ?", ["done"])
    finally:
        filled.db.conn.set_trace_callback(None)
    assert rows and len(ran) == 1 and "json_group_array" in ran[0]


def test_queries_read_together_answer_what_each_answers_alone(filled: Store) -> None:
    filled.record_account("ada", "person", "Ädä 1", 1)
    someone = filled.requests()[3].subject
    queries = {
        "requests": filled.requests_query(state="done"),
        "none": filled.requests_query(state="no-such-state"),
        "theirs": filled.requests_for_query(someone),
        "account": filled.account_of_query("Ädä 1"),
        "no_account": filled.account_of_query("Nobody"),
        "terms": filled.terms_accepted_query("Ädä 1", "1"),
        "quoted": filled.requests_query(state="it's"),  # a value that needs quoting
    }
    ran: list[str] = []
    filled.db.conn.set_trace_callback(ran.append)
    try:
        together = filled.read(**queries)
    finally:
        filled.db.conn.set_trace_callback(None)
    assert len(ran) == 1  # one statement for all of them
    assert together == {name: filled.answer(query) for name, query in queries.items()}
    assert together["requests"] == filled.requests(state="done") != []
    assert together["theirs"] == filled.requests_for(someone) != []
    assert together["account"] is not None and together["no_account"] is None
    assert together["none"] == together["quoted"] == [] and together["terms"] is None


def test_reading_nothing_runs_nothing(filled: Store) -> None:
    ran: list[str] = []
    filled.db.conn.set_trace_callback(ran.append)
    try:
        assert filled.read() == {}
    finally:
        filled.db.conn.set_trace_callback(None)
    assert ran == []
