"""Reading and saving pages: the request page, its history, archives, talk pages.

One query reads the request page and the kill-switch page together (`read_pages`);
`history` and `revision_texts` follow the page's revisions (texts 50 per query);
`save` saves on the revision read, so a human edit in between is an `EditConflict`
and never overwritten; `append_section` adds a notice to a talk page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.wiki.site import (
    BATCH,
    WikiError,
    ask,
    chunks,
    continued,
    faults,
    submit_write,
)


@dataclass(frozen=True)
class PageRevision:
    title: str
    exists: bool
    revid: int | None = None
    timestamp: str | None = None
    user: str | None = None
    text: str = ""
    sha1: str = ""
    tags: tuple[str, ...] = ()
    parentid: int | None = None


@dataclass(frozen=True)
class RevisionMeta:
    revid: int
    timestamp: str
    user: str
    size: int
    sha1: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Saved:
    """A save: the new revision, and whether MediaWiki merged into it edits that were
    saved after the base (a three-way merge it makes instead of an edit conflict when
    the changes do not overlap), which the saver has therefore never read."""

    revid: int
    merged: bool = False


@dataclass(frozen=True)
class PageRead:
    pages: dict[str, PageRevision]
    now: str  # the server's time of the read (starttimestamp of a later edit)


def read_pages(site: Any, titles: Sequence[str]) -> PageRead:
    """The latest revision (with text) of each title, in a single request."""
    data = ask(
        site,
        action="query",
        prop="revisions",
        titles="|".join(titles),
        rvprop="ids|timestamp|user|content|sha1|tags",
        rvslots="main",
        curtimestamp=1,
    )
    query = data.get("query", {})
    aliases = {n["to"]: n["from"] for n in query.get("normalized", [])}
    pages: dict[str, PageRevision] = {}
    for entry in query.get("pages", []):
        title = aliases.get(entry["title"], entry["title"])
        if entry.get("missing") or entry.get("invalid") or not entry.get("revisions"):
            pages[title] = PageRevision(title, False)
            continue
        rev = entry["revisions"][0]
        pages[title] = PageRevision(
            title,
            True,
            rev["revid"],
            rev["timestamp"],
            rev.get("user", ""),
            rev["slots"]["main"].get("content", ""),
            rev.get("sha1", ""),
            tuple(rev.get("tags", ())),
            rev.get("parentid"),
        )
    for title in titles:
        pages.setdefault(title, PageRevision(title, False))
    return PageRead(pages, data.get("curtimestamp", ""))


def history(
    site: Any, title: str, after_revid: int | None = None, limit: int = 20_000
) -> list[RevisionMeta]:
    """Revision metadata of `title`, oldest first, after `after_revid` when given."""
    params: dict[str, Any] = {
        "action": "query",
        "prop": "revisions",
        "titles": title,
        "rvprop": "ids|timestamp|user|size|sha1|tags",
        "rvdir": "newer",
        "rvlimit": "max",
    }
    if after_revid:
        params["rvstartid"] = after_revid
    revisions: list[RevisionMeta] = []
    for data in continued(site, params):
        for entry in data.get("query", {}).get("pages", []):
            for rev in entry.get("revisions", []):
                if rev["revid"] != after_revid:
                    revisions.append(
                        RevisionMeta(
                            rev["revid"],
                            rev["timestamp"],
                            rev.get("user", ""),
                            rev.get("size", 0),
                            rev.get("sha1", ""),
                            tuple(rev.get("tags", ())),
                        )
                    )
        if len(revisions) >= limit:
            break
    return revisions


def revision_texts(site: Any, revids: Iterable[int]) -> dict[int, str]:
    """The text of each revision, 50 per request."""
    texts: dict[int, str] = {}
    for batch in chunks(sorted(set(revids)), BATCH):
        data = ask(
            site,
            action="query",
            prop="revisions",
            revids="|".join(map(str, batch)),
            rvprop="ids|content",
            rvslots="main",
        )
        for entry in data.get("query", {}).get("pages", []):
            for rev in entry.get("revisions", []):
                main = rev.get("slots", {}).get("main", {})
                if "content" in main:  # a hidden (revision-deleted) text is left out
                    texts[rev["revid"]] = main["content"]
    return texts


def save(
    site: Any, title: str, text: str, *, base: PageRevision, started: str, summary: str
) -> Saved:
    """Save `text` over `base` (or create the page when `base` does not exist).

    Raises EditConflict if anyone saved, created or deleted the page in between,
    this bot's own account included: the base is given as `baserevid` alone, because
    with `basetimestamp` MediaWiki lets an account overwrite its own newer edits, and
    a second clerk of the same bot (another deployment) would go unnoticed.
    """
    params: dict[str, Any] = {"text": text}
    if started:
        params["starttimestamp"] = started
    if base.exists:
        params["nocreate"] = 1
        params["baserevid"] = base.revid
    else:
        params["createonly"] = 1  # someone creating it meanwhile is a conflict too
    result = bot_edit(site, title, summary, f"saving {title}", conflicts=True, **params)
    parent = int(result.get("oldrevid") or 0)
    merged = bool(base.exists and parent and parent != base.revid)
    return Saved(int(result.get("newrevid") or base.revid or 0), merged)


def latest_revid(site: Any, title: str) -> int | None:
    """The id of `title`'s latest revision (None if it does not exist); one request."""
    data = ask(site, action="query", prop="info", titles=title)
    for entry in data.get("query", {}).get("pages", []):
        if entry.get("missing") or entry.get("invalid"):
            return None
        return int(entry.get("lastrevid") or 0) or None
    return None


def bot_edit(
    site: Any, title: str, summary: str, doing: str, *, conflicts: bool = False, **params: Any
) -> dict[str, Any]:
    """One edit as the logged-in bot (bot flag, assertuser); the API's `edit` result.

    With `conflicts`, the API's conflict errors raise EditConflict; every other
    refusal raises WikiError saying what was being done (`doing`).
    """
    with faults(doing):
        request = {
            "action": "edit",
            "title": title,
            "summary": summary,
            "bot": 1,
            "watchlist": "nochange",
            "assert": "user",
            "assertuser": site.user(),
            "token": site.tokens["csrf"],
            "formatversion": 2,
            **params,
        }
        data = submit_write(site, request, conflict=title if conflicts else None)
    result = data.get("edit", {})
    if result.get("result") != "Success":
        raise WikiError(f"{doing} failed: {result}")
    return result


def create_or_replace(site: Any, title: str, text: str, summary: str) -> bool:
    """Write a page whatever it holds now (templates, seeded pages); True if it changed."""
    result = bot_edit(site, title, summary, f"saving {title}", text=text)
    return not result.get("nochange", False)


# -- talk-page notices (used by bot.reminders) -------------------------------------
# Added for the yearly renewal: a reminder is a new section at the end of a member's
# user talk page (action=edit&section=new), so it never conflicts with their edits.


def append_section(site: Any, title: str, heading: str, text: str, summary: str) -> int:
    """Add a section `heading` with `text` at the end of `title` (creating the page);
    a bot edit with `summary`. Returns the new revision id."""
    result = bot_edit(
        site,
        title,
        summary,
        f"adding a section to {title}",
        section="new",
        sectiontitle=heading,
        text=text,
    )
    return int(result.get("newrevid") or 0)
