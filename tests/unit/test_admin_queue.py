"""The admins' queue a page at a time: the rows split in order of filing, the counts, the
links to the other pages keeping the filters, a page past the end; every request on
some page of `all`. And what the desk keeps between views (bridge/kept.py): nothing
once the store changed, from this process or another.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bridge.kept import kept
from bridge.paging import Page
from membership.store import ChangeWatch, Store, StoreError
from tests.builders import add_request

ROOT = Path(__file__).resolve().parents[2]


class _Queue(HTMLParser):
    """The queue as an admin reads it: each row's request, the line that counts the rows,
    and the links to the other pages (text and address)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.counts = ""
        self.pages: dict[str, str] = {}
        self.sizes: list[str] = []
        self._into: str | None = None
        self._href = ""
        self._text = ""
        self._in_pager = False
        self._in_sizes = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        if tag == "a" and "ats-wiki-section" in classes:
            self._into, self._text = "heading", ""
        elif tag == "p" and values.get("id") == "queue-rows":
            self._into, self._text = "counts", ""
        elif tag == "nav" and "ats-pager" in classes:
            self._in_pager = True
        elif tag == "a" and self._in_pager:
            self._into, self._text, self._href = "page", "", values.get("href") or ""
        elif tag == "select" and values.get("name") == "limit":
            self._in_sizes = True
        elif tag == "option" and self._in_sizes:
            self.sizes.append(values.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._into == "heading":
            self.headings.append(self._text.strip())
        elif tag == "p" and self._into == "counts":
            self.counts = " ".join(self._text.split())
        elif tag == "a" and self._into == "page":
            self.pages[self._text.strip()] = self._href
        elif tag == "nav":
            self._in_pager = False
        elif tag == "select":
            self._in_sizes = False
        if tag in ("a", "p"):
            self._into = None

    def handle_data(self, data: str) -> None:
        if self._into is not None:
            self._text += data


def _queue(admin: FlaskClient, address: str) -> _Queue:
    response = admin.get(address)
    assert response.status_code == 200, (address, response.status_code)
    return _Queue(response.get_data(as_text=True))


def _query(address: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(address).query)


@pytest.fixture
def seven(store: Store) -> list[str]:
    """Seven open requests, filed in order; the headings the queue shows."""
    return [add_request(store, f"Person {n}").heading for n in range(7)]


@pytest.fixture
def admin(client_as: Callable[..., FlaskClient]) -> FlaskClient:
    return client_as("Admin One")


def test_the_queue_is_cut_into_pages_in_order_of_filing(
    seven: list[str], admin: FlaskClient
) -> None:
    first = _queue(admin, "/admin?limit=3")
    assert first.headings == seven[:3]
    assert first.counts == "Rows 1–3 of 7"
    assert set(first.pages) == {"Next page", "Last page"}

    second = _queue(admin, first.pages["Next page"])
    assert second.headings == seven[3:6]
    assert second.counts == "Rows 4–6 of 7"
    assert set(second.pages) == {"First page", "Previous page", "Next page", "Last page"}
    assert _query(second.pages["Previous page"]) == {"limit": ["3"]}

    last = _queue(admin, second.pages["Last page"])
    assert last.headings == seven[6:]
    assert last.counts == "Rows 7–7 of 7"
    assert set(last.pages) == {"First page", "Previous page"}
    assert _queue(admin, last.pages["First page"]).headings == seven[:3]


def test_the_default_page_holds_fifty_rows_and_no_pager_for_fewer(
    store: Store, admin: FlaskClient
) -> None:
    headings = [add_request(store, f"Person {n}").heading for n in range(51)]
    first = _queue(admin, "/admin")
    assert first.headings == headings[:50]
    assert first.counts == "Rows 1–50 of 51"
    assert _query(first.pages["Next page"]) == {"page": ["2"]}
    assert first.sizes == ["20", "50", "100", "200"]
    wide = _queue(admin, "/admin?limit=100")
    assert wide.headings == headings
    assert wide.pages == {}


def test_every_request_is_on_one_page_of_all(store: Store, admin: FlaskClient) -> None:
    states = ["received", "declined", "done", "on-hold", "withdrawn", "approved", "expired"]
    filed = [add_request(store, f"Person {n}", state=s) for n, s in enumerate(states)]
    seen: list[str] = []
    address: str | None = "/admin?state=all&limit=2"
    while address is not None:
        page = _queue(admin, address)
        seen += page.headings
        address = page.pages.get("Next page")
    assert seen == [r.heading for r in filed]
    open_ones = _queue(admin, "/admin?limit=2")
    assert open_ones.counts == "Rows 1–2 of 3"  # received, on hold, approved
    declined = _queue(admin, "/admin?state=declined")
    assert declined.headings == [filed[1].heading]


def test_the_filters_are_kept_in_every_pages_link(store: Store, admin: FlaskClient) -> None:
    long_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat(timespec="seconds")
    for n in range(5):
        record = add_request(store, f"Person {n}", state="on-hold")
        store.update_request(record.id, created_at=long_ago)
    add_request(store, "Person new", state="on-hold")  # filed today: not older than 7 days
    page = _queue(admin, "/admin?state=on-hold&older_than=7&limit=2&page=2&uselang=en")
    assert page.counts == "Rows 3–4 of 5"
    wanted = {"state": ["on-hold"], "older_than": ["7"], "limit": ["2"], "uselang": ["en"]}
    for name, number in (("First page", None), ("Previous page", None), ("Last page", "3")):
        given = _query(page.pages[name])
        assert given == wanted | ({"page": [number]} if number else {}), name
    assert _query(page.pages["Next page"]) == wanted | {"page": ["3"]}


def test_older_than_counts_whole_days_since_the_request_was_recorded(
    store: Store, admin: FlaskClient
) -> None:
    now = datetime.now(UTC)
    for n, days in enumerate((1, 4.9, 5.1, 20)):
        record = add_request(store, f"Person {n}")
        created = (now - timedelta(days=days)).isoformat(timespec="seconds")
        store.update_request(record.id, created_at=created)
    older = _queue(admin, "/admin?older_than=5")
    assert older.headings == ["Account request: Person 2", "Account request: Person 3"]
    assert older.counts == "Rows 1–2 of 2"
    assert _queue(admin, "/admin?older_than=0").counts == "Rows 1–4 of 4"
    assert _queue(admin, "/admin?older_than=99999999").headings == []


@pytest.mark.parametrize(
    ("asked", "shown"),
    [
        ("/admin?limit=3&page=99", "/admin?limit=3&page=3"),
        ("/admin?state=all&limit=3&page=4", "/admin?state=all&limit=3&page=3"),
        ("/admin?limit=3&page=0", "/admin?limit=3"),
        ("/admin?limit=3&page=second", "/admin?limit=3"),
        ("/admin?limit=3&page=", "/admin?limit=3"),
        ("/admin?page=2&uselang=de", "/admin?uselang=de"),
    ],
)
def test_a_page_that_is_not_there_goes_to_the_nearest_one(
    seven: list[str], admin: FlaskClient, asked: str, shown: str
) -> None:
    response = admin.get(asked)
    assert response.status_code == 302
    assert response.headers["Location"] == shown
    assert _queue(admin, shown).headings  # and that page lists requests


def test_an_empty_queue_says_so_without_counts_or_pages(store: Store, admin: FlaskClient) -> None:
    html = admin.get("/admin").get_data(as_text=True)
    assert "No request matches." in html
    empty = _Queue(html)
    assert (empty.headings, empty.counts, empty.pages) == ([], "", {})
    assert admin.get("/admin?page=2").headers["Location"] == "/admin"


def test_a_size_the_address_asks_for_is_offered_and_kept_in_bounds(
    seven: list[str], admin: FlaskClient
) -> None:
    assert _queue(admin, "/admin?limit=3").sizes == ["3", "20", "50", "100", "200"]
    assert _queue(admin, "/admin?limit=0").counts == "Rows 1–1 of 7"
    assert _queue(admin, "/admin?limit=many").counts == "Rows 1–7 of 7"
    assert _queue(admin, "/admin?limit=100000").sizes[-1] == "500"


@pytest.mark.parametrize(
    ("number", "size", "total", "shown", "first", "last", "count"),
    [
        (1, 50, 0, 1, 0, 0, 1),
        (1, 50, 1, 1, 1, 1, 1),
        (1, 50, 50, 1, 1, 50, 1),
        (2, 50, 51, 2, 51, 51, 2),
        (9, 50, 151, 4, 151, 151, 4),
        (3, 50, 151, 3, 101, 150, 4),
        (-4, 50, 151, 1, 1, 50, 4),
    ],
)
def test_a_page_knows_its_rows_and_neighbours(
    number: int, size: int, total: int, shown: int, first: int, last: int, count: int
) -> None:
    page = Page.of(number, size, total)
    assert (page.number, page.first, page.last, page.count) == (shown, first, last, count)
    assert page.previous == (shown - 1 or None)
    assert page.next == (shown + 1 if shown < count else None)


# -- kept between views -----------------------------------------------------------------


def test_a_second_view_while_nothing_changed_reads_no_table(
    traced: list[str], seven: list[str], admin: FlaskClient
) -> None:
    admin.get("/admin")  # the first view after signing in writes the session: a change
    first = admin.get("/admin").get_data(as_text=True)
    traced.clear()
    again = admin.get("/admin").get_data(as_text=True)
    assert again == first
    assert "PRAGMA data_version" in traced
    assert [s for s in traced if "FROM" in s and "sessions" not in s] == []


def test_the_desk_shows_what_another_process_wrote_at_once(
    seven: list[str], admin: FlaskClient, store_path: Path
) -> None:
    assert _queue(admin, "/admin").counts == "Rows 1–7 of 7"
    script = textwrap.dedent(
        f"""
        from membership.store import ChangeWatch, Store, StoreError
        from tests.builders import add_request
        store = Store({str(store_path)!r})
        add_request(store, "From elsewhere")
        store.close()
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)
    shown = _queue(admin, "/admin")
    assert shown.counts == "Rows 1–8 of 8"
    assert shown.headings[-1] == "Account request: From elsewhere"


def test_the_desk_shows_the_admins_own_change_at_once(store: Store, admin: FlaskClient) -> None:
    """A fact an admin records goes through the bridge's own connection, which SQLite's
    `data_version` does not count: the desk sees it all the same."""
    add_request(store, "Example", state="awaiting-requester")
    identified = "Identified privately to a chapter admin"
    desk = admin.get("/admin").get_data(as_text=True)
    assert identified in desk
    token = re.search(r'name="csrf_token" value="([^"]+)"', desk)
    assert token is not None
    recorded = admin.post(
        "/admin/member/Example/identification",
        data={"csrf_token": token.group(1), "method": "video call"},
    )
    assert recorded.status_code == 302
    assert identified not in admin.get("/admin").get_data(as_text=True)


def test_a_kept_value_lives_until_the_store_changes(app: Flask, store_path: Path) -> None:
    made: list[int] = []

    def compute() -> int:
        made.append(len(made))
        return made[-1]

    with app.app_context():
        mine = Store(store_path)
        other = Store(store_path)
        try:
            assert kept("n", "a", compute) == 0
            mine.requests()
            assert kept("n", "a", compute) == 0  # nothing changed
            assert kept("n", "b", compute) == 1  # another key
            assert kept("n", "a", compute) == 0  # both kept
            other.set_cursor("elsewhere", "1")  # a commit of any connection
            assert kept("n", "a", compute) == 2
            mine.set_cursor("here", "1")
            assert kept("n", "a", compute) == 3
            assert kept("n", "a", compute, seconds=0) == 4  # too old at once
        finally:
            mine.close()
            other.close()


def test_threads_asking_at_once_wait_for_one_computation(app: Flask, store_path: Path) -> None:
    Store(store_path).close()
    started, release = threading.Event(), threading.Event()
    made: list[str] = []

    def compute() -> str:
        made.append(threading.current_thread().name)
        started.set()
        release.wait(10)
        return "the desk"

    def ask(found: list[str]) -> None:
        with app.app_context():
            found.append(kept("slow", "a", compute))

    found: list[str] = []
    first = threading.Thread(target=ask, args=(found,))
    first.start()
    started.wait(10)
    others = [threading.Thread(target=ask, args=(found,)) for _ in range(3)]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert found == ["the desk"] * 4
    assert len(made) == 1


def test_under_a_stream_of_changes_waiting_threads_take_a_value_made_after_they_asked(
    app: Flask, store_path: Path
) -> None:
    """Each computation finds the store changed again (the bot and the worker write
    several times a second): the threads that waited for the first one compute once
    more, together, not once each."""
    Store(store_path).close()
    started, release = threading.Event(), threading.Event()
    made: list[int] = []
    lock = threading.Lock()

    def compute() -> int:
        with lock:
            made.append(len(made))
            number = made[-1]
        writer = Store(store_path)
        try:
            writer.set_cursor("elsewhere", str(number))  # changed meanwhile
        finally:
            writer.close()
        if number == 0:
            started.set()
            release.wait(10)
        return number

    asking = threading.Semaphore(0)

    def ask(found: list[int]) -> None:
        with app.app_context():
            asking.release()
            found.append(kept("busy", "a", compute))

    found: list[int] = []
    first = threading.Thread(target=ask, args=(found,))
    first.start()
    started.wait(10)
    others = [threading.Thread(target=ask, args=(found,)) for _ in range(3)]
    for thread in others:
        thread.start()
    for _ in range(4):  # the first and the three others are in `kept`, or about to be
        assert asking.acquire(timeout=10)
    time.sleep(0.2)  # and the three others wait for the first
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert sorted(found) == [0, 1, 1, 1]
    assert made == [0, 1]


def test_the_stamp_moves_with_every_commit_of_any_process(store_path: Path) -> None:
    mine = Store(store_path)
    watch = ChangeWatch(store_path)
    try:
        before = watch.stamp()
        mine.requests()
        assert watch.stamp() == before
        mine.set_cursor("here", "1")
        moved = watch.stamp()
        assert moved != before
        script = (
            "from membership.store import Store; "
            f"Store({str(store_path)!r}).set_cursor('elsewhere', '1')"
        )
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)
        assert watch.stamp() not in (before, moved)
    finally:
        watch.close()
        mine.close()


def test_a_watch_opened_again_never_repeats_a_stamp(store_path: Path) -> None:
    Store(store_path).close()
    watch = ChangeWatch(store_path)
    try:
        first = watch.stamp()
        watch.close()
        assert watch.stamp() != first
    finally:
        watch.close()


def test_a_watch_never_makes_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "missing.sqlite"
    with pytest.raises(StoreError):
        ChangeWatch(missing).stamp()
    assert not missing.exists()


def test_every_fund_action_waiting_is_counted_and_listed(store: Store, admin: FlaskClient) -> None:
    """More than the fund's recent list holds: each waits for a second admin's decision."""
    for n in range(60):
        store.add_fund_action(
            f"form-{n}",
            kind="expense",
            amount=100 + n,
            currency="USD",
            on_date="2026-12-01",
            proposed_by="Admin Two",
            note=f"Expense {n}",
        )
    assert "(60 waiting for a second admin)" in admin.get("/admin").get_data(as_text=True)
    money = admin.get("/admin/fund").get_data(as_text=True)
    waiting = money[money.index('<section id="waiting">') :]
    waiting = waiting[: waiting.index("</section>")]
    assert waiting.count('class="cdx-card ats-card"') == 60
