"""The dry-run backend: records what it would do, changes nothing outside itself.

Each call is appended to `actions` (and, when `log` is given, to a JSON-lines file)
as `{"op": ..., ...}`; the accounts it would have made are kept in memory so that it
answers `describe`, detects collisions and stays idempotent like the real backends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from provisioning.backend import (
    NOLOGIN,
    Account,
    Desired,
    NameTakenError,
    NoSuchAccountError,
    Observed,
    check_owner,
    checked_keys,
    checked_members,
    checked_name,
)

DEFAULT_SHELL = "/bin/bash"


class DryRunBackend:
    def __init__(self, log: str | Path | None = None, *, first_id: int = 10000) -> None:
        self.log = Path(log) if log else None
        self.actions: list[dict[str, Any]] = []
        self.accounts: dict[tuple[str, str], Account] = {}
        self._next = first_id

    def create_person(self, wiki_user: str, shell_name: str, keys: Sequence[str]) -> Account:
        name, wanted = checked_name(shell_name), checked_keys(keys)
        account = self.accounts.get(("person", name))
        check_owner(account, wiki_user)
        for other in self.accounts.values():
            if other.kind == "person" and other.owner == wiki_user and other.name != name:
                raise NameTakenError(f"the wiki user {wiki_user!r} already has {other.name!r}")
        if account is None:
            account = Account("person", name, wiki_user, self._next, self._next, "", "/bin/bash")
            account = replace(account, home=f"/home/{name}", keys=wanted)
            self._next += 1
            self._record("create-person", wiki_user=wiki_user, name=name, uid=account.uid)
        elif account.keys != wanted:
            account = replace(account, keys=wanted)
            self._record("set-keys", name=name, count=len(wanted))
        self.accounts[("person", name)] = account
        return account

    def create_tool(self, tool: str, maintainers: Sequence[str]) -> Account:
        name, members = checked_name(tool), checked_members(maintainers)
        account = self.accounts.get(("tool", name))
        if account is None:
            home = f"/data/project/{name}"
            account = Account("tool", name, name, self._next, self._next, home, "/bin/bash")
            self._next += 1
            self._record("create-tool", name=name, uid=account.uid)
        if account.members != members:
            account = replace(account, members=members)
            self._record("set-members", name=name, members=list(members))
        self.accounts[("tool", name)] = account
        return account

    def set_keys(self, shell_name: str, keys: Sequence[str]) -> None:
        account = self._require(checked_name(shell_name))
        wanted = checked_keys(keys)
        if account.keys != wanted:
            self.accounts[(account.kind, account.name)] = replace(account, keys=wanted)
            self._record("set-keys", name=account.name, count=len(wanted))

    def suspend(self, shell_name: str) -> None:
        account = self._require(checked_name(shell_name))
        if not account.suspended:
            changed = replace(account, suspended=True, shell=NOLOGIN)
            self.accounts[(account.kind, account.name)] = changed
            self._record("suspend", name=account.name)

    def restore(self, shell_name: str) -> None:
        account = self._require(checked_name(shell_name))
        if account.suspended:
            changed = replace(account, suspended=False, shell=DEFAULT_SHELL)
            self.accounts[(account.kind, account.name)] = changed
            self._record("restore", name=account.name)

    def converge(self, shell_name: str, desired: Desired) -> None:
        account = self._require(checked_name(shell_name))
        if account.kind == "tool":
            self.create_tool(account.name, desired.members)
        else:
            self.set_keys(account.name, desired.keys)
        if desired.suspended:
            self.suspend(account.name)
        else:
            self.restore(account.name)

    def observe(self) -> list[Observed]:
        out = []
        for account in self.accounts.values():
            out.append(Observed(account, () if account.suspended else account.keys))
        return out

    def describe(self, shell_name: str) -> Account | None:
        name = checked_name(shell_name)
        return self.accounts.get(("person", name)) or self.accounts.get(("tool", name))

    def _require(self, name: str) -> Account:
        account = self.describe(name)
        if account is None:
            raise NoSuchAccountError(f"there is no account {name!r} (dry run)")
        return account

    def _record(self, op: str, **details: Any) -> None:
        action = {"op": op, **details}
        self.actions.append(action)
        if self.log:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            with self.log.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(action, ensure_ascii=False) + "\n")
