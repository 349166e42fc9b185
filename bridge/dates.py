"""Dates as the reader reads them, in their language, through Babel.

The store keeps every moment in ISO 8601 (policies/times.py); a page shows it as the
reader's language writes it — "30 November 2026, 11:44 UTC", "30. November 2026, 11:44
UTC", "30 novembre 2026, 11:44 UTC" — and, where age matters (how long a request has
waited, when an admin last acted), as "3 days ago". The machine-readable value stays on
the page in `<time datetime="…">`, so nothing is lost to scripts or to a reader who
wants the exact instant (the relative form carries the full date as its title).

Template filters: `when` (a moment or a day), `day` (the day alone) and `ago`. Each
takes a `datetime`, a `date` or ISO text and gives Markup; an empty value gives "—".

Putting a moment into words is pure (the same language and moment always give the same
words) and a page puts hundreds of them into words, most of them the same few days, so
each language's Babel locale is parsed once, and the words of a moment and the markup
of a day are kept per language in bounded caches (least recently used go first): a
long-running bridge holds the words of the days it shows, never of every day it ever
showed. "How long ago" depends on the clock, so it is put into words every time.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta

import babel
import flask
from babel import dates as babel_dates
from markupsafe import Markup

# English is written day-month-year, as MediaWiki's own English does.
LOCALES = {"en": "en_GB", "qqx": "en_GB"}
NOTHING = Markup("—")
# Words kept per (locale, moment): a few pages' worth of distinct moments and days.
WORDS_CACHED = 4096


def _code(language: str | None = None) -> str:
    """Babel's code for `language` (the reader's by default)."""
    if language is None:
        language = getattr(flask.g, "interface_language_code", None) or "en"
    return LOCALES.get(language, language).replace("-", "_")


@functools.lru_cache(maxsize=64)
def _parsed(code: str) -> babel.Locale:
    try:
        return babel.Locale.parse(code)
    except (ValueError, babel.UnknownLocaleError):
        return babel.Locale.parse(LOCALES["en"])


def _locale(language: str | None = None) -> babel.Locale:
    return _parsed(_code(language))


def reader_locale() -> babel.Locale:
    """The reader's language as Babel's locale, for numbers written as they write them."""
    return _locale()


def parse(value: datetime | date | str | None) -> datetime | date | None:
    """The moment or day `value` holds (naive datetimes are UTC); None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if len(text) == len("2026-11-30"):
            return date.fromisoformat(text)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _machine(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    return moment.isoformat()


def words(value: datetime | date | str | None, language: str | None = None) -> str:
    """`value` as plain text in `language` (the reader's by default): the long date, and
    for a moment the time in UTC, joined as the language joins them."""
    moment = parse(value)
    if moment is None:
        return ""
    return _words(_code(language), moment)


@functools.lru_cache(maxsize=WORDS_CACHED)
def _words(code: str, moment: datetime | date) -> str:
    locale = _parsed(code)
    day_pattern = locale.date_formats["long"].pattern
    if not isinstance(moment, datetime):
        return babel_dates.format_date(moment, day_pattern, locale=locale)
    joined = str(locale.datetime_formats["medium"])
    pattern = joined.replace("{1}", day_pattern).replace("{0}", "HH:mm 'UTC'")
    return babel_dates.format_datetime(moment, pattern, tzinfo=UTC, locale=locale)


def ago_words(
    value: datetime | date | str | None,
    language: str | None = None,
    now: datetime | None = None,
) -> str:
    """How long ago (or how far ahead) `value` is, in `language`: "3 days ago"."""
    moment = parse(value)
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    delta: timedelta = moment - (now or datetime.now(UTC))
    return babel_dates.format_timedelta(
        delta, add_direction=True, threshold=1.0, locale=_locale(language)
    )


def when(value: datetime | date | str | None) -> Markup:
    """`<time datetime="ISO">30 November 2026, 11:44 UTC</time>` in the reader's language."""
    moment = parse(value)
    if moment is None:
        return NOTHING
    return Markup('<time datetime="{}">{}</time>').format(_machine(moment), words(moment))


def day(value: datetime | date | str | None) -> Markup:
    """The day alone (a moment's date in UTC): `<time datetime="…">30 November 2026</time>`."""
    if isinstance(value, str):  # as the store keeps moments: read once per (language, text)
        return _day_of_text(_code(), value)
    return _day_of(_code(), value)


@functools.lru_cache(maxsize=WORDS_CACHED)
def _day_of_text(code: str, value: str) -> Markup:
    return _day_of(code, value)


def _day_of(code: str, value: datetime | date | str | None) -> Markup:
    moment = parse(value)
    if moment is None:
        return NOTHING
    if isinstance(moment, datetime):
        moment = moment.date()
    return _day(code, moment)


@functools.lru_cache(maxsize=WORDS_CACHED)
def _day(code: str, moment: date) -> Markup:
    return Markup('<time datetime="{}">{}</time>').format(_machine(moment), _words(code, moment))


def ago(value: datetime | date | str | None) -> Markup:
    """`<time datetime="ISO" title="the full date">3 days ago</time>`."""
    moment = parse(value)
    if moment is None:
        return NOTHING
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        _machine(moment), words(moment), ago_words(moment)
    )


def month(value: date, language: str | None = None) -> str:
    """A month as the language names it briefly ("Nov 2026"), for a chart's axis."""
    return babel_dates.format_skeleton("yMMM", value, locale=_locale(language))


def install(app: flask.Flask) -> None:
    for name, function in (("when", when), ("day", day), ("ago", ago)):
        app.add_template_filter(function, name)
