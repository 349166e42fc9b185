"""The daily re-check of members, on the wiki: are they locked or blocked now?

`check` asks the wiki the bot runs on about every member (`membership.renewal.members`):
with CentralAuth, `meta=globaluserinfo` for each (the lock and every attached wiki's
block); without it, `list=users` 50 names per request (the local sitewide block). What
it finds goes to `membership.standing.record`, which keeps it and audits each change
once. A member whose look-up failed keeps their previous standing and is reported as
not reachable. Nothing is edited on the wiki and nobody is suspended: admins see the
result on their desk and decide.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot import wiki
from membership import standing
from membership.renewal import members
from membership.store import Store
from policies.eligibility import UserRecord


def check(site: Any, store: Store, *, now: datetime | None = None) -> standing.CheckReport:
    """Re-check every member. Raises WikiError only when the wiki cannot be asked at all."""
    names = members(store)
    report = standing.CheckReport()
    if not names:
        return report
    central = wiki.has_central_auth(site)
    home = wiki.wiki_id(site)
    for start in range(0, len(names), 1 if central else wiki.BATCH):
        batch = names[start : start + (1 if central else wiki.BATCH)]
        try:
            records = _look_up(site, batch, central=central, now=now)
        except wiki.WikiUnreachable as error:
            # The wiki went away: asking about the others would only wait again.
            rest = names[start:]
            report.unreachable += rest
            report.errors.append(f"{_names(rest)}: {error}")
            break
        except wiki.WikiError as error:
            report.unreachable += batch
            report.errors.append(f"{_names(batch)}: {error}")
            continue
        for name in batch:
            found = records.get(name)
            if found is None:  # the wiki said nothing about this name: keep what we knew
                report.unreachable.append(name)
                report.errors.append(f"{name}: the wiki's answer did not mention this account")
                continue
            report.add(standing.record(store, name, standing.findings_of(found, home_wiki=home)))
    return report


def _look_up(
    site: Any, names: list[str], *, central: bool, now: datetime | None
) -> dict[str, UserRecord]:
    if central:
        return {name: wiki.global_user(site, name) for name in names}
    return wiki.local_users(
        site, names, recent_needed=0, window_days=0, now=now or datetime.now(UTC)
    )


def _names(names: list[str], shown: int = 5) -> str:
    """Names for one line of the report: the first few and how many more."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"
