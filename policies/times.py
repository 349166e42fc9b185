"""Moments as text: the one way the project writes a time down.

Every time the store keeps, a lease expires at, or the wiki's API is asked about is
an instant in UTC written in ISO 8601. The store writes whole seconds with an offset
(`2026-01-02T03:04:05+00:00`), a lease milliseconds (two clerks may race within one
second), and MediaWiki's API wants whole seconds ending in `Z`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal


def iso(
    moment: datetime | None = None,
    *,
    timespec: Literal["seconds", "milliseconds"] = "seconds",
    zulu: bool = False,
) -> str:
    """`moment` (now when None) in UTC as ISO 8601 text.

    `zulu` writes the offset as `Z` (MediaWiki's form: `2026-01-02T03:04:05Z`) instead
    of `+00:00`.
    """
    text = (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec=timespec)
    return text.removesuffix("+00:00") + "Z" if zulu else text
