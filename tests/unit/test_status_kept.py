"""`/status` is kept between views while the store does not change: the same words for
every reader of a language, never older than the data, computed again for a change any
process makes, another language, or a new day."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine
from flask.testing import FlaskClient

from membership.store import Store
from policies.times import iso
from tests.builders import add_request

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_view_while_nothing_changed_reads_no_table(
    traced: list[str], store: Store, client: FlaskClient
) -> None:
    add_request(store, "Example", state="awaiting-requester")
    first = client.get("/status").get_data(as_text=True)
    traced.clear()
    again = client.get("/status").get_data(as_text=True)
    assert again == first
    assert "PRAGMA data_version" in traced
    assert [s for s in traced if "FROM" in s] == []


def test_a_request_another_process_files_shows_at_once(
    store: Store, store_path: Path, client: FlaskClient
) -> None:
    add_request(store, "Example", state="awaiting-requester")
    assert "From elsewhere" not in client.get("/status").get_data(as_text=True)
    script = textwrap.dedent(
        f"""
        from membership.store import Store
        from tests.builders import add_request
        store = Store({str(store_path)!r})
        add_request(store, "From elsewhere", state="awaiting-requester")
        store.close()
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)
    assert "From elsewhere" in client.get("/status").get_data(as_text=True)


def test_each_language_has_its_own_words(store: Store, client: FlaskClient) -> None:
    add_request(store, "Example", state="awaiting-requester")
    english = client.get("/status").get_data(as_text=True)
    german = client.get("/status?uselang=de").get_data(as_text=True)
    assert "Open requests" in english and "Open requests" not in german
    assert client.get("/status").get_data(as_text=True) == english


def test_a_new_day_counts_one_more_day_waiting(store: Store, client: FlaskClient) -> None:
    filed = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    add_request(store, "Example", state="awaiting-requester", intro_timestamp=iso(filed))
    with time_machine.travel(filed + timedelta(days=3), tick=False):
        assert "<td>3</td></tr>" in client.get("/status").get_data(as_text=True)
    with time_machine.travel(filed + timedelta(days=4), tick=False):
        assert "<td>4</td></tr>" in client.get("/status").get_data(as_text=True)
