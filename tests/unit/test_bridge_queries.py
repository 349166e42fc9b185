"""Every page that lists things costs the same number of SQL statements whatever the
number of rows: one query per list, never one per row.

Each page is asked of two stores seeded alike (`tests.builders.seed_queue`), one with
10 requests and one with 1,000 (with their members, accounts, tools, payments and
decisions), and every statement SQLite runs while the page is built is counted through
sqlite3's trace callback, opening the store and reading the session included. The
store changes between the first reading and the one counted, as the bot and the worker
change it, so what a page keeps until the store changes (bridge/kept.py) is read again
in the count.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge import create_app
from bridge.testing import log_in
from membership.report import build_report
from membership.store import Store
from policies.eligibility import EligibilityPolicy
from policies.fees import FeePolicy
from tests.builders import QUEUE_MEMBER, QUEUE_TOOL, seed_queue
from tests.conftest import ADMINS, UNREACHABLE_WIKI_API

SIZES = (10, 1000)
ADMIN = ADMINS[0]
MEMBER_WITH_ACCOUNT = "Queue user 8"  # request 8 is done: an account, a payment

# page, who reads it (None: anyone)
PAGES = [
    ("/status", None),
    ("/status.json", None),
    ("/me", QUEUE_MEMBER),
    ("/me", MEMBER_WITH_ACCOUNT),
    ("/admin", ADMIN),
    ("/admin?state=all", ADMIN),
    ("/admin?state=all&limit=5&page=2", ADMIN),
    (f"/admin/member/{MEMBER_WITH_ACCOUNT}", ADMIN),
    (f"/admin/member/{QUEUE_MEMBER}", ADMIN),
    (f"/tool/{QUEUE_TOOL}", QUEUE_MEMBER),
    ("/admin/report.csv", ADMIN),
]


@pytest.fixture(scope="module")
def seeded_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """One seeded store file per size, built once for the module."""
    now = datetime.now(UTC)
    paths = {}
    for size in SIZES:
        path = tmp_path_factory.mktemp(f"queue-{size}") / "ats.sqlite"
        store = Store(path)
        seed_queue(store, size, now)
        store.close()
        paths[size] = path
    return paths


@pytest.fixture
def stores(seeded_stores: dict[int, Path], tmp_path: Path) -> dict[int, Path]:
    """This test's copies of the seeded stores (pages write sessions and states)."""
    copies = {}
    for size, path in seeded_stores.items():
        copies[size] = tmp_path / f"{size}" / "ats.sqlite"
        copies[size].parent.mkdir()
        shutil.copy(path, copies[size])
    return copies


def _reader(path: Path, who: str | None) -> FlaskClient:
    app = create_app(
        {
            "url": "http://127.0.0.1:5000",
            "wiki_api": UNREACHABLE_WIKI_API,
            "store_path": str(path),
            "oauth_version": 2,
            "consumer_key": "test-consumer",
            "policy": EligibilityPolicy(admins=ADMINS),
            "secure_cookies": False,
            "testing": True,
        }
    )
    client = app.test_client()
    if who is not None:
        log_in(app, client, who)
    return client


def _counted(statements: list[str], read: Callable[[], Any], path: Path) -> list[str]:
    read()  # once first: what a page does only the first time in a process is not per row
    _changed(path)
    statements.clear()
    read()
    return list(statements)


def _changed(path: Path) -> None:
    """A change to the store from another connection, as another process makes one."""
    store = Store(path)
    try:
        store.set_cursor("a change meanwhile", datetime.now(UTC).isoformat())
    finally:
        store.close()


@pytest.mark.parametrize(("path", "who"), PAGES)
def test_a_page_costs_the_same_statements_for_10_and_1000_requests(
    stores: dict[int, Path],
    traced: list[str],
    bridge_secrets: None,
    path: str,
    who: str | None,
) -> None:
    counts = {}
    for size, store_path in stores.items():
        client = _reader(store_path, who)

        def read(client: FlaskClient = client) -> None:
            response = client.get(path)
            assert response.status_code == 200, response.get_data(as_text=True)[:500]

        counts[size] = _counted(traced, read, store_path)
    small, large = (counts[size] for size in SIZES)
    assert len(small) == len(large), (
        f"{path}: {len(small)} statements for {SIZES[0]} requests, "
        f"{len(large)} for {SIZES[1]}; the most repeated: {_most_repeated(large)}"
    )


def test_the_report_costs_the_same_statements_for_10_and_1000_requests(
    stores: dict[int, Path], traced: list[str]
) -> None:
    counts = {}
    for size, store_path in stores.items():
        store = Store(store_path)
        try:
            counts[size] = _counted(
                traced,
                lambda store=store: build_report(store, FeePolicy(), datetime.now(UTC)),
                store_path,
            )
        finally:
            store.close()
    small, large = (counts[size] for size in SIZES)
    assert len(small) == len(large), (
        f"ats report: {len(small)} statements for {SIZES[0]} requests, {len(large)} for "
        f"{SIZES[1]}; the most repeated: {_most_repeated(large)}"
    )


def _most_repeated(statements: list[str]) -> str:
    """The statements run most often, their values taken out (`?`)."""
    seen: dict[str, int] = {}
    for statement in statements:
        shape = re.sub(r"'(?:[^']|'')*'|\b\d+\b", "?", statement)
        seen[shape] = seen.get(shape, 0) + 1
    top = sorted(seen.items(), key=lambda item: -item[1])[:3]
    return "; ".join(f"{n}× {sql[:120]}" for sql, n in top)
