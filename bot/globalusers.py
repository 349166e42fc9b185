"""Global accounts under CentralAuth: who a requester is across the wikis, and where
they edit.

On a wiki with CentralAuth (Meta-Wiki in production) a requester's own edits are
mostly elsewhere. `look_up` asks the bot's wiki for each global account
(`meta=globaluserinfo`, one request per user: the API takes one name), which gives
the global edit count, the oldest registration, the lock and a block on any attached
wiki. Recent activity is then counted where the person edits: their attached wikis,
busiest first, each through its own API (the `url` CentralAuth lists, plus the bot's
own script path), in rounds:

- round 1 asks every user's busiest wiki, round 2 the next one of those still short,
  and so on, at most `policy.recent_max_wikis` wikis per user;
- within a round, users who share a wiki are counted by one batched
  `list=usercontribs` (50 names a request), so 50 new requesters whose home is the
  same wiki cost about one request;
- only wikis a user's global account lists are ever asked, and only over http(s);
  one that does not answer is skipped for the rest of the look-up and named in the
  record (`unreachable`), never an error for the whole cycle.

`plan_round` is the pure part; `ForeignWiki` is the small HTTP client for wikis
other than the bot's own (anonymous, read-only, the bot's user agent and timeouts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from bot import wiki
from policies.eligibility import AttachedWiki, EligibilityPolicy, UserRecord

BATCH = wiki.BATCH


@dataclass(frozen=True)
class Ask:
    """One request to make in a round: these users' recent edits on this wiki."""

    wiki: AttachedWiki
    names: tuple[str, ...]


def candidates(record: UserRecord, limit: int) -> tuple[AttachedWiki, ...]:
    """The wikis worth asking for `record`'s recent edits: busiest first, with edits, and
    reachable over http(s); at most `limit`."""
    usable = [a for a in record.attached if a.editcount > 0 and _web_url(a.url)]
    return tuple(usable[:limit])


def plan_round(
    wanted: dict[str, tuple[AttachedWiki, ...]],
    counts: dict[str, int],
    asked: dict[str, int],
    needed: int,
) -> list[Ask]:
    """The next round: each user still short of `needed` at their next wiki, grouped by
    wiki, in chunks of 50 names. Advances `asked` (how many of each user's candidates
    have been used)."""
    by_wiki: dict[str, tuple[AttachedWiki, list[str]]] = {}
    for name, wikis in wanted.items():
        if counts.get(name, 0) >= needed:
            continue
        index = asked.get(name, 0)
        if index >= len(wikis):
            continue
        target = wikis[index]
        asked[name] = index + 1
        by_wiki.setdefault(target.url, (target, []))[1].append(name)
    asks = []
    for url in sorted(by_wiki):
        target, names = by_wiki[url]
        for start in range(0, len(names), BATCH):
            asks.append(Ask(target, tuple(names[start : start + BATCH])))
    return asks


def look_up(
    site: Any,
    names: Sequence[str],
    policy: EligibilityPolicy,
    now: datetime,
    *,
    script_path: str,
    open_wiki: Callable[[str], Callable[..., dict[str, Any]]] | None = None,
) -> dict[str, UserRecord]:
    """Each name's global account, with its recent edits counted across its wikis.

    `script_path` is where api.php lives under each wiki's server ("/w" on Wikimedia's
    wikis; the bot's own wiki tells). `open_wiki(api_url)` returns a query function for
    another wiki (a `ForeignWiki` by default; tests may count requests through it).
    """
    records = {name: wiki.global_user(site, name) for name in dict.fromkeys(names)}
    needed = policy.recent_edits
    ok = {n: r for n, r in records.items() if r.status == "ok"}
    if needed <= 0 or not ok:
        return records
    if open_wiki is None:
        session = requests.Session()  # one connection per wiki for the whole look-up
        open_wiki = lambda api: ForeignWiki(api, session).query  # noqa: E731
    wanted = {n: candidates(r, policy.recent_max_wikis) for n, r in ok.items()}
    counts = {n: 0 for n in ok}
    counted: dict[str, list[str]] = {n: [] for n in ok}
    unreachable: dict[str, list[str]] = {n: [] for n in ok}
    asked: dict[str, int] = {}
    dead: set[str] = set()  # servers that did not answer
    since = now - timedelta(days=policy.recent_window_days)
    while asks := plan_round(wanted, counts, asked, needed):
        for ask in asks:
            if ask.wiki.url in dead:  # silent earlier in this look-up: not asked again
                for name in ask.names:
                    unreachable[name].append(ask.wiki.label)
                continue
            api = api_url(ask.wiki.url, script_path)
            try:
                found = wiki.recent_counts(
                    open_wiki(api), ask.names, needed=needed, since=since, now=now
                )
            except wiki.WikiError:
                dead.add(ask.wiki.url)
                for name in ask.names:
                    unreachable[name].append(ask.wiki.label)
                continue
            for name in ask.names:
                counts[name] += found.get(name, 0)
                counted[name].append(ask.wiki.label)
    for name, record in ok.items():
        records[name] = replace(
            record,
            recent_edits=counts[name],
            counted_on=tuple(counted[name]),
            unreachable=tuple(dict.fromkeys(unreachable[name])),
        )
    return records


def api_url(server: str, script_path: str) -> str:
    """A wiki's api.php from its canonical server (as CentralAuth lists it)."""
    path = script_path.strip("/")
    return server.rstrip("/") + (f"/{path}" if path else "") + "/api.php"


def _web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class ForeignWiki:
    """Anonymous, read-only API queries to another wiki of the farm.

    Every failure is a `wiki.WikiError` (the look-up skips that wiki and names it):
    no answer within the bot's timeouts, an HTTP error, an answer that is not the
    API's JSON, or an API error (a private wiki refuses anonymous reads).
    """

    def __init__(self, api: str, session: requests.Session | None = None) -> None:
        self.api = api
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = wiki.USER_AGENT

    def query(self, **params: Any) -> dict[str, Any]:
        params = {"format": "json", "formatversion": 2, "maxlag": 5, **params}
        host = urlsplit(self.api).netloc
        try:
            response = self.session.get(
                self.api,
                params=params,
                timeout=(wiki.CONNECT_TIMEOUT, wiki.READ_TIMEOUT),
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise wiki.WikiUnreachable(f"{host} did not answer: {type(error).__name__}") from None
        if response.status_code >= 500:
            raise wiki.WikiServerError(f"{host} answered HTTP {response.status_code}")
        if response.status_code != 200:
            raise wiki.WikiError(f"{host} answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise wiki.WikiError(f"{host} did not answer with the API's JSON") from None
        if not isinstance(data, dict):
            raise wiki.WikiError(f"{host} did not answer with the API's JSON")
        refusal = data.get("error")
        if isinstance(refusal, dict):
            raise wiki.WikiError(f"{host} refused: {refusal.get('code', '?')}")
        return data
