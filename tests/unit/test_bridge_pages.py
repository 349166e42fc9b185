"""The bridge's own pages as a reader gets them: the chapter's policies with their tables
and their own titles, and the 404, 500 and 503 pages in the bridge's look and language,
one clear sentence and no traceback."""

from __future__ import annotations

import functools
import re
import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

import bridge.sessions
from bridge.views import render_markdown, split_title
from membership.store import Store

POLICY_TITLES = {
    "privacy": "What the chapter keeps about you, and for how long",
    "identification": "Identifying privately to the chapter",
    "fees": "Fees and waivers, in plain words",
    "terms": "Terms of use of the American Toolserver",
}


def title_and_headings(page: str) -> tuple[str, list[str]]:
    title = re.search(r"<title>(.*?)</title>", page, re.S)
    assert title is not None
    main = page[page.index("<main") :]  # the header's navigation comes first on every page
    return title.group(1).strip(), re.findall(r"<(h[1-6]|ul|table)\b", main)


@pytest.mark.parametrize("name", list(POLICY_TITLES))
def test_each_policy_page_is_titled_as_its_document(client: FlaskClient, name: str) -> None:
    page = client.get(f"/policies/{name}").get_data(as_text=True)
    title, order = title_and_headings(page)
    assert title == f"{POLICY_TITLES[name]} · American Toolserver"
    assert re.search(rf"<h1>{re.escape(POLICY_TITLES[name])}</h1>", page)
    assert order[0] == "h1" and order.count("h1") == 1  # the document's heading, once
    assert "policies" not in title and "# " not in page


def test_the_privacy_policy_shows_its_retention_table(client: FlaskClient) -> None:
    page = client.get("/policies/privacy").get_data(as_text=True)
    table = re.search(r"<table[^>]*>.*?</table>", page, re.S)
    assert table is not None, "the retention table is rendered as a table"
    assert table.group(0).count("<tr>") >= 5 and "<th>" in table.group(0)
    assert "| ---" not in page and "|---" not in page  # no raw pipes left
    # In Codex's scrolling wrapper, which a keyboard can scroll.
    assert (
        '<div class="cdx-table__table-wrapper" tabindex="0"><table class="cdx-table__table' in page
    )


def test_the_policies_index_puts_its_heading_before_the_list(client: FlaskClient) -> None:
    page = client.get("/policies").get_data(as_text=True)
    title, order = title_and_headings(page)
    assert title == "The chapter's policies · American Toolserver"
    assert order[:2] == ["h1", "ul"]  # the heading, then the list of policies


def test_markdown_is_escaped_and_titles_split() -> None:
    html = render_markdown("| a | b |\n|---|---|\n| <script>x</script> | 2 |\n")
    assert "<script>" not in html and "&lt;script&gt;" in html and "<td>2</td>" in html
    assert split_title("# Title #\n\nBody\n") == ("Title", "\nBody")
    assert split_title("Intro\n# Later\n") == (None, "Intro\n# Later\n")


def test_a_missing_page_is_the_bridges_404_in_the_readers_language(client: FlaskClient) -> None:
    response = client.get("/no/such/page?uselang=he")
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert '<html lang="he" dir="rtl">' in page and 'class="ats-header"' in page
    assert "<h1>הדף לא נמצא</h1>" in page
    assert "The requested URL was not found" not in page  # Werkzeug's own text


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """The app as it is served: an exception becomes an error page, not a re-raise."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/broken")
    def broken() -> str:
        raise RuntimeError("secret internals /srv/ats/store.sqlite line 42")

    return app


def test_an_exception_in_a_view_is_a_500_page_without_a_traceback(failing_app: Flask) -> None:
    response = failing_app.test_client().get("/broken?uselang=de")
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "<h1>Etwas ist schiefgelaufen</h1>" in page and 'class="ats-header"' in page
    assert "Versuche es gleich noch einmal" in page
    assert "Traceback" not in page and "secret internals" not in page


def test_a_store_locked_past_its_busy_timeout_is_a_503_saying_try_again(
    failing_app: Flask, store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bridge waits 10 s for the lock; a short wait keeps the test quick.
    monkeypatch.setattr(bridge.sessions, "Store", functools.partial(Store, busy_timeout_ms=100))
    client = failing_app.test_client()
    assert client.get("/policies").status_code == 200  # the store exists, migrated
    holder = sqlite3.connect(store_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        response = client.get("/language?language=fr&next=/status")  # writes the session
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    page = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "<h1>The bridge is busy</h1>" in page
    assert "Wait a moment and try again." in page
    assert "Traceback" not in page and "locked" not in page and "sqlite" not in page
    assert client.get("/status").status_code == 200  # free again: works
