"""Dates in the reader's language: the long form in each language the bridge ships, the
relative form where age matters, the exact instant kept in `<time datetime>`, and no
page of the bridge showing a raw ISO timestamp."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest

from bridge import dates
from membership.store import Store
from policies.terms import load_terms
from tests.builders import add_request, ssh_public_key

MOMENT = "2026-11-30T11:44:04+00:00"
ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.mark.parametrize(
    ("language", "moment", "day"),
    [
        ("en", "30 November 2026, 11:44 UTC", "30 November 2026"),
        ("de", "30. November 2026, 11:44 UTC", "30. November 2026"),
        ("fr", "30 novembre 2026, 11:44 UTC", "30 novembre 2026"),
        ("es", "30 de noviembre de 2026, 11:44 UTC", "30 de noviembre de 2026"),
        ("he", "30 בנובמבר 2026, 11:44 UTC", "30 בנובמבר 2026"),
        ("qqx", "30 November 2026, 11:44 UTC", "30 November 2026"),
        ("de-at", "30. November 2026, 11:44 UTC", "30. November 2026"),
        ("xx-unknown", "30 November 2026, 11:44 UTC", "30 November 2026"),
    ],
)
def test_a_moment_and_a_day_in_each_language(language, moment, day) -> None:
    assert dates.words(MOMENT, language) == moment
    assert dates.words("2026-11-30", language) == day
    assert dates.words(date(2026, 11, 30), language) == day
    # Any offset is shown in UTC, as the page says.
    assert dates.words("2026-11-30T12:44:04+01:00", language) == moment


@pytest.mark.parametrize(
    ("language", "past", "future"),
    [
        ("en", "3 days ago", "in 5 hours"),
        ("de", "vor 3 Tagen", "in 5 Stunden"),
        ("fr", "il y a 3 jours", "dans 5 heures"),
        ("es", "hace 3 días", "dentro de 5 horas"),
        ("he", "לפני 3 ימים", "בעוד 5 שעות"),
    ],
)
def test_how_long_ago_in_each_language(language, past, future) -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert dates.ago_words(MOMENT, language, now=now) == past
    assert dates.ago_words(now + timedelta(hours=5), language, now=now) == future


def test_the_markup_keeps_the_instant_for_machines(app) -> None:
    with app.test_request_context("/?uselang=de"):
        app.preprocess_request()
        assert dates.when(MOMENT) == (
            '<time datetime="2026-11-30T11:44:04Z">30. November 2026, 11:44 UTC</time>'
        )
        assert dates.day(MOMENT) == '<time datetime="2026-11-30">30. November 2026</time>'
        relative = dates.ago(datetime.now(UTC) - timedelta(days=3))
        assert re.fullmatch(
            r'<time datetime="[^"]+Z" title="[^"]+ UTC">vor 3 Tagen</time>', relative
        )
        assert dates.when(None) == dates.when("") == "—"


class _Text(HTMLParser):
    """The text a reader sees: text nodes and the attributes shown as text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("title", "placeholder", "aria-label") and value:
                self.texts.append(value)

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.texts.append(data.strip())


@pytest.fixture
def dated(store: Store) -> Store:
    """Something dated on every page: a request with a history, a key, terms accepted,
    a payment, a waiver asked, an identification, a proposed fund action."""
    record = add_request(store, state="awaiting-requester")
    store.audit("Example", "filed", record.id, revid=1)
    store.add_ssh_key(
        "Example",
        type="ssh-ed25519",
        bits=256,
        key=ssh_public_key(),
        fingerprint="SHA256:example",
        comment="laptop",
    )
    store.accept_terms("Example", load_terms().version)
    store.record_payment(
        "Example",
        amount=2000,
        currency="USD",
        paid_on=date.today().isoformat(),
        method="card",
        reference="REF-1",
        recorded_by="Admin Two",
    )
    store.request_waiver("Example", "a reason")
    store.attest_identification("Example", attested_by="Admin Two", method="video call")
    return store


@pytest.mark.parametrize(
    ("who", "path"),
    [
        (None, "/status"),
        ("Example", "/me"),
        ("Example", "/terms"),
        ("Admin One", "/admin?state=all"),
        ("Admin One", "/admin/member/Example"),
        ("Admin One", "/admin/fund"),
    ],
)
@pytest.mark.parametrize("language", ["en", "he"])
def test_no_page_shows_a_raw_iso_date(client, client_as, dated, who, path, language) -> None:
    visitor = client_as(who) if who else client
    joiner = "&" if "?" in path else "?"
    html = visitor.get(f"{path}{joiner}uselang={language}").get_data(as_text=True)
    if path != "/admin/fund":  # its dates are in a form's choices, as text
        assert "<time datetime=" in html  # the dates are there, for machines too
    shown = [text for text in _Text(html).texts if ISO.search(text)]
    assert shown == [], f"raw dates on {path}"
