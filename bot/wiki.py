"""The pywikibot adapter: every call the bot makes to a wiki goes through here.

Functions take the site as their first argument and return plain values (dataclasses
of this module or of `policies.eligibility`), so the clerk never sees pywikibot.
pywikibot is configured from the `[wiki] api` URL alone: no user-config.py, a
private working folder for its cookies and caches, and the password handed over in
memory (never written to disk). Requests are raw API queries shaped for cost: one
query reads the request page and the kill-switch page together; user look-ups are
batched 50 at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from policies.eligibility import AttachedWiki, Block, UserRecord

BATCH = 50  # MediaWiki's limit for titles/users/revids per query without apihighlimits
USER_AGENT = "AmericanToolserver-clerk/0.1 (account requests clerk)"


class WikiError(RuntimeError):
    """The wiki refused or could not be reached; the message says what happened."""


class EditConflict(WikiError):
    """Someone else saved the page after we read it."""


class WikiUnreachable(WikiError):
    """No answer: connection refused or reset, no such host, or a timeout."""


class WikiServerError(WikiError):
    """The wiki's server answered with an HTTP 5xx error, again and again."""


class WikiReadOnly(WikiError):
    """The wiki is in read-only mode ($wgReadOnly, database maintenance)."""


class WikiLagged(WikiError):
    """The wiki's replication lag stayed above `maxlag` after every retry."""


class LoginFailed(WikiError):
    """The bot's login was refused."""


# How long a silent wiki may take, in seconds: to accept the connection, then between two
# bytes of an answer. A refused connection fails at once; 5xx answers are retried.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
SERVER_ERROR_RETRIES = 2


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


def open_site(api_url: str, workdir: Path, login_name: str, *, maxlag: int = 5) -> Any:
    """A pywikibot site for `api_url`, configured in code; nothing is read from ~/.

    pywikibot's own throttle is made inert: it multiplies its delays by the number of
    processes listed in its `throttle.ctrl` file, where killed processes stay for ten
    minutes, so a few restarts would slow every read and save. The pause between saves
    is the clerk's own (`[bot] edit_interval`, counted from the last save the store
    knows); a server's Retry-After is still honoured.
    """
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # pywikibot only accepts PYWIKIBOT_DIR when it holds a user-config.py; an empty
    # one marks the folder (PYWIKIBOT_NO_USER_CONFIG=2 keeps it from being read).
    marker = workdir / "user-config.py"
    if not marker.exists():
        marker.write_text("# pywikibot is configured in code by American Toolserver.\n")
    os.environ.setdefault("PYWIKIBOT_NO_USER_CONFIG", "2")
    # The configured folder wins over an inherited PYWIKIBOT_DIR: cookies are per bot.
    os.environ["PYWIKIBOT_DIR"] = str(workdir.resolve())
    import pywikibot
    from pywikibot import config

    # pywikibot fixes its folder when first imported, and a caller may have imported
    # it already (for its exception classes): its cookies, caches and throttle.ctrl
    # would land in the current directory, shared with every other bot started there.
    config.base_dir = str(workdir.resolve())
    _quiet_pywikibot()
    family = "ats" + hashlib.sha1(api_url.encode()).hexdigest()[:8]  # noqa: S324 - a name
    config.family_files[family] = api_url
    config.put_throttle = 0
    config.minthrottle = 0
    config.write_maxlag = maxlag
    config.max_retries = 3
    config.retry_wait = 2
    config.retry_max = 30
    config.socket_timeout = (CONNECT_TIMEOUT, READ_TIMEOUT)
    config.user_agent_description = USER_AGENT
    config.usernames[family][family] = login_name.partition("@")[0]
    config.noisysleep = 600.0  # do not print ordinary throttling waits
    with _faults(f"opening the wiki at {api_url}"):
        # The site class that fails fast (see _FailFast); building it already asks the wiki.
        site = pywikibot.Site(family, family, interface=_site_class())
    _inert_throttle(site.throttle)
    return site


