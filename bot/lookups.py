"""Looking users up for the clerk: the store's cache first, then the wiki.

The records judging needs (`bot.rules.judging.lookups_needed`) come from the store's user
cache while it is fresh, else from the wiki in batches: the local wiki's users, or
CentralAuth's global accounts with their edits counted on every attached wiki
(`bot.globalusers`). A failed look-up is a string saying why, so the request waits for
the next cycle instead of being judged on a guess; a partial count is not cached.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot import globalusers, wiki
from bot.rules.settings import ClerkSettings
from membership.store import Store
from policies.eligibility import AttachedWiki, Block, EligibilityPolicy, UserRecord


def users(
    site: Any,
    store: Store,
    settings: ClerkSettings,
    names: list[str],
    now: datetime,
    *,
    fresh: bool = False,
) -> dict[str, UserRecord | str]:
    """UserRecords by name, from the cache or the wiki; a string where it failed.
    `fresh` skips the cache (a recheck)."""
    s = settings
    found: dict[str, UserRecord | str] = {}
    if not fresh:
        for name in names:
            cached = store.cached_user(name, s.user_cache)
            if cached is not None:
                found[name] = _record_from_cache(cached)
    wanted = [n for n in dict.fromkeys(names) if n not in found]
    if not wanted:
        return found
    try:
        fetched = _fetch_users(site, s.policy, wanted, now)
    except wiki.WikiError as error:
        return found | {n: f"the wiki did not answer the user look-up: {error}" for n in wanted}
    for name in wanted:
        record = fetched.get(name) or UserRecord(name, status="missing")
        found[name] = record
        if not record.unreachable:  # a partial count is asked again next time
            store.cache_user(name, _record_to_cache(record))
    return found


def _fetch_users(
    site: Any, policy: EligibilityPolicy, names: list[str], now: datetime
) -> dict[str, UserRecord]:
    if not wiki.has_central_auth(site):
        return wiki.local_users(
            site,
            names,
            recent_needed=policy.recent_edits,
            window_days=policy.recent_window_days,
            now=now,
        )
    return globalusers.look_up(site, names, policy, now, script_path=wiki.script_path(site))


def _record_to_cache(record: UserRecord) -> dict[str, Any]:
    data = dict(record.__dict__)
    data["registration"] = record.registration.isoformat() if record.registration else None
    data["blocks"] = [b.__dict__ for b in record.blocks]
    data["attached"] = [a.__dict__ for a in record.attached]
    for key in ("groups", "counted_on", "unreachable"):
        data[key] = list(data[key])
    return data


def _record_from_cache(data: dict[str, Any]) -> UserRecord:
    values = dict(data)
    if values.get("registration"):
        values["registration"] = datetime.fromisoformat(values["registration"])
    values["blocks"] = tuple(Block(**b) for b in values.get("blocks", []))
    values["attached"] = tuple(AttachedWiki(**a) for a in values.get("attached", []))
    for key in ("groups", "counted_on", "unreachable"):
        values[key] = tuple(values.get(key, ()))
    known = set(UserRecord.__dataclass_fields__)
    return UserRecord(**{k: v for k, v in values.items() if k in known})
