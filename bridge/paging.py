"""Pages of a long list: which rows a page shows, and the pages around it.

A list is cut into pages of `size` rows, numbered from 1; the store reads only the
rows of the page shown (`offset`, `size`) and counts the others. What a reader typed
into the address is taken as it can be: a page or a size that is not a number is the
default, a size is kept between 1 and `MAX_SIZE`, and `Page.of` says which page to
show for a number past the last (the last), so a link kept from a longer list still
lands on rows.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SIZE = 500


def number(text: str | None, default: int, *, low: int = 0, high: int | None = None) -> int:
    """`text` as a whole number between `low` and `high`; `default` when it is none."""
    try:
        value = int(text or "")
    except ValueError:
        return default
    value = max(low, value)
    return value if high is None else min(high, value)


@dataclass(frozen=True)
class Page:
    """Page `number` (from 1) of `size` rows, of a list of `total` rows."""

    number: int
    size: int
    total: int

    @classmethod
    def of(cls, number: int, size: int, total: int) -> Page:
        """The page `number` asked for, or the last when it is past the end (the
        first of an empty list)."""
        size = max(1, min(MAX_SIZE, size))
        last = max(1, -(-total // size))
        return cls(max(1, min(number, last)), size, total)

    @property
    def count(self) -> int:
        """How many pages the list has (one, empty, when it has no rows)."""
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        """How many rows come before this page's."""
        return (self.number - 1) * self.size

    @property
    def first(self) -> int:
        """The position (from 1) of the page's first row."""
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        """The position (from 1) of the page's last row."""
        return min(self.offset + self.size, self.total)

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.count else None