_DEBUG = {"on": False}


def debug_logging(on: bool = True) -> None:
    """Let pywikibot print everything it logs (`ats --debug`); by default it prints nothing."""
    _DEBUG["on"] = on


def _inert_throttle(throttle: Any) -> None:
    """No delay but the server's Retry-After, whatever throttle.ctrl lists.

    `Throttle.get_delay` is `max(mindelay, retry_after, delay) * process_multiplicity`
    and recounts the processes every `checkdelay` seconds: count this one only, never
    recount, and keep both delays at zero.
    """
    throttle.set_delays(delay=0, writedelay=0, absolute=True)
    throttle.mindelay = throttle.maxdelay = throttle.delay = throttle.writedelay = 0
    throttle.process_multiplicity = 1
    throttle.checkdelay = float("inf")


def _quiet_pywikibot() -> None:
    """Keep pywikibot's own output off the terminal unless debugging.

    pywikibot logs chatter (\"Logging in to ...\"), retries, and whole tracebacks of
    errors it is about to raise; this adapter turns each failure into one WikiError
    whose message says what happened, so its log would only repeat it at length.
    """
    import logging

    from pywikibot import bot as pwb_bot

    pwb_bot.init_handlers()
    if _DEBUG["on"]:
        return
    for handler in logging.getLogger("pywiki").handlers:
        handler.setLevel(logging.CRITICAL + 1)


def login(site: Any, login_name: str, password: str) -> str:
    """Log in (reusing saved cookies when they are still good); returns the username."""
    from pywikibot import login as pwb_login
    from pywikibot.exceptions import APIError, NoUsernameError

    user = login_name.partition("@")[0]
    with _faults(f"logging in as {login_name}"):
        with contextlib.suppress(APIError, NoUsernameError):
            site.login(cookie_only=True)
        if site.logged_in() and site.user() == user:
            return user
        manager = pwb_login.ClientLoginManager(site=site, user=user, password=password)
        manager.login_name = login_name
        try:
            ok = manager.login(retry=False)
        except (APIError, NoUsernameError) as error:
            raise LoginFailed(f"login as {login_name} failed: {error}") from None
        if not ok:
            raise LoginFailed(
                f"login as {login_name} failed: check [bot] username and ATS_BOT_PASSWORD "
                "(a BotPassword login name looks like Name@appid)"
            )
        del site.userinfo
        site.login(cookie_only=True)
        if not site.logged_in():
            raise LoginFailed(f"login as {login_name} did not stick (cookies refused?)")
        return user


def _query(site: Any, **params: Any) -> dict[str, Any]:
    params.setdefault("formatversion", 2)
    with _faults(f"the wiki's answer to {params.get('action', 'query')}"):
        return site.simple_request(**params).submit()


