"""Following changes for `ats bot watch`: whether the watched pages changed.

The watcher asks only *whether* the request page or the kill-switch page changed; the
clerk's own cycle reads them. Each poll is one request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.wiki.site import (
    WikiError,
    ask,
    continued,
)


@dataclass(frozen=True)
class WatchedTitle:
    """A title as recent changes and EventStreams spell it, with its namespace."""

    title: str
    namespace: int


@dataclass(frozen=True)
class RecentChange:
    rcid: int
    timestamp: str  # ISO 8601, second precision, as the API gives it
    title: str
    type: str  # edit | new | log
    revid: int


@dataclass(frozen=True)
class RecentChanges:
    changes: list[RecentChange]
    complete: bool  # False when more changes remain after `max_pages` pages


def watched_titles(site: Any, titles: Sequence[str]) -> list[WatchedTitle]:
    """The normalised form and namespace of each title, in one request."""
    data = ask(site, action="query", titles="|".join(titles))
    query = data.get("query", {})
    normalised = {n["from"]: n["to"] for n in query.get("normalized", [])}
    namespaces = {p["title"]: p.get("ns", 0) for p in query.get("pages", [])}
    found = []
    for title in titles:
        name = normalised.get(title, title)
        if name not in namespaces:
            raise WikiError(f"{title!r} is not a valid page title on this wiki")
        found.append(WatchedTitle(name, int(namespaces[name])))
    return found


def recent_changes(
    site: Any,
    *,
    namespaces: Sequence[int],
    since: str,
    title: str | None = None,
    max_pages: int = 5,
) -> RecentChanges:
    """Edits, creations and log entries since `since` (inclusive), oldest first.

    With `title`, MediaWiki filters to that one page (`rctitle` takes a single title);
    without, every change in `namespaces` comes back and the caller filters.
    """
    params: dict[str, Any] = {
        "action": "query",
        "list": "recentchanges",
        "rcnamespace": "|".join(str(n) for n in sorted(set(namespaces))),
        "rcstart": since,
        "rcdir": "newer",
        "rcprop": "title|ids|timestamp",
        "rctype": "edit|new|log",
        "rclimit": "max",
    }
    if title:
        params["rctitle"] = title
    changes: list[RecentChange] = []
    complete = True
    for page_number, data in enumerate(continued(site, params)):
        changes.extend(
            _recent_change(entry) for entry in data.get("query", {}).get("recentchanges", [])
        )
        if page_number + 1 >= max_pages and "continue" in data:
            complete = False
            break
    return RecentChanges(changes, complete)


def latest_change(
    site: Any, *, namespaces: Sequence[int], title: str | None = None
) -> tuple[RecentChange | None, str]:
    """The newest change in `namespaces` (or to `title`) and the wiki's current time."""
    params: dict[str, Any] = {
        "action": "query",
        "list": "recentchanges",
        "rcnamespace": "|".join(str(n) for n in sorted(set(namespaces))),
        "rcdir": "older",
        "rcprop": "title|ids|timestamp",
        "rctype": "edit|new|log",
        "rclimit": 1,
        "curtimestamp": 1,
    }
    if title:
        params["rctitle"] = title
    data = ask(site, **params)
    entries = data.get("query", {}).get("recentchanges", [])
    return (_recent_change(entries[0]) if entries else None), data.get("curtimestamp", "")


def _recent_change(entry: dict[str, Any]) -> RecentChange:
    return RecentChange(
        rcid=int(entry.get("rcid", 0)),
        timestamp=entry.get("timestamp", ""),
        title=entry.get("title", ""),
        type=entry.get("type", ""),
        revid=int(entry.get("revid", 0)),
    )
