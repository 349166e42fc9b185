"""The farm's wikis and the global accounts it seeds, as data.

A persona's "recent" edits fall in the 54 days before the seed (so "the last 55 days" still
holds a day later); its older edits end 400 days before it (``Long Gone``'s 760 days), so
any activity window from 55 to 400 days counts the same recent edits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from devtools.devwiki.history import Persona

META = "metawiki"
HOME = "enwiki"
WIKIS = (META, HOME)
SITE_NAMES = {META: "MetaWiki", HOME: "EnWiki"}
_YEAR = 365
_OLD_EDITS_END_DAYS = 400
_RECENT_DAYS = 54


@dataclass(frozen=True)
class GlobalUserSpec:
    """A global account to create: its age and, per wiki, (edits, edits in the last 55 days).

    It is attached to every wiki of the farm, with no edits where ``edits`` names none.
    Every edit is a revision unless ``old_revisions`` is set: then only that many of the
    edits before the recent ones are (the recent ones always are), and the wiki's edit count
    is set to the full number -- for benchmarks of many accounts, where importing tens of
    thousands of old revisions would take minutes and nothing reads them.
    """

    name: str
    age_days: int
    edits: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    quiet_days: int | None = None  # old edits end this many days ago (default: see below)
    sysop_on: tuple[str, ...] = ()
    old_revisions: int | None = None

    def persona(self, wiki: str) -> Persona:
        total, recent = self.edits.get(wiki, (0, 0))
        if self.old_revisions is not None:
            total = recent + min(total - recent, self.old_revisions)
        quiet = self.quiet_days
        if quiet is None:
            # Older edits stay out of a year's window when the account is old enough.
            quiet = _OLD_EDITS_END_DAYS if self.age_days > _OLD_EDITS_END_DAYS + 30 else 61
        # Recent edits within 54 days, so "in the last 55 days" holds for a day after the seed.
        return Persona(
            self.name, self.age_days, total, recent, quiet_days=quiet, recent_days=_RECENT_DAYS
        )


PERSONAS: tuple[GlobalUserSpec, ...] = (
    GlobalUserSpec("Wanderer", 5 * _YEAR, {HOME: (800, 40)}),
    GlobalUserSpec("Split Editor", 3 * _YEAR, {HOME: (400, 6), META: (200, 6)}),
    GlobalUserSpec("Long Gone", 8 * _YEAR, {HOME: (900, 0)}, quiet_days=2 * _YEAR + 30),
    GlobalUserSpec("Locked Out", 5 * _YEAR, {HOME: (700, 30)}),
    GlobalUserSpec("Blocked Abroad", 5 * _YEAR, {HOME: (700, 30)}),
    GlobalUserSpec("Hidden Account", 5 * _YEAR, {HOME: (700, 30)}),
    GlobalUserSpec("Later Locked", 5 * _YEAR, {HOME: (700, 30)}),
    GlobalUserSpec("ChapterAdmin", 5 * _YEAR, {META: (600, 30)}, sysop_on=(META,)),
)
LOCKED = ("Locked Out",)
HIDDEN = ("Hidden Account",)
BLOCKS = {"Blocked Abroad": (HOME, "Edit warring on enwiki", "1 month")}
