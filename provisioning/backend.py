"""The interface every provisioning backend implements, and what they share.

A backend creates and changes accounts: `create_person`, `create_tool`, `set_keys`,
`suspend`, `restore`, `describe`; `converge(name, desired)` brings an account to a
`Desired` state (what the store says now) whatever it was, and `observe()` lists every
account the backend holds at once, for `ats provision reconcile`. Every operation
is idempotent — called twice, or called again after a crash halfway, it converges on
the same result and never creates a second account — so the worker can simply run a
job again. Names are checked here before any backend touches a directory or a file
(`checked_*`), and a name already held by a different wiki user is a
`NameTakenError`, never a silent take-over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from policies.errors import Refusal
from provisioning.names import NamingError, check_name

TOOL_PREFIX = "tools."
NOLOGIN = "/usr/sbin/nologin"


class ProvisioningError(Refusal, RuntimeError):
    """An operation failed; `permanent` errors are not retried (the admin must act)."""

    permanent = False


class NameTakenError(ProvisioningError):
    """The shell name is held by another wiki user (or by an account we did not make)."""

    permanent = True


class NoSuchAccountError(ProvisioningError):
    permanent = True


@dataclass(frozen=True)
class Account:
    kind: str  # person | tool
    name: str  # the shell name (a tool's service user is "tools." + name)
    owner: str  # the wiki username (person) or the tool's name (tool)
    uid: int
    gid: int
    home: str
    shell: str
    keys: tuple[str, ...] = ()
    members: tuple[str, ...] = ()  # a tool's maintainers (shell names)
    suspended: bool = False

    @property
    def login(self) -> str:
        return TOOL_PREFIX + self.name if self.kind == "tool" else self.name


@dataclass(frozen=True)
class Desired:
    """What an account should be, from the store: a person's active keys and whether
    they are suspended (then the keys are kept aside, none opens a login), or a tool's
    maintainers (shell names)."""

    keys: tuple[str, ...] = ()
    suspended: bool = False
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observed:
    """An account as a backend holds it, with the keys that open a login right now
    (none, when it is suspended as it should be)."""

    account: Account
    live_keys: tuple[str, ...] = ()
    become_drift: tuple[str, ...] = ()  # a tool's `become` rule, as it differs from its due


@runtime_checkable
class Backend(Protocol):
    """What the worker and `ats provision` call; see the module docstring."""

    def create_person(self, wiki_user: str, shell_name: str, keys: Sequence[str]) -> Account: ...

    def create_tool(self, tool: str, maintainers: Sequence[str]) -> Account: ...

    def set_keys(self, shell_name: str, keys: Sequence[str]) -> None: ...

    def suspend(self, shell_name: str) -> None: ...

    def restore(self, shell_name: str) -> None: ...

    def describe(self, shell_name: str) -> Account | None: ...

    def converge(self, shell_name: str, desired: Desired) -> None: ...

    def observe(self) -> list[Observed]: ...


def checked_name(name: str) -> str:
    """A valid shell name, or ValueError (NamingError) before any I/O."""
    return check_name(name)


def checked_members(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({check_name(n) for n in names}))


def checked_keys(keys: Iterable[str]) -> tuple[str, ...]:
    """One key per line, no control characters: what authorized_keys and LDAP accept."""
    out: list[str] = []
    for key in keys:
        key = key.strip()
        if not key:
            continue
        if any(ord(c) < 32 or ord(c) == 127 for c in key):
            raise NamingError("an SSH key must be one line without control characters")
        if key not in out:
            out.append(key)
    return tuple(out)


def check_owner(account: Account | None, wiki_user: str) -> None:
    """NameTakenError when `account` exists and belongs to someone other than `wiki_user`."""
    if account is not None and account.owner != wiki_user:
        raise NameTakenError(
            f"the shell name {account.name!r} is already held by "
            f"{account.owner or 'an account not made by this system'!r}, not {wiki_user!r}; "
            "give this member another shell name explicitly"
        )
