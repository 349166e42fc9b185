"""The accounts room: shell accounts and who holds them, and the maintainers of a tool made
directly.

An account row says which wiki user (or tool) holds a shell name; `suspended_at` is
the decision to suspend it (the worker makes it so in the directory). A tool made
directly (`ats provision tool`) or whose maintainers changed keeps its maintainers
here (`tool_maintainers`). Nothing here is deleted but a tool's previous set of
maintainers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from membership.records import AccountRecord
from membership.store.connection import Query, StoreConnection, each
from policies.times import iso


class AccountsRoom(StoreConnection):
    # -- accounts (0004, 0006) -----------------------------------------------------

    def record_account(self, shell_name: str, kind: str, owner: str, uid: int | None) -> None:
        self._changed(
            "INSERT INTO accounts (shell_name, kind, owner, uid, created_at) "
            "VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (shell_name) DO UPDATE SET uid = excluded.uid",
            [shell_name, kind, owner, uid, iso()],
        )

    def account_of(self, owner: str, kind: str = "person") -> AccountRecord | None:
        return self.answer(self.account_of_query(owner, kind))

    def account_of_query(self, owner: str, kind: str = "person") -> Query[AccountRecord | None]:
        """`account_of`, as a query to read with others (`read`)."""
        where = "owner = ? AND kind = ?"
        return self._later_first("accounts", where, [owner, kind], lambda row: AccountRecord(**row))

    def accounts_of(self, owners: Iterable[str], kind: str = "person") -> dict[str, AccountRecord]:
        """The accounts of those of `owners` who hold one, by owner."""
        rows = self._rows_among(
            "accounts", "owner", owners, "kind = ?", [kind], order_by="shell_name"
        )
        return {row["owner"]: AccountRecord(**row) for row in rows}

    def accounts(self, kind: str | None = None) -> list[AccountRecord]:
        return self.answer(self.accounts_query(kind))

    def accounts_query(self, kind: str | None = None) -> Query[list[AccountRecord]]:
        """`accounts`, as a query to read with others (`read`)."""
        return self._later_matching(
            "accounts", each(lambda row: AccountRecord(**row)), order_by="shell_name", kind=kind
        )

    def set_account_suspended(self, shell_name: str, reason: str | None) -> None:
        """Record the decision to suspend (`reason`) or restore (None) an account."""
        self._changed(
            "UPDATE accounts SET suspended_at = ?, suspended_reason = ? WHERE shell_name = ?",
            [iso() if reason is not None else None, reason, shell_name],
        )

    # -- a tool's maintainers, set directly (0017) --------------------------------

    def set_tool_maintainers(self, tool: str, wiki_users: Sequence[str], by: str) -> None:
        """`wiki_users` become the tool's maintainers (replacing any set before)."""
        with self.transaction():
            self._changed("DELETE FROM tool_maintainers WHERE tool = ?", [tool])
            for wiki_user in sorted(set(wiki_users)):
                self._changed(
                    "INSERT INTO tool_maintainers (tool, wiki_user, set_by, set_at) "
                    "VALUES (?, ?, ?, ?)",
                    [tool, wiki_user, by, iso()],
                )

    def tool_maintainers_set(self, tool: str) -> tuple[str, ...] | None:
        """The tool's maintainers as set directly; None when none were."""
        rows = self._rows("tool_maintainers", "tool = ?", [tool], order_by="wiki_user")
        return tuple(row["wiki_user"] for row in rows) or None

    def tool_maintainer_sets(self) -> dict[str, tuple[str, ...]]:
        """Every tool's maintainers as set directly, by tool (a tool none were set for is
        absent): `tool_maintainers_set` for all tools in one query."""
        return self.answer(self.tool_maintainer_sets_query())

    def tool_maintainer_sets_query(self) -> Query[dict[str, tuple[str, ...]]]:
        """`tool_maintainer_sets`, as a query to read with others (`read`)."""
        return self._later("tool_maintainers", None, [], _sets, order_by="tool, wiki_user")


def _sets(rows: list[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    sets: dict[str, list[str]] = {}
    for row in rows:
        sets.setdefault(row["tool"], []).append(row["wiki_user"])
    return {tool: tuple(people) for tool, people in sets.items()}
