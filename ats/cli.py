"""The `ats` command line: one console script for every part of the system.

`main(argv)` parses the arguments, loads the configuration (`--config FILE` or
`ATS_CONFIG`) for the commands that need one, runs the command and returns the exit
status: 0 on success, 1 when the work failed (the wiki refused, a cycle gave up),
2 for a usage or configuration error. Errors a user can cause are printed as one
clear line, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ats import config as config_module
from ats.config import Config, ConfigError

DEFAULT_DEVWIKI = Path("var/devwiki")


class UsageError(Exception):
    """A command was called in a way that cannot work; exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ats",
        description="American Toolserver: account requests filed on-wiki, checked, "
        "answered and provisioned.",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="configuration file (TOML); default: $ATS_CONFIG"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on a failure, print the traceback too, and let pywikibot log everything",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    demo = commands.add_parser(
        "demo",
        help="start a local wiki, file sample requests, run the bot, show the result",
        description="The whole job on a throwaway local MediaWiki: start it, seed users and "
        "requests, run one bot cycle, print the page URL and a summary, and keep the "
        "wiki up until interrupted.",
    )
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path("var/demo"),
        help="where the demo wiki and its store live (default: var/demo)",
    )
    demo.add_argument("--port", type=int, help="port for the wiki (default: a free one)")
    demo.add_argument(
        "--no-wait",
        action="store_true",
        help="stop the wiki and exit after the cycle instead of waiting",
    )
    demo.set_defaults(run=_demo, needs_config=False)

    bot = commands.add_parser("bot", help="the on-wiki clerk").add_subparsers(
        dest="bot_command", metavar="BOT_COMMAND", required=True
    )
    run = bot.add_parser(
        "run",
        help="clerk cycles on the request page",
        description="Read the request page, answer new and changed requests in one edit.",
    )
    run.add_argument("--once", action="store_true", help="run one cycle and exit")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the diff the cycle would save; save and record nothing",
    )
    run.add_argument(
        "--interval",
        type=float,
        default=30.0,
        help="seconds between cycles without --once (default 30)",
    )
    _wait_argument(run)
    run.set_defaults(run=_bot_run, needs_config=True)
    watch = bot.add_parser(
        "watch",
        help="follow the request page and answer within seconds (runs until stopped)",
        description="Run a clerk cycle at start, then whenever the request page or the "
        "kill-switch page changes, and at least every --full-cycle seconds. Changes are "
        "found by polling recent changes (one API request per poll) or, with --stream or "
        "[wiki] stream_url, by following Wikimedia EventStreams (falling back to polling "
        "when the stream keeps failing). Where it stopped reading is kept in the store, so "
        "a restart misses nothing. SIGTERM or Ctrl-C stops it cleanly.",
    )
    watch.add_argument(
        "--poll",
        type=_positive,
        default=2.0,
        metavar="SECONDS",
        help="seconds between two recent-changes polls (default 2)",
    )
    watch.add_argument(
        "--full-cycle",
        type=_positive,
        default=600.0,
        metavar="SECONDS",
        help="run a full clerk cycle at least this often, even without edits, for "
        "time-based work such as expiry (default 600)",
    )
    watch.add_argument(
        "--stream",
        metavar="URL",
        help="EventStreams recentchange URL to follow instead of polling "
        "(default: [wiki] stream_url; empty means poll)",
    )
    _wait_argument(watch)
    watch.set_defaults(run=_bot_watch, needs_config=True)

    wiki = commands.add_parser("wiki", help="set up the wiki side").add_subparsers(
        dest="wiki_command", metavar="WIKI_COMMAND", required=True
    )
    install = wiki.add_parser(
        "install-templates",
        help="write the bundled on-wiki templates to the wiki as the bot",
        description="Create or update Template:ATS request, its preload and documentation, "
        "Template:ATS status and the decision templates.",
    )
    install.set_defaults(run=_install_templates, needs_config=True)

    dev = commands.add_parser("devwiki", help="a throwaway local MediaWiki for development")
    dev_commands = dev.add_subparsers(
        dest="devwiki_command", metavar="DEVWIKI_COMMAND", required=True
    )
    for name, helptext in (
        ("start", "create the wiki if needed, seed it, and serve it on 127.0.0.1"),
        ("stop", "stop the wiki's server (the files stay)"),
        ("seed", "create the sample users and their histories (idempotent)"),
        ("status", "say whether the wiki runs, and where"),
    ):
        sub = dev_commands.add_parser(name, help=helptext, description=helptext)
        sub.add_argument(
            "--dir",
            type=Path,
            default=DEFAULT_DEVWIKI,
            help=f"the wiki's folder (default: {DEFAULT_DEVWIKI})",
        )
        sub.add_argument("--port", type=int, help="port when creating (default: a free one)")
        sub.set_defaults(run=_devwiki, needs_config=False)

    bridge = commands.add_parser("bridge", help="the web bridge for requesters and admins")
    bridge_commands = bridge.add_subparsers(
        dest="bridge_command", metavar="BRIDGE_COMMAND", required=True
    )
    serve = bridge_commands.add_parser(
        "serve",
        help="serve the bridge on waitress (default address from [bridge] url)",
        description="Serve the bridge (requesters' gates, the admins' desk, the public "
        "status page) on the waitress WSGI server. Needs ATS_SESSION_KEY and "
        "ATS_OAUTH_SECRET in the environment. Put it behind a TLS-terminating proxy in "
        "production; cookies are marked Secure when [bridge] url is https.",
    )
    serve.add_argument("--host", help="address to listen on (default: the host of [bridge] url)")
    serve.add_argument(
        "--port", type=int, help="port to listen on (default: the port of [bridge] url)"
    )
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    serve.set_defaults(run=_bridge_serve, needs_config=True)

    provision = commands.add_parser("provision", help="create accounts (LDAP, Unix or dry run)")
    provision_commands = provision.add_subparsers(
        dest="provision_command", metavar="PROVISION_COMMAND", required=True
    )
    run_jobs = provision_commands.add_parser(
        "run",
        help="run queued provisioning jobs",
        description="Queue a job for every approved request and run the due jobs with the "
        "[provisioning] backend; failures are retried with back-off.",
    )
    run_jobs.add_argument("--once", action="store_true", help="run the due jobs, then exit")
    run_jobs.add_argument(
        "--poll", type=float, default=5.0, help="seconds between looks when idle (default 5)"
    )
    run_jobs.set_defaults(run=_provision_run, needs_config=True)
    account = provision_commands.add_parser(
        "account",
        help="create (or converge) one person's account directly",
        description="For admins migrating existing members: the same naming rules and backend "
        "as the jobs; running it again converges and never makes a second account.",
    )
    account.add_argument("wiki_user", metavar="WIKIUSER", help="the member's wiki username")
    account.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="FILE",
        help="an SSH public key file (may be given more than once)",
    )
    account.add_argument("--name", help="the shell name, when none can be made from WIKIUSER")
    account.set_defaults(run=_provision_account, needs_config=True)

    report = commands.add_parser(
        "report",
        help="queue, timings, members and the waiver fund",
        description="The open queue by state and the median days to a decision; members "
        "paid, waived, in their grace period or lapsed; what the chapter holds, the waiver "
        "fund, the runway and the surplus beyond the reserve.",
    )
    report.add_argument(
        "--csv",
        metavar="FILE",
        help="also write the report as CSV to FILE ('-': only CSV, to stdout)",
    )
    report.add_argument(
        "--monthly-cost",
        metavar="AMOUNT",
        help="monthly operating cost, e.g. 40.00 (default: the last 365 days' expenses / 12)",
    )
    report.set_defaults(run=_report, needs_config=True)

    purge = commands.add_parser(
        "purge",
        help="forget private data whose retention period is over",
        description="Apply policies/retention.toml (explained in policies/privacy.md): waiver "
        "reasons, identification methods, sessions, login attempts, people whose requests "
        "all ended long ago. Payments and the ledger stay. Safe to run daily.",
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="count what would be forgotten; change nothing"
    )
    purge.set_defaults(run=_purge, needs_config=True)

    # -- operations: doctor (ats/doctor.py), backup, restore (membership/backup.py) --
    commands.add_parser(
        "doctor",
        help="check the deployment: wiki, bot login, pages, templates, bridge, OAuth, "
        "directory, store, clock",
        description="One line per check, ok or FAIL with the fix; exit status 1 when any "
        "check failed. Reads only: nothing is changed on the wiki, in the directory or in "
        "the store.",
    ).set_defaults(run=_doctor, needs_config=True)
    backup = commands.add_parser(
        "backup",
        help="copy the store to FILE, safely while the bot and the bridge write",
        description="Copy the store into FILE with SQLite's online backup API: a consistent "
        "copy even while the bot, the bridge and the worker write. FILE is replaced.",
    )
    backup.add_argument("file", metavar="FILE", type=Path, help="the backup file to write")
    backup.set_defaults(run=_backup, needs_config=True)
    restore = commands.add_parser(
        "restore",
        help="replace the store with the backup FILE",
        description="Check FILE (an ats store, not newer than this version, undamaged) and "
        "copy it over the store, then bring it to the current schema. Refuses an existing "
        "store, and one a running process has open, unless --force.",
    )
    restore.add_argument("file", metavar="FILE", type=Path, help="the backup file to restore")
    restore.add_argument(
        "--force", action="store_true", help="replace an existing (even open) store"
    )
    restore.set_defaults(run=_restore, needs_config=True)

    payments = commands.add_parser("payments", help="membership fee payments")
    payments_commands = payments.add_subparsers(
        dest="payments_command", metavar="PAYMENTS_COMMAND", required=True
    )
    import_csv = payments_commands.add_parser(
        "import",
        help="import a payment processor's CSV export",
        description="The format is in docs/payments-csv.md. Importing the same file again "
        "changes nothing; rows for no known requester and malformed rows are listed with "
        "their line numbers (exit status 1), the others imported.",
    )
    import_csv.add_argument("file", metavar="FILE", help="the CSV file")
    import_csv.add_argument(
        "--by", required=True, metavar="ADMIN", help="who records them (your wiki username)"
    )
    import_csv.set_defaults(run=_payments_import, needs_config=True)

    renewal = commands.add_parser("renewal", help="the yearly membership renewal")
    renewal_commands = renewal.add_subparsers(
        dest="renewal_command", metavar="RENEWAL_COMMAND", required=True
    )
    renewal_run = renewal_commands.add_parser(
        "run",
        help="post due renewal reminders; queue suspensions and restores",
        description="Post each member's due renewal reminder (policies/fees.toml "
        "remind_days_before) on their user talk page, once per year and stage, except where "
        "{{ATS no reminders}} or {{bots}}/{{nobots}} says no; queue a suspend job for members "
        "lapsed after the grace period and a restore job for suspended members who renewed "
        "(`ats provision run` carries them out). Then run `ats members check` (not with "
        "--dry-run). Safe to run daily.",
    )
    renewal_run.add_argument(
        "--dry-run", action="store_true", help="say what would be done; change nothing"
    )
    renewal_run.set_defaults(run=_renewal_run, needs_config=True)

    members = commands.add_parser("members", help="members' standing on the wiki")
    members_commands = members.add_subparsers(
        dest="members_command", metavar="MEMBERS_COMMAND", required=True
    )
    members_commands.add_parser(
        "check",
        help="re-check every member for global locks and blocks (safe to run daily)",
        description="Ask the wiki about every member (subjects of done requests, owners of "
        "person accounts): with CentralAuth, whether they are globally locked or blocked on "
        "any attached wiki; without it, whether they are blocked on this wiki. Each change "
        "is recorded once in the audit log and listed on the admins' desk under 'Members to "
        "review'. It edits nothing on the wiki and suspends nobody: an admin decides. A "
        "member the wiki could not be asked about keeps their previous standing. Safe to "
        "run daily; `ats renewal run` also runs it.",
    ).set_defaults(run=_members_check, needs_config=True)

    cfg = commands.add_parser("config", help="check or describe the configuration")
    cfg_commands = cfg.add_subparsers(
        dest="config_command", metavar="CONFIG_COMMAND", required=True
    )
    cfg_commands.add_parser(
        "check", help="load the configuration and report problems"
    ).set_defaults(run=_config_check, needs_config=True)
    cfg_commands.add_parser(
        "keys", help="list every configuration key with its default"
    ).set_defaults(run=_config_keys, needs_config=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.debug:
        from bot import wiki

        wiki.debug_logging(True)
    config = None
    try:
        config = _load(args) if args.needs_config else None
        return args.run(args, config)
    except (ConfigError, UsageError) as error:
        return _fail(args, error, 2)
    except KeyboardInterrupt:
        print("ats: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - a known failure gets one clear line
        known = _known_failure(error, config)
        if known is None:
            raise
        return _fail(args, known, 1)


def _fail(args: argparse.Namespace, error: BaseException, status: int) -> int:
    """One line on stderr (after the traceback with --debug); the exit status."""
    if args.debug:
        traceback.print_exc()
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"ats: {message}", file=sys.stderr)
    return status


def _known_failure(error: Exception, config: Config | None) -> BaseException | None:
    """`error` if a user can cause it (or its one-line form); None for a bug."""
    import sqlite3

    from ats.devwiki import DevWikiError
    from bot.clerk import ClerkError
    from bot.page import ParseError
    from bot.wiki import WikiError
    from membership.lease import LeaseHeld, LeaseLost
    from membership.storefaults import StoreError, describe
    from provisioning.backend import ProvisioningError
    from provisioning.names import NamingError

    known = (
        WikiError | ClerkError | DevWikiError | ProvisioningError | NamingError | StoreError,
        LeaseHeld | LeaseLost | ParseError,
    )
    if isinstance(error, known):
        return error
    if isinstance(error, sqlite3.Error) and config is not None:
        # Raised while the store was in use (Store itself raises StoreError on opening).
        return describe(error, config.store_path, busy_timeout_ms=10_000)
    return None


def _load(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("ATS_CONFIG")
    if not path:
        raise ConfigError(
            "no configuration: pass --config FILE or set ATS_CONFIG "
            "(`ats config keys` lists what it may hold)"
        )
    return config_module.load_config(path)


# -- commands ---------------------------------------------------------------------


def _bot_run(args: argparse.Namespace, config: Config) -> int:
    from ats import wiring

    if args.dry_run and not args.once:
        raise UsageError("--dry-run needs --once")
    kill_at = wiring.checkpoint_from_env()
    if args.dry_run:  # saves and records nothing: no need to keep other clerks out
        report = wiring.clerk(config, checkpoint=kill_at).run_once(dry_run=True)
        print(report.diff or "(no change)", end="" if report.diff else "\n")
        print(report.summary())
        return 0
    from membership.lease import LeaseLost

    lease = wiring.clerk_lease(config)
    stop = _stop_flag()
    lease.acquire(args.wait)
    try:
        clerk = wiring.clerk(config, checkpoint=kill_at, lease=lease)
        if args.once:
            print(clerk.run_once().summary())
            return 0
        while not stop():
            try:
                print(clerk.run_once().summary(), flush=True)
            except LeaseLost:  # another clerk has the page now: stop, do not fight over it
                raise
            except Exception as error:  # noqa: BLE001 - a known failure waits for the next cycle
                known = _known_failure(error, config)
                if known is None:
                    raise
                if args.debug:
                    traceback.print_exc()
                print(
                    f"ats: {known}; next cycle in {args.interval:g} s", file=sys.stderr, flush=True
                )
            _sleep(args.interval, stop, lease.renew)
        return 0
    finally:
        lease.release()


def _bot_watch(args: argparse.Namespace, config: Config) -> int:
    from ats import wiring
    from bot.watch import StopSignal

    stop = StopSignal()
    stop.install()
    stream = config.wiki.stream_url if args.stream is None else args.stream
    watcher = wiring.watcher(
        config, stop, poll=args.poll, full_cycle=args.full_cycle, stream_url=stream, wait=args.wait
    )
    return watcher.run()


def _install_templates(args: argparse.Namespace, config: Config) -> int:
    from ats import wiring

    changed = wiring.install_templates(config)
    for title, did_change in changed:
        print(f"{'updated' if did_change else 'unchanged'}: {title}")
    return 0


def _devwiki(args: argparse.Namespace, config: None) -> int:
    from ats.devwiki import DevWiki

    root = args.dir.resolve()
    command = args.devwiki_command
    if command == "status":
        if not (root / "devwiki.json").exists():
            print(f"no wiki in {root} (create one with `ats devwiki start --dir {args.dir}`)")
            return 1
        wiki = DevWiki.load(root)
        print(f"{'running' if wiki.running() else 'stopped'}: {wiki.server} ({root})")
        return 0
    if command == "stop":
        DevWiki.load(root).stop()
        print(f"stopped the wiki in {root}")
        return 0
    wiki = DevWiki.create(root, args.port)
    wiki.start()
    if command in ("start", "seed"):
        users = wiki.seed()
        print(f"wiki running at {wiki.server}/index.php (api: {wiki.api_url})")
        print(f"seeded users: {', '.join(sorted(users))}")
        print(f"bot login: {wiki.bot_user}@{wiki.bot_appid} (password in {root}/devwiki.json)")
    return 0


def bridge_settings(config: Config) -> dict[str, Any]:
    """The bridge's settings mapping (see `bridge.settings.BridgeSettings.load`)."""
    return {
        "url": config.bridge.url,
        "oauth_version": config.bridge.oauth_version,
        "consumer_key": config.bridge.consumer_key,
        "oauth_index_url": config.bridge.oauth_index_url,
        "oauth_rest_url": config.bridge.oauth_rest_url,
        "trusted_proxies": config.bridge.trusted_proxies,
        "login_limit": config.bridge.login_limit,
        "login_window_seconds": config.bridge.login_window,
        "wiki_api": config.wiki.api,
        "store_path": str(config.store_path),
        "policy": config.policy,
    }


def _bridge_serve(args: argparse.Namespace, config: Config) -> int:
    import waitress

    from bridge import create_app
    from bridge.settings import BridgeConfigError

    try:
        app = create_app(bridge_settings(config))
    except BridgeConfigError as error:
        raise ConfigError(str(error)) from None
    from membership.store import Store

    Store(config.store_path).close()  # a broken store is told now, in one line, not per page
    address = urlsplit(config.bridge.url)
    host = args.host or address.hostname or "127.0.0.1"
    port = args.port or address.port or (443 if address.scheme == "https" else 80)
    print(f"bridge serving on http://{host}:{port} (public URL {config.bridge.url})", flush=True)
    waitress.serve(
        app,
        host=host,
        port=port,
        threads=args.threads,
        ident="ats-bridge",
        # Behind [bridge] trusted_proxies the app's ProxyFix reads X-Forwarded-*: waitress
        # must pass them on instead of dropping them as untrusted.
        clear_untrusted_proxy_headers=config.bridge.trusted_proxies == 0,
    )
    return 0


def _provisioning_backend(config: Config) -> Any:
    section = config.provisioning
    if section.backend == "ldap":
        from provisioning.ldap import LdapBackend

        password = config_module.secret("ATS_LDAP_PASSWORD")
        return LdapBackend(section.ldap_url, section.base_dn, section.bind_dn, password)
    if section.backend == "unix":
        from provisioning.unix import UnixBackend

        return UnixBackend(section.root or "/", home_mode=int(section.home_mode, 8))
    from provisioning.dryrun import DryRunBackend

    return DryRunBackend(config.store_path.parent / "provisioning-dry-run.jsonl")


def _provision_run(args: argparse.Namespace, config: Config) -> int:
    from membership.store import Store
    from provisioning.worker import enqueue_approved, outcome_line, run_forever, run_once

    store, backend = Store(config.store_path), _provisioning_backend(config)
    section = config.provisioning
    options: dict[str, Any] = {
        "lease_seconds": section.lease_seconds,
        "outage_delay": section.outage_retry_seconds,
    }
    if not args.once:
        run_forever(store, backend, poll=args.poll, **options)
        return 0
    enqueue_approved(store)
    while (outcome := run_once(store, backend, **options)) is not None:
        print(outcome_line(outcome), flush=True)
    return 0


def _provision_account(args: argparse.Namespace, config: Config) -> int:
    from membership.store import Store
    from policies.sshkeys import SSHKeyError, parse_public_key
    from policies.usernames import UsernameError, valid_username
    from provisioning.worker import provision_person

    try:
        valid_username(args.wiki_user)
    except UsernameError as error:
        raise UsageError(str(error)) from None
    keys = []
    for path in args.key:
        try:
            lines = Path(path).read_text("utf-8").splitlines()
        except OSError as error:
            raise ConfigError(f"{path}: cannot read the key file: {error.strerror}") from None
        for line in lines:
            if line.strip():
                try:
                    keys.append(parse_public_key(line).line)
                except SSHKeyError as error:
                    raise ConfigError(f"{path}: {error}") from None
    store, backend = Store(config.store_path), _provisioning_backend(config)
    created = provision_person(store, backend, args.wiki_user, keys, args.name)
    print(f"{created.name}: uid {created.uid}, {len(created.keys)} key(s), owner {created.owner}")
    return 0


def _report(args: argparse.Namespace, config: Config) -> int:
    from datetime import UTC, datetime

    from membership.report import build_report, render_text, to_csv
    from membership.store import Store
    from policies.fees import load_fees
    from policies.money import MoneyError, to_minor

    fees = load_fees()
    cost = None
    if args.monthly_cost is not None:
        try:
            cost = to_minor(args.monthly_cost, fees.currency)
        except MoneyError as error:
            raise UsageError(f"--monthly-cost: {error}") from None
    report = build_report(Store(config.store_path), fees, datetime.now(UTC), monthly_cost=cost)
    if args.csv == "-":
        sys.stdout.write(to_csv(report))
        return 0
    print(render_text(report), end="")
    if args.csv:
        try:
            Path(args.csv).write_text(to_csv(report), "utf-8")
        except OSError as error:
            raise UsageError(f"{args.csv}: cannot write it: {error.strerror}") from None
        print(f"CSV written to {args.csv}")
    return 0


def _purge(args: argparse.Namespace, config: Config) -> int:
    from membership.retention import purge
    from membership.store import Store

    print(purge(Store(config.store_path), dry_run=args.dry_run).summary())
    return 0


def _doctor(args: argparse.Namespace, config: Config) -> int:
    from ats import doctor

    return doctor.report(doctor.run(config), sys.stdout)


def _backup(args: argparse.Namespace, config: Config) -> int:
    from membership.backup import backup

    print(backup(config.store_path, args.file).summary("backed up to"))
    return 0


def _restore(args: argparse.Namespace, config: Config) -> int:
    from membership.backup import restore

    print(restore(args.file, config.store_path, force=args.force).summary("restored"))
    return 0


def _payments_import(args: argparse.Namespace, config: Config) -> int:
    from membership import progress
    from membership.payments_csv import import_payments
    from membership.store import Store
    from policies.eligibility import canonical_username
    from policies.fees import load_fees
    from policies.terms import load_terms

    fees, store, admin = load_fees(), Store(config.store_path), canonical_username(args.by)
    try:
        report = import_payments(store, Path(args.file), admin, policy=fees)
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{args.file}: cannot read it as UTF-8 text: {error}") from None
    version = load_terms().version
    for member in report.members:  # their fee gate may have passed
        progress.advance(store, member, admin, terms_version=version, fees=fees)
    print(report.summary())
    return 0 if report.ok else 1


def _renewal_run(args: argparse.Namespace, config: Config) -> int:
    from ats.wiring import run_renewal

    report = run_renewal(config, dry_run=args.dry_run)
    print(report.summary(), flush=True)
    status = 1 if report.errors else 0
    if args.dry_run:  # the check records what it finds: not part of a dry run
        return status
    # The renewal's own result is printed and kept whatever happens to the check.
    try:
        return max(status, _members_check(args, config))
    except Exception as error:  # noqa: BLE001 - a known failure gets one line, like main's
        known = _known_failure(error, config)
        if known is None:
            raise
        _fail(args, ValueError(f"members check: {' '.join(str(known).split())}"), 1)
        return 1


def _members_check(args: argparse.Namespace, config: Config) -> int:
    from ats.wiring import check_members

    print(check_members(config).summary())
    return 0


def _config_check(args: argparse.Namespace, config: Config) -> int:
    print(f"{config.path}: OK (request page {config.wiki.request_page} on {config.wiki.api})")
    missing = [name for name in ("ATS_BOT_PASSWORD",) if not os.environ.get(name)]
    for name in missing:
        print(f"note: {name} is not set; the bot cannot log in without it")
    return 0


def _config_keys(args: argparse.Namespace, config: None) -> int:
    print(config_module.describe())
    return 0


def _demo(args: argparse.Namespace, config: None) -> int:
    from ats import demo

    return demo.run(args.dir.resolve(), port=args.port, wait=not args.no_wait)


# -- helpers ----------------------------------------------------------------------


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def _wait_argument(parser: argparse.ArgumentParser) -> None:
    from membership.lease import DEFAULT_TTL, DEFAULT_WAIT

    parser.add_argument(
        "--wait",
        type=_not_negative,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help="when another clerk works on the same page with the same store, wait this "
        f"long for it to finish before giving up with exit status 1 (default "
        f"{DEFAULT_WAIT:.0f}; a clerk that died stops blocking at once on the same host, "
        f"after {DEFAULT_TTL:.0f} s from another)",
    )


def _not_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 seconds or more, not {text}")
    return value


def _stop_flag() -> Callable[[], bool]:
    stopping = {"now": False}

    def handler(signum: int, frame: object) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return lambda: stopping["now"]


def _sleep(seconds: float, stop: Callable[[], bool], meanwhile: Callable[[], None]) -> None:
    deadline = time.monotonic() + seconds
    while not stop() and time.monotonic() < deadline:
        meanwhile()
        time.sleep(max(0.0, min(0.2, deadline - time.monotonic())))


if __name__ == "__main__":
    sys.exit(main())
