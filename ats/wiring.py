"""Wiring: building the bot's parts from a Config.

The composition root's one job: open the store, configure and log in the
pywikibot site, and hand them to the clerk with the policy and vocabulary the
configuration names. Nothing here decides anything.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ats.config import Config, secret
from bot import wiki
from bot.clerk import STEPS, Clerk, ClerkSettings
from bot.rules import page
from bot.rules.templates import bundled_templates
from bot.watch import StopSignal, Watcher, WatchSettings
from membership.lease import ClerkLease
from membership.store import Store

if TYPE_CHECKING:
    from bot.reminders import RenewalReport
    from membership.standing import CheckReport
    from policies.fees import FeePolicy


def site(config: Config, *, log_in: bool = True) -> Any:
    login_name = config.bot.username
    password = secret("ATS_BOT_PASSWORD") if log_in else ""
    the_site = wiki.open_site(
        config.wiki.api,
        config.bot_workdir,
        login_name,
        maxlag=config.bot.maxlag,
    )
    if log_in:
        wiki.login(the_site, login_name, password)
    return the_site


class _LazySite:
    """Logs in on first use: a cycle that finds nothing new never needs to."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._site = site(config, log_in=False)
        self._password = secret("ATS_BOT_PASSWORD")
        self._logged_in = False

    def __getattr__(self, name: str) -> Any:
        # Reads are anonymous-safe; only a save (token, assertuser) needs the login.
        if name in ("tokens", "user") and not self._logged_in:
            wiki.login(self._site, self._config.bot.username, self._password)
            self._logged_in = True
        return getattr(self._site, name)


def settings(config: Config) -> ClerkSettings:
    vocab = page.Vocabulary(
        request_template=config.wiki.request_template,
        status_template=config.wiki.status_template,
        request_prefixes=tuple(config.wiki.request_prefixes),
    )
    return ClerkSettings(
        page=config.wiki.request_page,
        run_page=config.wiki.run_page,
        bot_user=config.bot.username.partition("@")[0],
        bridge_url=config.bridge.url,
        policy=config.policy,
        vocab=vocab,
        user_cache=timedelta(hours=float(config.bot.user_cache_hours)),
        expire_after_days=config.wiki.expire_after_days,
        archive_after_days=config.wiki.archive_after_days,
        backlog_days=config.wiki.backlog_days,
        login_host=config.provisioning.login_host,
        edit_interval=float(config.bot.edit_interval),
        progress_settle=float(config.bot.progress_settle),
    )


def clerk(
    config: Config,
    *,
    checkpoint: Callable[[str], None] | None = None,
    lease: ClerkLease | None = None,
) -> Clerk:
    """The clerk; with `lease`, every step of a cycle also renews it (a long cycle
    keeps it, and a clerk that lost it stops before saving)."""
    store = lease.store if lease is not None else Store(config.store_path)
    if lease is not None:
        checkpoint = _renewing(lease, checkpoint)
    return Clerk(_LazySite(config), store, settings(config), now=_wall_clock, checkpoint=checkpoint)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def clerk_lease(config: Config) -> ClerkLease:
    """This process's (not yet taken) lease on the request page, in the store."""
    return ClerkLease(Store(config.store_path), config.wiki.request_page)


def _renewing(lease: ClerkLease, then: Callable[[str], None] | None) -> Callable[[str], None]:
    def checkpoint(step: str) -> None:
        lease.renew()
        if then is not None:
            then(step)

    return checkpoint


def watcher(
    config: Config,
    stop: StopSignal,
    *,
    poll: float,
    full_cycle: float,
    stream_url: str,
    wait: float,
    lease: ClerkLease | None = None,
) -> Watcher:
    """The watcher; every clerk it makes shares `lease` (made here when not given) and its
    store, which the caller closes."""
    settings = WatchSettings(
        poll=poll, full_cycle=full_cycle, stream_url=stream_url, api_url=config.wiki.api
    )
    kill_at = checkpoint_from_env()
    lease = lease if lease is not None else clerk_lease(config)
    return Watcher(
        lambda: clerk(config, checkpoint=kill_at, lease=lease),
        settings,
        stop,
        lease=lease,
        lease_wait=wait,
    )


def install_templates(config: Config) -> list[tuple[str, bool]]:
    the_site = site(config)
    return [
        (
            t.title,
            wiki.create_or_replace(
                the_site, t.title, t.text, "American Toolserver: install bundled template"
            ),
        )
        for t in bundled_templates()
    ]


def checkpoint_from_env(steps: tuple[str, ...] = STEPS) -> Callable[[str], None] | None:
    """`ATS_KILL_AT=STEP` makes the process kill itself (SIGKILL) at that step of a cycle.

    It exists to prove crash safety with real process deaths; it is never set in
    production.
    """
    step = os.environ.get("ATS_KILL_AT", "")
    if not step:
        return None
    if step not in steps:
        raise ValueError(f"ATS_KILL_AT must be one of {', '.join(steps)}")

    def checkpoint(reached: str) -> None:
        if reached == step:
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


def run_renewal(
    config: Config,
    *,
    today: date | None = None,
    dry_run: bool = False,
    fees: FeePolicy | None = None,
    site_factory: Callable[[Config], Any] | None = None,
) -> RenewalReport:
    """`ats renewal run`: post due reminders, queue suspensions and restores.

    `today` defaults to the current UTC date (tests move the clock); `fees` to the
    bundled policies/fees.toml. A dry run reads the wiki anonymously and writes nothing.
    """
    from datetime import UTC, datetime

    from bot.reminders import STEPS as RENEWAL_STEPS
    from bot.reminders import RenewalSettings
    from bot.reminders import run as renewal_run
    from policies.fees import load_fees

    today = today or datetime.now(UTC).date()

    def connect() -> Any:  # only when a reminder is due: the account side needs no wiki
        if site_factory is not None:
            return site_factory(config)
        return site(config, log_in=False) if dry_run else _LazySite(config)

    settings = RenewalSettings(
        bot_user=config.bot.username.partition("@")[0], bridge_url=config.bridge.url
    )
    store = Store(config.store_path)
    try:
        return renewal_run(
            connect,
            store,
            fees or load_fees(),
            settings,
            today,
            dry_run=dry_run,
            checkpoint=checkpoint_from_env(RENEWAL_STEPS),
        )
    finally:
        store.close()


def check_members(
    config: Config,
    *,
    now: datetime | None = None,
    site_factory: Callable[[Config], Any] | None = None,
) -> CheckReport:
    """`ats members check`: ask the wiki whether any member is now locked or blocked.

    It only reads the wiki, anonymously (no bot password needed), and records what it
    finds in the store for the admins; it edits nothing and suspends nobody.
    """
    from bot.standing import check

    the_site = site_factory(config) if site_factory is not None else site(config, log_in=False)
    store = Store(config.store_path)
    try:
        return check(the_site, store, now=now)
    finally:
        store.close()
