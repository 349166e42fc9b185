"""Looking accounts up: the local wiki's users, CentralAuth's global accounts, groups.

Batched 50 names a query. `local_users` and `global_user` return
`policies.eligibility.UserRecord`s (parsed by `parse_local_user`/`parse_global_user`),
with recent edits counted by `recent_counts` on whichever wiki's API it is given;
`user_groups` gives the groups a decision's author holds.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from bot.wiki.site import (
    BATCH,
    ask,
    chunks,
    faults,
    paged,
    parse_time,
)
from policies.eligibility import AttachedWiki, Block, UserRecord
from policies.times import iso


def has_central_auth(site: Any) -> bool:
    with faults("reading the wiki's extensions"):
        return bool(site.has_extension("CentralAuth"))


def script_path(site: Any) -> str:
    """Where api.php lives under the server ("/w" on Wikimedia's wikis, "" here)."""
    return str(site.family.scriptpath(site.code) or "")


def local_users(
    site: Any, names: Sequence[str], *, recent_needed: int, window_days: int, now: datetime
) -> dict[str, UserRecord]:
    """`list=users` 50 at a time, then recent activity from `list=usercontribs`."""
    records: dict[str, UserRecord] = {}
    for batch in chunks(list(dict.fromkeys(names)), BATCH):
        data = ask(
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
            partial(ask, site),
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
    for batch in chunks(list(dict.fromkeys(names)), BATCH):
        data = ask(site, action="query", list="users", ususers="|".join(batch), usprop="groups")
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
        registration=parse_time(entry.get("registration")),
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
    registrations = [parse_time(w.get("registration") or w.get("timestamp")) for w in merged]
    registrations.append(parse_time(info.get("registration")))
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
    data = ask(
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

    `query(**params)` asks that wiki's API (`partial(ask, site)` for the bot's own
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
        "ucstart": iso(now, zulu=True),
        "ucend": iso(since, zulu=True),
        "uclimit": "max",
        "ucprop": "timestamp",
    }
    complete = True
    for page_number, data in enumerate(paged(query, params)):
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
                ucstart=iso(now, zulu=True),
                ucend=iso(since, zulu=True),
                uclimit=needed,
                ucprop="timestamp",
            )
            counts[name] = len(single.get("query", {}).get("usercontribs", []))
    return counts


def _with_recent(record: UserRecord, count: int) -> UserRecord:
    return replace(record, recent_edits=count)


def content_language(site: Any) -> str:
    """The wiki's content language (siteinfo `lang`, e.g. `de`), English when unset."""
    with faults("reading the wiki's site information"):
        return str(site.siteinfo.get("lang", "") or "en")


def wiki_id(site: Any) -> str:
    """The wiki's id (siteinfo `wikiid`, e.g. `enwiki`): how CentralAuth names a wiki."""
    with faults("reading the wiki's site information"):
        return str(site.siteinfo.get("wikiid", "") or "")
