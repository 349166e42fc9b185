"""What to do about each account's database user and credentials file, decided from plain
data: the account as the store wants it (`Wanted`), its user as the server has it
(`ServerUser`, None when missing) and its file as the home holds it (`FileSeen`).

`plan` returns the steps, each with the one line that says the difference it repairs
(`ats databases reconcile` prints them), in the order they must be applied:

1. `create` a missing user (its lock, connection limit and grant at once), or `lock`
   / `unlock` it to match the account (a lock also ends the user's open connections,
   and a locked user's connections are ended when any remain: `end_sessions`);
2. take away what it holds beyond its own databases (`revoke_global`, `revoke_db`,
   `revoke_role`, `revoke_other` for table, column or routine grants) and `grant` it
   all of its own (never with the grant option: `revoke_grant_option`);
3. its connection limit (`limit`);
4. the file: a file whose password works (the server's hash is that password's) is
   kept — rewritten with the same password when it names the wrong user, host or port,
   or is not the account's 0400 regular file (`rewrite_file`); a password the server
   accepts beside the file's (a rotation cut short) stops working (`single_password`);
   a missing or wrong file gets a new password (`new_password`: the server first, then
   the file). Nothing is done to a file whose home is missing (`Note`: the file is
   written once the home exists) or is not the account's own (a refusal, said).

Keeping a working password is what keeps copies of it (a tool's own configuration)
working; a lost file cannot be rewritten with the old password, which the server keeps
only as a hash, so it gets a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from databases.credentials import MODE, Credentials
from databases.desired import Wanted
from databases.naming import grant_pattern, native_hash, quoted_identifier

# What a home's file is: `ok` (a regular file of the account's, read), `missing`, `link`
# (a symbolic link, never followed), `not-a-file` (a folder, a pipe, a device, another
# owner's or a linked file: never read), `unreadable`; or the home itself is `no-home`
# (not made yet) or `home-refused` (a link, or not the account's).
FILE_STATES = ("ok", "missing", "link", "not-a-file", "unreadable", "no-home", "home-refused")


@dataclass(frozen=True)
class ServerUser:
    """A database user as the server has it (host `%`)."""

    user: str
    hashes: tuple[str, ...]  # the mysql_native_password hashes it accepts ("" for another plugin)
    locked: bool = False
    global_access: int = 0  # privileges ON *.* (a bitmask: 0 is USAGE)
    databases: Mapping[str, tuple[bool, bool]] = field(default_factory=dict)
    # ^ mysql.db's patterns: (every privilege held, the grant option held)
    other_grants: int = 0  # table, column and routine grants
    roles: tuple[str, ...] = ()
    max_connections: int = 0
    sessions: int = 0  # connections open now


@dataclass(frozen=True)
class FileSeen:
    state: str  # one of FILE_STATES
    credentials: Credentials | None = None  # when `ok` and parsed
    mode: int = MODE
    detail: str = ""  # what the home said when refused


@dataclass(frozen=True)
class Settings:
    host: str  # what the file names: where clients reach the server
    port: int
    max_connections: int = 0  # per user; 0: the server's own limit


@dataclass(frozen=True)
class Step:
    user: str
    action: str
    line: str  # the difference, said in one line
    target: str = ""  # the database pattern or role a revoke is about
    password_hash: str = ""  # `single_password`: the hash to keep (the file's)
    password: str = ""  # `rewrite_file`: the file's working password, written again
    implied: bool = False  # follows from another step, and repairs no difference of its own

    def __repr__(self) -> str:  # never the password
        return f"Step({self.user!r}, {self.action!r}, {self.line!r})"


@dataclass(frozen=True)
class Note:
    """Something not done, and why, that is no drift (a home not made yet)."""

    user: str
    line: str


def plan(
    wanted: Wanted, user: ServerUser | None, seen: FileSeen, settings: Settings
) -> tuple[list[Step], list[Note]]:
    """The steps that bring one account to what the store says, and what waits."""
    steps: list[Step] = []
    notes: list[Note] = []
    name, label = wanted.user, wanted.label
    if user is None:
        steps.append(Step(name, "create", f"{label}: no database user"))
    else:
        steps += _lock(wanted, user)
        steps += _grants(wanted, user)
        if user.max_connections != settings.max_connections:
            steps.append(
                Step(
                    name,
                    "limit",
                    f"{label}: may open {user.max_connections or 'unlimited'} connections, "
                    f"not {settings.max_connections or 'unlimited'}",
                )
            )
    file_steps, file_notes = _file(wanted, user, seen, settings)
    return steps + file_steps, notes + file_notes


def plan_all(
    wanted: Sequence[Wanted],
    users: Mapping[str, ServerUser],
    files: Mapping[str, FileSeen],
    settings: Settings,
) -> tuple[list[Step], list[Note]]:
    """`plan` for every account (a file not looked at counts as missing)."""
    steps: list[Step] = []
    notes: list[Note] = []
    for account in wanted:
        seen = files.get(account.user, FileSeen("missing"))
        more, said = plan(account, users.get(account.user), seen, settings)
        steps += more
        notes += said
    return steps, notes


def _lock(wanted: Wanted, user: ServerUser) -> list[Step]:
    label = wanted.label
    if wanted.active and user.locked:
        return [Step(wanted.user, "unlock", f"{label}: locked, but the account is active")]
    if not wanted.active and not user.locked:
        return [Step(wanted.user, "lock", f"{label}: not locked, but {wanted.why}")]
    if not wanted.active and user.sessions:
        return [
            Step(
                wanted.user,
                "end_sessions",
                f"{label}: locked, but {user.sessions} connection(s) still open",
            )
        ]
    return []


def _grants(wanted: Wanted, user: ServerUser) -> list[Step]:
    name, label = wanted.user, wanted.label
    own = grant_pattern(name)
    steps = []
    if user.global_access:
        steps.append(Step(name, "revoke_global", f"{label}: holds privileges on every database"))
    for pattern in sorted(set(user.databases) - {own}):
        steps.append(
            Step(
                name,
                "revoke_db",
                f"{label}: holds privileges on {quoted_identifier(pattern)}, not its own",
                target=pattern,
            )
        )
    for role in user.roles:
        steps.append(Step(name, "revoke_role", f"{label}: holds the role {role}", target=role))
    if user.other_grants:
        steps.append(
            Step(name, "revoke_other", f"{label}: holds table, column or routine privileges")
        )
    full, grant_option = user.databases.get(own, (False, False))
    if not full:
        what = "some privileges" if own in user.databases else "its grant"
        steps.append(Step(name, "grant", f"{label}: lacks {what} on {quoted_identifier(own)}"))
    elif user.other_grants:  # revoke_other takes every grant away: its own is made again
        steps.append(Step(name, "grant", "", implied=True))
    if grant_option:
        steps.append(
            Step(
                name,
                "revoke_grant_option",
                f"{label}: may grant others {quoted_identifier(own)}",
                target=own,
            )
        )
    return steps


def _file(
    wanted: Wanted, user: ServerUser | None, seen: FileSeen, settings: Settings
) -> tuple[list[Step], list[Note]]:
    name, label = wanted.user, wanted.label
    where = f"{wanted.home}/replica.my.cnf"
    if seen.state == "no-home":
        return [], [Note(name, f"{label}: no home yet at {wanted.home}; its file waits for it")]
    if seen.state == "home-refused":
        return [Step(name, "refused", f"{label}: {seen.detail}; its file is not written")], []
    hashes = user.hashes if user is not None else ()
    credentials = seen.credentials if seen.state == "ok" else None
    works = (
        credentials is not None
        and credentials.user == name
        and native_hash(credentials.password) in hashes
    )
    if not works:
        return [Step(name, "new_password", f"{label}: {where} {_why_not(wanted, seen, user)}")], []
    if seen.mode & 0o077:  # others could read it: the password is no longer the account's
        return [
            Step(
                name,
                "new_password",
                f"{label}: {where} was readable by others (mode {seen.mode:04o})",
            )
        ], []
    assert credentials is not None
    steps = []
    wrong = _wrong_fields(credentials, settings)
    if seen.mode != MODE:
        wrong.append(f"mode {seen.mode:04o}, not {MODE:04o}")
    if wrong:
        steps.append(
            Step(
                name,
                "rewrite_file",
                f"{label}: {where} has {', '.join(wrong)}",
                password=credentials.password,
            )
        )
    if len(hashes) > 1:
        steps.append(
            Step(
                name,
                "single_password",
                f"{label}: the server accepts another password beside the file's",
                password_hash=native_hash(credentials.password),
            )
        )
    return steps, []


def _why_not(wanted: Wanted, seen: FileSeen, user: ServerUser | None) -> str:
    if seen.state == "missing":
        return "is missing"
    if seen.state == "link":
        return "is a symbolic link (not followed)"
    if seen.state == "not-a-file":
        return "is not the account's own regular file (not read)"
    if seen.state == "unreadable":
        return f"cannot be read ({seen.detail or 'an error'})"
    if seen.credentials is None:
        return "holds no [client] user, password, host and port"
    if seen.credentials.user != wanted.user:
        return f"names the user {seen.credentials.user!r}, not {wanted.user}"
    if user is None:
        return "names a user the server does not have"
    return "holds a password the server does not accept"


def _wrong_fields(credentials: Credentials, settings: Settings) -> list[str]:
    wrong = []
    if credentials.host != settings.host:
        wrong.append(f"host {credentials.host!r}, not {settings.host!r}")
    if credentials.port != settings.port:
        wrong.append(f"port {credentials.port}, not {settings.port}")
    return wrong


def lines(steps: Iterable[Step]) -> list[str]:
    """The drift lines, one per difference."""
    return [step.line for step in steps if not step.implied]
