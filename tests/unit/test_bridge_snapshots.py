"""The pages everyone reads most, byte for byte: `/status`, `/status.json` and a
member's `/me`, for one seeded store (`tests.builders.seed_queue`) with the clock
frozen, in English and in German.

These pin what the pages say while the code behind them changes for speed: a change
that alters a page fails here and shows the difference. After a change meant to alter
a page, look at the difference, then write the snapshots again with
`.venv/bin/python -m pytest tests/unit/test_bridge_snapshots.py --snapshot-update`
(syrupy; the files are in `__snapshots__/` beside this one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from membership.store import Store
from tests.builders import QUEUE_MEMBER, seed_queue

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
LANGUAGES = ("en", "de")


class TextSnapshot(SingleFileSnapshotExtension):
    """One readable file per page and language."""

    _write_mode = WriteMode.TEXT
    file_extension = "txt"


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def seeded(store: Store, frozen: None) -> Store:
    seed_queue(store, 30, NOW)
    return store


def _stable(page: str) -> str:
    """The page without what changes from one request to the next (a form's CSRF token,
    the Content-Security-Policy nonce of a script)."""
    page = re.sub(r'(name="csrf_token"\s+value=")[^"]+', r"\1CSRF", page)
    return re.sub(r'(nonce=")[^"]+', r"\1NONCE", page)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("path", ["/status", "/status.json"], ids=["html", "json"])
def test_the_public_status_pages_say_what_they_said(
    client: FlaskClient, seeded: Store, snapshot: SnapshotAssertion, path: str, language: str
) -> None:
    response = client.get(f"{path}?uselang={language}")
    assert response.status_code == 200
    assert _stable(response.get_data(as_text=True)) == snapshot(extension_class=TextSnapshot)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_members_page_says_what_it_said(
    client_as: Callable[..., FlaskClient],
    seeded: Store,
    snapshot: SnapshotAssertion,
    language: str,
) -> None:
    member = client_as(QUEUE_MEMBER, central_id="central-snapshot")
    response = member.get(f"/me?uselang={language}")
    assert response.status_code == 200
    page = _stable(response.get_data(as_text=True))
    assert QUEUE_MEMBER in page  # the member's own page, not a sign-in page
    assert page == snapshot(extension_class=TextSnapshot)


def test_the_snapshots_hold_the_seeded_rows(seeded: Store) -> None:
    """The seeded store is the one the snapshots were taken of: every state, decided
    requests, the member's two requests."""
    counts: dict[str, Any] = seeded.request_counts()
    assert sum(counts.values()) == 32
    assert len(counts) >= 8
