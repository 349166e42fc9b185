"""Formatting kept where it is pure (bridge/dates.py, bridge/i18n.py): a language's Babel
locale parsed once, a day's words and a message without parameters looked up once per
language — and what is kept never crosses languages, `?uselang=qqx`, or the marking of
a message shown in another language than the page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import babel
import flask
import pytest
from markupsafe import Markup

from bridge import dates, i18n

FIRST_DAY = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The codes Babel parses from now on, every cache of bridge/dates.py emptied first."""
    for cached in (dates._parsed, dates._words, dates._day):
        cached.cache_clear()
    codes: list[str] = []
    real = babel.Locale.parse

    def counted(cls: type[babel.Locale], identifier: object, *args: object, **kwargs: object):
        if isinstance(identifier, str):  # Babel passes a parsed Locale through parse() too
            codes.append(identifier)
        return real(identifier, *args, **kwargs)

    monkeypatch.setattr(babel.Locale, "parse", classmethod(counted))
    return codes


@contextmanager
def page(app: flask.Flask, query: str) -> Iterator[None]:
    """Inside a request for `/?{query}`, its language chosen and its `<html lang>` pushed
    as base.html pushes it."""
    with app.test_request_context(f"/?{query}"):
        app.preprocess_request()
        flask.g.html_language_codes.append(
            i18n.toolforge_i18n.lang_mw_to_bcp47(flask.g.interface_language_code)
        )
        yield


def test_a_locale_is_parsed_once_per_language_however_many_days_are_shown(
    app: flask.Flask, parsed: list[str]
) -> None:
    days = [FIRST_DAY + timedelta(days=n) for n in range(200)]
    shown: dict[str, list[str]] = {}
    for language in ("de", "en", "de", "fr", "en"):
        with page(app, f"uselang={language}"):
            shown[language] = [str(dates.day(moment)) for moment in days for _ in range(3)]
            dates.when(days[0])
            dates.ago(days[0])
    assert sorted(parsed) == ["de", "en_GB", "fr"]
    assert shown["de"][0] == '<time datetime="2026-01-01">1. Januar 2026</time>'
    assert shown["en"][0] == '<time datetime="2026-01-01">1 January 2026</time>'
    assert shown["fr"][-1] == '<time datetime="2026-07-19">19 juillet 2026</time>'


def test_a_cached_day_is_the_same_markup_as_one_put_into_words_anew(app: flask.Flask) -> None:
    with page(app, "uselang=he"):
        first = dates.day("2026-11-30T23:59:59+00:00")
        again = dates.day(date(2026, 11, 30))
        assert isinstance(first, Markup)
        assert first == again == '<time datetime="2026-11-30">30 בנובמבר 2026</time>'
        # A moment and the day it falls on are different words, never one cache entry.
        assert dates.words(datetime(2026, 11, 30, tzinfo=UTC)) == "30 בנובמבר 2026, 00:00 UTC"
        assert dates.words(date(2026, 11, 30)) == "30 בנובמבר 2026"


def test_a_cached_message_still_differs_by_language_and_by_qqx(app: flask.Flask) -> None:
    extension: i18n.BridgeI18n = app.extensions["toolforge_i18n"]
    extension._found.cache_clear()
    seen: dict[str, list[Markup]] = {}
    for query in ("uselang=de", "uselang=en", "uselang=qqx", "uselang=de-at", "uselang=de") * 2:
        with page(app, query):
            stack = list(flask.g.html_language_codes)
            worded = i18n.text("ats-bridge-nav-status")
            assert isinstance(worded, Markup)
            assert flask.g.html_language_codes == stack
            seen.setdefault(query, []).append(worded)
    assert seen["uselang=de"] == ["Stand der Warteschlange"] * 4
    assert seen["uselang=en"] == ["Queue status"] * 2
    assert seen["uselang=qqx"] == ["(ats-bridge-nav-status)"] * 2
    # de-at has no file: German words, marked as German inside a de-AT page, every time.
    assert seen["uselang=de-at"] == ['<span lang="de" dir="ltr">Stand der Warteschlange</span>'] * 2
    assert extension._found.cache_info().hits >= 4


def test_an_unknown_key_is_the_librarys_and_parameters_are_escaped(app: flask.Flask) -> None:
    with page(app, "uselang=de"):
        with pytest.warns(i18n.toolforge_i18n.UnknownMessageWarning):
            assert "⧼ats-bridge-no-such-message⧽" in i18n.text("ats-bridge-no-such-message")
        with pytest.warns(i18n.toolforge_i18n.UnknownMessageWarning):  # warned again
            i18n.text("ats-bridge-no-such-message")
        named = i18n.text("ats-bridge-nav-my-requests", username="<Ex>")
        assert "&lt;Ex&gt;" in named


PARAMETERIZED = [
    ("ats-bridge-nav-my-requests", {"username": "<Ex>"}),
    ("ats-bridge-desk-earlier-count", {"num_earlier": 1}),
    ("ats-bridge-desk-earlier-count", {"num_earlier": 7}),
    ("ats-bridge-waiver-in-line", {"position": 2}),
]


@pytest.mark.parametrize("language", ["en", "de", "he", "de-at", "fr"])
def test_a_message_with_parameters_is_what_the_library_makes_of_it(
    app: flask.Flask, language: str
) -> None:
    with page(app, f"uselang={language}"):
        for key, params in PARAMETERIZED:
            assert i18n.text(key, **params) == i18n.toolforge_i18n.message(key, **params)


def test_a_formatter_is_made_once_per_language_and_thread(
    app: flask.Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    real = i18n.toolforge_i18n.I18nFormatter

    def counted(*, locale_identifier: str, **kwargs: object) -> object:
        made.append(locale_identifier)
        return real(locale_identifier=locale_identifier, **kwargs)

    monkeypatch.setattr(i18n.toolforge_i18n, "I18nFormatter", counted)
    for language in ("de", "en", "de", "en"):
        with page(app, f"uselang={language}"):
            for _ in range(50):
                for key, params in PARAMETERIZED:
                    i18n.text(key, **params)
    assert sorted(made) == ["de", "en"]
