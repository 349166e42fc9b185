"""The tool databases' reconciler: brings the server's users and the homes' credentials
files to what the store says, one pass at a time (`ats databases reconcile --fix`, and
`ats databases serve` every few seconds), and rotates a password or drops an account's
databases when an admin asks.

A pass reads the store (`desired.wanted`), the server (`server.Server.users`) and each
home's file (`homes.read`), plans with `plan.plan_all` and applies each step; every step
is one statement or one file written whole, and harmless to repeat, so a pass killed
anywhere leaves what the next pass finishes. A new password is set on the server first
and the file written next: killed between the two, the file (missing or wrong already)
gets a new password at the next pass. Passes, rotations and drops each run while
holding the store's lease `databases` (`membership.lease.ClerkLease`, renewed between
steps), so two never interleave; a holder killed on this host is replaced at once.

A rotation keeps a working file at every moment, though MariaDB 10.11 has no dual
passwords: the user is first accepted with either password (two ways of the same
plugin), then the new file is renamed into place, and only after a grace period (for
clients that read the old file just before) does the old password stop working. Killed
before the rename, the file still holds the old password, which works, and the next pass
takes the unused new one away; killed after it, the next pass takes the old one away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pymysql

from databases import homes as home_files
from databases.credentials import Credentials, text
from databases.desired import Homes, Wanted, wanted
from databases.naming import PERSON, TOOL, USER, native_hash, new_password
from databases.plan import FileSeen, Note, ServerUser, Settings, Step, plan_all
from databases.server import Server, ServerUnavailable
from membership.maintainers import inactive_tools
from policies.errors import NotFound, Refusal

log = logging.getLogger(__name__)

LEASE = "databases"
ROLE = "databases reconciler"
TOOL_USER_PREFIX = "tools."


class Lease(Protocol):
    def renew(self, *, force: bool = False) -> None: ...


class NoLease:
    """For a caller that holds nothing (a test of one step)."""

    def renew(self, *, force: bool = False) -> None:
        return None


@dataclass
class Pass:
    fixed: list[str] = field(default_factory=list)  # each difference made right
    failed: list[str] = field(default_factory=list)  # each that could not be, and why
    notes: list[str] = field(default_factory=list)  # what waits (a home not made yet)


@dataclass
class Seen:
    """Everything a pass reads, before it plans."""

    accounts: list[Wanted]
    users: dict[str, ServerUser]
    files: dict[str, FileSeen]


class Reconciler:
    def __init__(
        self,
        store: Any,
        server: Server,
        homes: Homes,
        settings: Settings,
        *,
        read_file: Callable[[str, int], FileSeen] = home_files.read,
        write_file: Callable[[str, int, str], None] = home_files.write,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.server = server
        self.homes = homes
        self.settings = settings
        self.read_file = read_file
        self.write_file = write_file
        self.sleep = sleep

    # -- reading and planning ----------------------------------------------------

    def read(self) -> Seen:
        accounts = self.accounts()
        users = self.server.users()
        files = {account.user: self.read_file(account.home, account.uid) for account in accounts}
        return Seen(accounts, users, files)

    def plan(self, seen: Seen | None = None) -> tuple[Seen, list[Step], list[Note]]:
        seen = seen or self.read()
        steps, notes = plan_all(seen.accounts, seen.users, seen.files, self.settings)
        return seen, steps, notes

    def drift(self) -> tuple[list[Step], list[Note]]:
        """What a pass would repair, nothing changed."""
        _, steps, notes = self.plan()
        return steps, notes

    # -- a pass --------------------------------------------------------------------

    def converge(self, lease: Lease | None = None) -> Pass:
        """One pass: plan and apply every step (the caller holds the lease)."""
        lease = lease or NoLease()
        seen, steps, notes = self.plan()
        done = Pass(notes=[note.line for note in notes])
        by_user = {account.user: account for account in seen.accounts}
        made: dict[str, str] = {}  # passwords of users created in this pass
        for step in steps:
            lease.renew()
            account = by_user[step.user]
            try:
                self._apply(step, account, made)
            except ServerUnavailable:
                raise  # the pass stops: the next one starts again from what is there
            except (pymysql.err.MySQLError, OSError, Refusal) as error:
                if not step.implied:
                    done.failed.append(f"{step.line}: not fixed: {_said(error)}")
                log.warning("%s: %s", step.line or step.user, _said(error))
                continue
            if step.implied:
                continue
            if step.action == "refused":
                done.failed.append(step.line)
            else:
                done.fixed.append(step.line)
        return done

    def _apply(self, step: Step, account: Wanted, made: dict[str, str]) -> None:
        server, user = self.server, step.user
        action = step.action
        if action == "create":
            password = new_password()
            server.create(
                user,
                native_hash(password),
                locked=not account.active,
                max_connections=self.settings.max_connections,
            )
            made[user] = password
        elif action == "lock":
            server.lock(user)
        elif action == "unlock":
            server.unlock(user)
        elif action == "end_sessions":
            server.end_sessions(user)
        elif action == "revoke_global":
            server.revoke_global(user)
        elif action == "revoke_db":
            server.revoke_database(user, step.target)
        elif action == "revoke_role":
            server.revoke_role(user, step.target)
        elif action == "revoke_other":
            server.revoke_everything(user)
        elif action == "grant":
            server.grant(user)
        elif action == "revoke_grant_option":
            server.revoke_grant_option(user, step.target)
        elif action == "limit":
            server.limit(user, self.settings.max_connections)
        elif action == "new_password":
            password = made.pop(user, "")
            if not password:  # a user made in this pass already has its password
                password = new_password()
                server.set_password(user, native_hash(password))
            self._write(account, password)
        elif action == "rewrite_file":
            self._write(account, step.password)
        elif action == "single_password":
            server.set_password(user, step.password_hash)
        elif action != "refused":
            raise AssertionError(f"unknown step {action}")

    def _write(self, account: Wanted, password: str) -> None:
        credentials = Credentials(account.user, password, self.settings.host, self.settings.port)
        self.write_file(account.home, account.uid, text(credentials))

    # -- what admins ask -------------------------------------------------------------

    def account(self, given: str) -> Wanted:
        """The account `given` names: its database user (`s51234`), a tool (`mytool` or
        `tools.mytool`) or a member's shell name; NotFound otherwise."""
        return find(self.accounts(), given)

    def accounts(self) -> list[Wanted]:
        """Every account the store says must have credentials."""
        return wanted(self.store.accounts(), inactive_tools(self.store), self.homes)

    def rotate(self, account: Wanted, lease: Lease | None = None, *, grace: float = 5.0) -> str:
        """A new password for the account, its file working at every moment; what was
        done, in one line."""
        lease = lease or NoLease()
        user = self.server.users().get(account.user)
        if user is None:
            raise NotFound(f"{account.label} has no database user yet: run a reconcile first")
        seen = self.read_file(account.home, account.uid)
        if seen.state in ("no-home", "home-refused"):
            raise Refusal(f"{account.label}: its home cannot take a file ({seen.state})")
        credentials = seen.credentials if seen.state == "ok" else None
        works = (
            credentials is not None
            and credentials.user == account.user
            and native_hash(credentials.password) in user.hashes
        )
        password = new_password()
        new_hash = native_hash(password)
        if not works:  # nothing works now that must keep working while it changes
            self.server.set_password(account.user, new_hash)
            self._write(account, password)
            return f"{account.label}: a new password (its file did not work), file written"
        assert credentials is not None
        old_hash = native_hash(credentials.password)
        self.server.accept_both(account.user, old_hash, new_hash)
        lease.renew(force=True)
        self._write(account, password)
        self.sleep(grace)  # a client that read the old file just before still logs in
        lease.renew(force=True)
        self.server.set_password(account.user, new_hash)
        return f"{account.label}: a new password, file written before the old one stopped"

    def drop(self, account: Wanted, names: Sequence[str]) -> list[str]:
        """Drop these databases of the account's (what `databases_of` listed); the ones
        dropped."""
        dropped = []
        for name in names:
            self.server.drop_database(name)
            dropped.append(name)
        return dropped

    def databases_of(self, account: Wanted) -> list[str]:
        return self.server.databases(account.user)


def find(accounts: Sequence[Wanted], given: str) -> Wanted:
    """The account `given` names among `accounts` (see `Reconciler.account`)."""
    text_given = given.strip()
    if USER.fullmatch(text_given):
        matches = [account for account in accounts if account.user == text_given]
    else:
        name = text_given.removeprefix(TOOL_USER_PREFIX)
        kinds = (TOOL,) if text_given.startswith(TOOL_USER_PREFIX) else (TOOL, PERSON)
        matches = [a for a in accounts if a.name == name and a.kind in kinds]
    if len(matches) == 1:
        return matches[0]
    if matches:
        users = " or ".join(account.user for account in matches)
        raise Refusal(f"{given!r} names both a tool and a member: give the database user ({users})")
    raise NotFound(
        f"no tool or member with a shell is named {given!r} (give a tool's name, a member's "
        "shell name or a database user such as s51234)"
    )


def _said(error: BaseException) -> str:
    if isinstance(error, pymysql.err.MySQLError) and len(error.args) > 1:
        return str(error.args[1])
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return str(error)
