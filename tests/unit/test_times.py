"""One way to write a moment: the store's, a lease's and MediaWiki's forms of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from policies.times import iso

MOMENT = datetime(2026, 1, 2, 4, 4, 5, 678_901, tzinfo=timezone(timedelta(hours=1)))


def test_the_three_forms_are_utc() -> None:
    assert iso(MOMENT) == "2026-01-02T03:04:05+00:00"
    assert iso(MOMENT, timespec="milliseconds") == "2026-01-02T03:04:05.678+00:00"
    assert iso(MOMENT, zulu=True) == "2026-01-02T03:04:05Z"


def test_no_moment_is_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    written = datetime.fromisoformat(iso())
    assert before <= written <= datetime.now(UTC)