def read_pages(site: Any, titles: Sequence[str]) -> PageRead:
    """The latest revision (with text) of each title, in a single request."""
    data = _query(
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
    for data in _continued(site, params):
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
    for batch in _chunks(sorted(set(revids)), BATCH):
        data = _query(
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
    data = _query(site, action="query", prop="info", titles=title)
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
    from pywikibot.exceptions import APIError

    with _faults(doing):
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
        try:
            data = site.simple_request(**request).submit()
        except APIError as error:
            if conflicts and error.code in (
                "editconflict",
                "articleexists",
                "pagedeleted",
                "missingtitle",
            ):
                raise EditConflict(f"{title} was edited while the bot was working") from None
            raise
    result = data.get("edit", {})
    if result.get("result") != "Success":
        raise WikiError(f"{doing} failed: {result}")
    return result


def create_or_replace(site: Any, title: str, text: str, summary: str) -> bool:
    """Write a page whatever it holds now (templates, seeded pages); True if it changed."""
    result = bot_edit(site, title, summary, f"saving {title}", text=text)
    return not result.get("nochange", False)


# -- users -------------------------------------------------------------------


def has_central_auth(site: Any) -> bool:
    with _faults("reading the wiki's extensions"):
        return bool(site.has_extension("CentralAuth"))


def script_path(site: Any) -> str:
    """Where api.php lives under the server ("/w" on Wikimedia's wikis, "" here)."""
    return str(site.family.scriptpath(site.code) or "")


def local_users(
    site: Any, names: Sequence[str], *, recent_needed: int, window_days: int, now: datetime
) -> dict[str, UserRecord]:
    """`list=users` 50 at a time, then recent activity from `list=usercontribs`."""
    records: dict[str, UserRecord] = {}
    for batch in _chunks(list(dict.fromkeys(names)), BATCH):
        data = _query(
            site,
            action="query",
            list="users",
            ususers="|".join(batch),
            usprop="editcount|registration|blockinfo|groups",
        )
        query = data.get("query", {})
        aliases = {n["to"]: n["from"] for n in query.get("normalized", [])}
        found = [parse_local_user(entry) for entry in query.get("users", [])]
        active = [r.name for r in found if r.status == "ok"]
        recent = recent_counts(
            partial(_query, site),
            active,
            needed=recent_needed,
            since=now - timedelta(days=window_days),
            now=now,
        )
        for record in found:
            if record.status == "ok":
                record = _with_recent(record, recent.get(record.name, 0))
            records[aliases.get(record.name, record.name)] = record
            records.setdefault(record.name, record)
    return records


def user_groups(site: Any, names: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each user's groups on this wiki, 50 users per request."""
    groups: dict[str, tuple[str, ...]] = {}
    for batch in _chunks(list(dict.fromkeys(names)), BATCH):
        data = _query(site, action="query", list="users", ususers="|".join(batch), usprop="groups")
        for entry in data.get("query", {}).get("users", []):
            groups[entry.get("name", "")] = tuple(entry.get("groups", ()))
    return groups


def parse_local_user(entry: dict[str, Any]) -> UserRecord:
    """One `list=users` entry (formatversion=2) as a UserRecord."""
    name = entry.get("name", "")
    if entry.get("invalid"):
        return UserRecord(name, status="invalid")
    if entry.get("missing"):
        return UserRecord(name, status="missing")
    if entry.get("hidden"):
        return UserRecord(name, status="hidden")
    blocks: tuple[Block, ...] = ()
    if entry.get("blockid"):
        blocks = (
            Block(
                wiki="",
                by=entry.get("blockedby", ""),
                reason=entry.get("blockreason", ""),
                expiry=entry.get("blockexpiry", "infinite"),
                partial=bool(entry.get("blockpartial", False)),
            ),
        )
    return UserRecord(
        name,
        editcount=int(entry.get("editcount", 0)),
        registration=_timestamp(entry.get("registration")),
        blocks=blocks,
        groups=tuple(entry.get("groups", ())),
        source="local",
    )


def parse_global_user(name: str, info: dict[str, Any]) -> UserRecord:
    """A `meta=globaluserinfo&guiprop=editcount|merged|groups` answer as a UserRecord.

    Accepts both formatversion 1 (flags as empty strings) and 2 (flags as booleans).
    The order of `merged` means nothing: `attached` is sorted busiest wiki first.
    """
    if "missing" in info:
        return UserRecord(name, status="missing", source="central")
    if "hidden" in info and info.get("hidden") is not False:
        return UserRecord(name, status="hidden", source="central")
    merged = [w for w in info.get("merged", []) if isinstance(w, dict)]
    # `registration` is the local account's creation; `timestamp` is only when it was
    # attached to the global account (2008 for accounts older than unification).
    registrations = [_timestamp(w.get("registration") or w.get("timestamp")) for w in merged]
    registrations.append(_timestamp(info.get("registration")))
    known = [r for r in registrations if r is not None]
    attached = sorted(
        (
            AttachedWiki(
                wiki=str(w.get("wiki", "")),
                url=str(w.get("url", "")),
                editcount=_whole(w.get("editcount")),
                label=wiki_label(str(w.get("wiki", "")), str(w.get("url", ""))),
            )
            for w in merged
        ),
        key=lambda a: (-a.editcount, a.wiki),
    )
    labels = {a.wiki: a.label for a in attached}
    blocks = []
    for wiki in merged:
        blocked = wiki.get("blocked")
        if isinstance(blocked, dict):
            blocks.append(
                Block(
                    wiki=labels.get(str(wiki.get("wiki", ""))) or str(wiki.get("wiki", "?")),
                    by="",
                    reason=str(blocked.get("reason", "")),
                    expiry=str(blocked.get("expiry", "infinity")),
                )
            )
    locked = "locked" in info and info.get("locked") is not False
    return UserRecord(
        info.get("name", name),
        editcount=_whole(info.get("editcount")),
        registration=min(known) if known else None,
        wikis=max(1, len(merged)),
        blocks=tuple(sorted(blocks, key=lambda b: b.wiki)),
        locked=locked,
        groups=tuple(info.get("groups", ())),
        source="central",
        attached=tuple(attached),
    )


def wiki_label(wiki: str, url: str) -> str:
    """How a reply names a wiki: its host without the top-level domain ("en.wikipedia"
    for https://en.wikipedia.org), or its database name when the host says nothing
    (an address, localhost). Only letters, digits, dots, hyphens and underscores are
    kept, so a label is safe in wikitext as it is."""
    host = (urlsplit(url).hostname or "").lower() if "://" in url else ""
    if not host or host == "localhost" or _is_address(host):
        label = wiki or host
    else:
        parts = host.removeprefix("www.").split(".")
        label = ".".join(parts[:-1]) if len(parts) > 1 else parts[0]
    return _LABEL_UNSAFE.sub("", label)[:64] or "?"


_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _whole(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def global_user(site: Any, name: str) -> UserRecord:
    data = _query(
        site, action="query", meta="globaluserinfo", guiuser=name, guiprop="editcount|merged|groups"
    )
    return parse_global_user(name, data.get("query", {}).get("globaluserinfo", {}))


def recent_counts(
    query: Callable[..., dict[str, Any]],
    names: Sequence[str],
    *,
    needed: int,
    since: datetime,
    now: datetime,
    max_pages: int = 5,
) -> dict[str, int]:
    """Edits per user since `since`, counted at least up to `needed`, on one wiki.

    `query(**params)` asks that wiki's API (`partial(_query, site)` for the bot's own
    wiki). One batched `list=usercontribs` for all names (at most 50), paged only while
    someone is still short; users it could not reach within `max_pages` continuations
    (a very active neighbour can fill them) get a small query of their own, so nobody
    is refused for someone else's edits.
    """
    counts = {name: 0 for name in names}
    if not names or needed <= 0:
        return counts
    params = {
        "action": "query",
        "list": "usercontribs",
        "ucuser": "|".join(names),
        "ucstart": _iso(now),
        "ucend": _iso(since),
        "uclimit": "max",
        "ucprop": "timestamp",
    }
    complete = True
    for page_number, data in enumerate(_pages(query, params)):
        for contrib in data.get("query", {}).get("usercontribs", []):
            if contrib.get("user") in counts:
                counts[contrib["user"]] += 1
        if "continue" not in data or all(c >= needed for c in counts.values()):
            break
        if page_number + 1 >= max_pages:
            complete = False
            break
    if not complete:
        for name in [n for n, c in counts.items() if c < needed]:
            single = query(
                action="query",
                list="usercontribs",
                ucuser=name,
                ucstart=_iso(now),
                ucend=_iso(since),
                uclimit=needed,
                ucprop="timestamp",
            )
            counts[name] = len(single.get("query", {}).get("usercontribs", []))
    return counts


def _pages(query: Callable[..., dict[str, Any]], params: dict[str, Any]) -> Iterator[dict]:
    params = dict(params)
    while True:
        data = query(**params)
        yield data
        if "continue" not in data:
            return
        params.update(data["continue"])


def _with_recent(record: UserRecord, count: int) -> UserRecord:
    return replace(record, recent_edits=count)


def wiki_id(site: Any) -> str:
    """The wiki's id (siteinfo `wikiid`, e.g. `enwiki`): how CentralAuth names a wiki."""
    with _faults("reading the wiki's site information"):
        return str(site.siteinfo.get("wikiid", "") or "")


# -- plumbing ----------------------------------------------------------------


def _continued(site: Any, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    return _pages(partial(_query, site), params)


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- following changes (used by bot.watch) -------------------------------------
# Added for `ats bot watch`: the watcher asks only *whether* the watched pages
# changed; the clerk's own cycle reads them. Each poll is one request.


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
    data = _query(site, action="query", titles="|".join(titles))
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
    for page_number, data in enumerate(_continued(site, params)):
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
    data = _query(site, **params)
    entries = data.get("query", {}).get("recentchanges", [])
    return (_recent_change(entries[0]) if entries else None), data.get("curtimestamp", "")


def transient_errors() -> tuple[type[BaseException], ...]:
    """pywikibot's own error base, for callers that must survive any wiki failure."""
    import requests
    from pywikibot.exceptions import Error

    return (WikiError, Error, requests.RequestException)


def _recent_change(entry: dict[str, Any]) -> RecentChange:
    return RecentChange(
        rcid=int(entry.get("rcid", 0)),
        timestamp=entry.get("timestamp", ""),
        title=entry.get("title", ""),
        type=entry.get("type", ""),
        revid=int(entry.get("revid", 0)),
    )


# -- talk-page notices (used by bot.renewal) -------------------------------------
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


# -- faults ------------------------------------------------------------------------
# Every pywikibot or network failure leaves this module as one WikiError subclass whose
# message is a single line saying what happened. pywikibot's own retry loop is cut
# short where waiting cannot help: a refused connection fails at once, a silent wiki
# after CONNECT_TIMEOUT / READ_TIMEOUT seconds, a read-only wiki at its first refusal.

_CLASSES: dict[str, Any] = {}


def _site_class() -> type:
    """pywikibot's APISite, making its requests through the fail-fast request classes."""
    if "site" not in _CLASSES:
        from pywikibot.data import api
        from pywikibot.site import APISite

        methods = {"_http_request": _http_request, "_internal_api_error": _internal_api_error}
        plain = type("FailFastRequest", (api.Request,), methods)
        cached = type("FailFastCachedRequest", (api.CachedRequest,), methods)

        def request_class(kwargs: dict[str, Any]) -> type:
            return cached if kwargs.get("expiry") is not None else plain

        _CLASSES["site"] = type(
            "FailFastSite", (APISite,), {"_request_class": staticmethod(request_class)}
        )
    return _CLASSES["site"]


def _http_request(
    self: Any, use_get: bool, uri: str, data: Any, headers: Any, paramstring: str
) -> tuple[Any, bool]:
    """`api.Request._http_request` without its retries for failures waiting cannot mend."""
    import requests
    from pywikibot.comms import http
    from pywikibot.exceptions import Client414Error, FatalServerError, ServerError

    where = _api_url(self.site)
    try:
        response = http.request(
            self.site, uri=uri, method="GET" if use_get else "POST", data=data, headers=headers
        )
    except Client414Error:
        if use_get:  # the URL was too long for a GET: the same request as a POST
            return None, False
        raise
    except FatalServerError as error:
        raise WikiUnreachable(f"cannot reach the wiki at {where}: {_reason(error)}") from error
    except ServerError as error:
        cause = error.args[0] if error.args else None
        if isinstance(cause, requests.Timeout):
            waited = CONNECT_TIMEOUT if isinstance(cause, requests.ConnectTimeout) else READ_TIMEOUT
            raise WikiUnreachable(
                f"the wiki at {where} did not answer within {waited:.0f} s"
            ) from error
        self._ats_server_errors = getattr(self, "_ats_server_errors", 0) + 1
        if self._ats_server_errors > SERVER_ERROR_RETRIES:
            raise WikiServerError(
                f"the wiki at {where} failed {self._ats_server_errors} times in a row "
                f"({_reason(error)}); try again later"
            ) from error
        self.wait()
        return None, use_get
    except (requests.RequestException, OSError) as error:
        raise WikiUnreachable(f"cannot reach the wiki at {where}: {_reason(error)}") from error
    return response, use_get


def _internal_api_error(self: Any, code: str, error: dict[str, Any], result: Any) -> bool:
    """A read-only wiki is said at once; pywikibot would retry it until a timeout.

    Raised as WikiReadOnly, not as pywikibot's APIError: its login swallows those.
    """
    from pywikibot.data import api

    if code == "readonly":
        raise _read_only(error.get("readonlyreason") or error.get("info"))
    return api.Request._internal_api_error(self, code, error, result)


def _read_only(reason: str | None) -> WikiReadOnly:
    said = _line(reason or "") or "no reason given"
    return WikiReadOnly(f"the wiki is read-only, so nothing can be saved: {said}")


@contextlib.contextmanager
def _faults(doing: str) -> Iterator[None]:
    """Turn whatever pywikibot or the network raises into a one-line WikiError."""
    try:
        yield
    except WikiError:
        raise
    except Exception as error:
        classified = _classify(error, doing)
        if classified is None:
            raise
        raise classified from error


def _classify(error: Exception, doing: str) -> WikiError | None:
    import requests
    from pywikibot import config
    from pywikibot.exceptions import APIError, ApiTimeoutError, Error, MaxlagTimeoutError

    if isinstance(error, APIError):
        if error.code == "readonly":
            return _read_only(error.other.get("readonlyreason") or error.info)
        if error.code == "maxlag":
            return WikiLagged(f"{doing}: the wiki is lagged ({_line(error.info)}); try later")
        if error.code in ("assertuserfailed", "assertbotfailed", "assertnameduserfailed"):
            return LoginFailed(f"{doing}: the bot is no longer logged in ({error.code})")
        return WikiError(f"{doing} failed: the wiki refused it ({error.code}: {_line(error.info)})")
    if isinstance(error, MaxlagTimeoutError):
        return WikiLagged(
            f"{doing}: the wiki's replication lag stayed above maxlag "
            f"({config.write_maxlag} s) after {config.max_retries} tries; try again later"
        )
    if isinstance(error, ApiTimeoutError):
        return WikiUnreachable(f"{doing}: the wiki gave no usable answer after repeated tries")
    if isinstance(error, requests.RequestException | OSError):
        return WikiUnreachable(f"{doing}: cannot reach the wiki: {_reason(error)}")
    if isinstance(error, Error):
        return WikiError(f"{doing} failed: {_line(str(error))}")
    return None


def _api_url(site: Any) -> str:
    try:
        return str(site.base_url(site.apipath()))
    except Exception:  # noqa: BLE001 - only a name for the message
        return "its address"


def _reason(error: BaseException) -> str:
    """The useful part of a network error's message, e.g. "connection refused"."""
    text = str(error)
    errno = re.search(r"\[Errno (-?\d+)\] ([^'\")]+)", text)
    if errno:
        return errno.group(2).strip().rstrip(".").lower()
    for marker, said in (
        ("RemoteDisconnected", "it closed the connection without answering"),
        ("Connection aborted", "it closed the connection without answering"),
        ("Connection reset", "the connection was reset"),
        ("certificate verify failed", "its TLS certificate could not be verified"),
    ):
        if marker in text:
            return said
    return _line(text) or type(error).__name__


def _line(text: str) -> str:
    """The first line of `text`, at most 300 characters."""
    first = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return first if len(first) <= 300 else first[:297] + "..."
