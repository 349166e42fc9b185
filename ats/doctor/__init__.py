"""`ats doctor`: check a deployment end to end, one line per check, a fix for each failure.

Each check asks the real thing — the wiki's API (plain HTTP, as any client would),
the directory, the store's file — and returns a `Check`: ok, failed (with the line
that says what to change) or skipped (when a check it depends on failed, e.g. no
page can be read from a wiki that does not answer). Nothing is changed anywhere: the
store is opened read-only (opening it as a `Store` would apply migrations), the wiki
is only read and logged in to, the directory is only bound and searched.

`run` returns the checks in order; `report` prints them and gives the exit status,
1 when any failed. The checks live by what they ask: `wiki` (the wiki's API, the
bot's login, the pages, the clock) and `local` (the bridge's URL, OAuth, the
directory, the store); `check` holds their common outcome.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TextIO

import requests

from ats.config import Config
from ats.doctor.check import Check, failed, passed, skipped
from ats.doctor.local import check_bridge_url, check_directory, check_oauth, check_store
from ats.doctor.wiki import (
    NotAnApi,
    WikiProbe,
    check_api,
    check_bot_login,
    check_clock,
    check_pages,
    check_templates,
)

__all__ = [
    "Check",
    "check_api",
    "check_bot_login",
    "check_bridge_url",
    "check_clock",
    "check_directory",
    "check_oauth",
    "check_pages",
    "check_store",
    "check_templates",
    "failed",
    "passed",
    "report",
    "run",
    "skipped",
]


def run(
    config: Config,
    environ: Mapping[str, str] | None = None,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Check]:
    env = os.environ if environ is None else environ
    probe = WikiProbe(config.wiki.api)
    checks = [check_api(probe, config)]
    reachable = checks[0].ok is True
    if reachable:
        checks.append(_asking_wiki("bot login", lambda: check_bot_login(probe, config, env)))
        checks.extend(
            _asking_wiki_many(
                ("request page", "kill switch"), lambda: list(check_pages(probe, config))
            )
        )
        checks.append(_asking_wiki("templates", lambda: check_templates(probe)))
    else:
        because = "the wiki's API does not answer"
        for name in ("bot login", "request page", "kill switch", "templates"):
            checks.append(skipped(name, because))
    checks.append(check_bridge_url(config))
    checks.append(check_oauth(config, env))
    checks.append(check_directory(config, env))
    checks.append(check_store(config.store_path))
    checks.append(check_clock(probe, now()))
    return checks


def _asking_wiki(name: str, check: Callable[[], Check]) -> Check:
    return _asking_wiki_many((name,), lambda: [check()])[0]


def _asking_wiki_many(names: tuple[str, ...], checks: Callable[[], list[Check]]) -> list[Check]:
    """The checks, or one failure each when the wiki stops answering in the middle."""
    try:
        return checks()
    except (requests.RequestException, NotAnApi, KeyError, TypeError) as error:
        why = f"the wiki answered unexpectedly ({type(error).__name__}: {error})"
        return [
            failed(name, why, "run `ats doctor` again; if it persists, check the wiki")
            for name in names
        ]


def report(checks: list[Check], out: TextIO) -> int:
    for check in checks:
        for line in check.lines():
            print(line, file=out)
    failures = sum(1 for check in checks if check.ok is False)
    print(
        f"{failures} of {len(checks)} checks failed" if failures else "all checks passed", file=out
    )
    return 1 if failures else 0
