"""`ats provision run`, `reconcile`, `account` and `tool`: accounts made by the configured
backend (LDAP, Unix or a dry run)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

from ats import config as config_module
from ats.config import Config, ConfigError
from ats.failures import UsageError


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    provision = commands.add_parser("provision", help="create accounts (LDAP, Unix or dry run)")
    provision_commands = provision.add_subparsers(
        dest="provision_command", metavar="PROVISION_COMMAND", required=True
    )
    run_jobs = provision_commands.add_parser(
        "run",
        help="run queued provisioning jobs",
        description="Queue a job for every approved request and run the due jobs with the "
        "[provisioning] backend; failures are retried with back-off. SIGTERM or Ctrl-C stops "
        "it after the job in hand.",
    )
    run_jobs.add_argument("--once", action="store_true", help="run the due jobs, then exit")
    run_jobs.add_argument(
        "--poll", type=float, default=5.0, help="seconds between looks when idle (default 5)"
    )
    run_jobs.set_defaults(run=_provision_run, needs_config=True)
    reconcile = provision_commands.add_parser(
        "reconcile",
        help="compare the directory with the store; report (and --fix) drift",
        description="One line per drift: a key added by hand, a shell changed, suspended in "
        "one but not the other, an account missing, a stray group member. Exit status 0 when "
        "there is none (or all was fixed), 1 otherwise.",
    )
    reconcile.add_argument("--fix", action="store_true", help="repair the drift found")
    reconcile.set_defaults(run=_provision_reconcile, needs_config=True)
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
    tool = provision_commands.add_parser(
        "tool",
        help="create (or converge) a tool account directly",
        description="A tool as on Toolforge: the service user and group tools.NAME, its "
        "maintainers in the group, the sudo rule that lets them `become` it, and its home "
        "under [provisioning] tool_home_root. The same naming rules as tool requests; every "
        "maintainer must hold a shell account. Running it again converges; the maintainers "
        "given replace the tool's earlier ones.",
    )
    tool.add_argument("name", metavar="NAME", help="the tool's name (its user is tools.NAME)")
    tool.add_argument(
        "--maintainer",
        action="append",
        default=[],
        required=True,
        metavar="USER",
        help="a maintainer's wiki username (give it once per maintainer)",
    )
    tool.set_defaults(run=_provision_tool, needs_config=True)


def _provisioning_backend(config: Config) -> Any:
    section = config.provisioning
    person_home, tool_home = section.person_home, section.tool_home
    if section.backend == "ldap":
        from provisioning.ldap import LdapBackend

        password = config_module.secret("ATS_LDAP_PASSWORD")
        return LdapBackend(
            section.ldap_url,
            section.base_dn,
            section.bind_dn,
            password,
            person_home=person_home,
            tool_home=tool_home,
            id_range=(section.uid_min, section.uid_max),
            local_names=frozenset(section.reserved_names) | local_accounts(),
        )
    if section.backend == "unix":
        from provisioning.unix import UnixBackend

        return UnixBackend(
            section.root or "/",
            home_mode=int(section.home_mode, 8),
            person_home=person_home,
            tool_home=tool_home,
        )
    from provisioning.dryrun import DryRunBackend

    return DryRunBackend(config.store_path.parent / "provisioning-dry-run.jsonl")


def local_accounts(etc: Path = Path("/etc")) -> frozenset[str]:
    """The users and groups this machine has in its own files (not through SSSD): a
    login host built like it has them too, and a member must never get one."""
    names: set[str] = set()
    for database in ("passwd", "group"):
        try:
            lines = (etc / database).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        names.update(line.split(":", 1)[0] for line in lines if ":" in line)
    return frozenset(names)


def _provision_run(args: argparse.Namespace, config: Config) -> int:
    from membership.store import Store
    from provisioning.worker import enqueue_approved, outcome_line, run_forever, run_once

    section = config.provisioning
    options: dict[str, Any] = {
        "lease_seconds": section.lease_seconds,
        "outage_delay": section.outage_retry_seconds,
    }
    with contextlib.closing(Store(config.store_path)) as store:
        backend = _provisioning_backend(config)
        stop = StopSignal().install()
        after = _tools_waiting(store)
        if args.once:
            while not stop.is_set():
                enqueue_approved(store)
                outcome = run_once(store, backend, **options)
                if outcome is None:
                    break
                print(outcome_line(outcome), flush=True)
                after(outcome)
        else:
            every = section.reconcile_seconds
            run_forever(
                store,
                backend,
                poll=args.poll,
                stop=stop,
                reconcile_seconds=every,
                after=after,
                **options,
            )
    if stop.is_set():
        print(f"provision: stopped on {stop.by}, no job left running", file=sys.stderr)
    return 0


def _tools_waiting(store: Any) -> Any:
    """What runs after each job: a new account may be the last maintainer an approved
    tool request waited for, so its requester's open requests are looked at again (the
    tool's job is then queued at once, not at the requester's next step)."""
    from membership import progress
    from policies.fees import load_fees
    from policies.terms import load_terms
    from provisioning.worker import Outcome

    fees, version = load_fees(), load_terms().version

    def after(outcome: Outcome) -> None:
        job = outcome.job
        if not outcome.ok or outcome.account is None or job.request_id is None:
            return
        record = store.request_by_id(job.request_id)
        if record is not None and record.type != "tool" and record.subject:
            progress.advance(
                store, record.subject, "provisioning", terms_version=version, fees=fees
            )

    return after


class StopSignal:
    """Set by SIGTERM (systemd's stop) or SIGINT (Ctrl-C), naming the signal.

    The handler only records the signal: a job in hand runs to its end (a directory
    call the signal arrives in is resumed, not broken off) and the worker stops before
    taking the next, so a stop never leaves a job `running` until its lease lapses.
    It takes no lock either (setting a `threading.Event` could wait forever on the
    lock the interrupted code holds), so an idle wait looks at it every 0.2 s."""

    def __init__(self) -> None:
        self.by = ""

    def install(self) -> StopSignal:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.by = signal.Signals(signum).name

    def is_set(self) -> bool:
        return bool(self.by)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.by and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(0.2, left))
        return self.is_set()


def _provision_reconcile(args: argparse.Namespace, config: Config) -> int:
    from membership.store import Store
    from provisioning.reconcile import reconcile

    with contextlib.closing(Store(config.store_path)) as store:
        backend = _provisioning_backend(config)
        drifts = reconcile(store, backend, fix=args.fix, log=lambda line: print(line, flush=True))
    left = [d for d in drifts if not d.fixed]
    if args.fix and drifts:
        print(f"{len(drifts)} drift(s), {len(drifts) - len(left)} fixed")
    elif not drifts:
        print("no drift: the directory matches the store")
    return 1 if left else 0


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
    with contextlib.closing(Store(config.store_path)) as store:
        backend = _provisioning_backend(config)
        created = provision_person(store, backend, args.wiki_user, keys, args.name)
    print(f"{created.name}: uid {created.uid}, {len(created.keys)} key(s), owner {created.owner}")
    return 0


def _provision_tool(args: argparse.Namespace, config: Config) -> int:
    from membership.store import Store
    from policies.usernames import UsernameError, valid_username
    from provisioning.worker import provision_tool

    for user in args.maintainer:
        try:
            valid_username(user)
        except UsernameError as error:
            raise UsageError(str(error)) from None
    with contextlib.closing(Store(config.store_path)) as store:
        backend = _provisioning_backend(config)
        tool = provision_tool(store, backend, args.name, args.maintainer, by="ats provision tool")
    members = ", ".join(tool.members) or "none in good standing"
    print(f"{tool.login}: uid {tool.uid}, home {tool.home}, maintainers {members}")
    return 0
