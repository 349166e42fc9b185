"""Which accounts must have database credentials, and whether each may use them, from
what the store says (pure: the caller reads the store).

Every account of the store with a shell and a uid — each tool and each member — gets a
database user (`databases.naming`). A member's user is active unless the member is
suspended; a tool's unless it may not act now, as `membership.maintainers.inactive_tools`
says for the jobs too (disabled by the admins, or none of its maintainers a member in
good standing), which the caller hands in. Homes are where provisioning makes them: the
same patterns (`Homes`, filled from `[provisioning]` by the caller), under the same root.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from databases.naming import PERSON, TOOL, user_name
from membership.records import AccountRecord


@dataclass(frozen=True)
class Homes:
    """Where accounts' homes are: provisioning's patterns (`{name}` is the shell name, or
    the tool's name), under `root` (the unix backend's root prefix; "/" on a host)."""

    person: str = "/home/{name}"
    tool: str = "/data/project/{name}"
    root: str = "/"

    def of(self, kind: str, name: str) -> str:
        pattern = self.tool if kind == TOOL else self.person
        home = pattern.format(name=name)
        return self.root.rstrip("/") + home if self.root.rstrip("/") else home


@dataclass(frozen=True)
class Wanted:
    """One account's database user, as it should be."""

    user: str  # s<uid> or u<uid>
    kind: str  # tool | person
    name: str  # the tool's name or the member's shell name
    uid: int
    home: str
    active: bool
    why: str = ""  # why it is not active
    owner: str = ""  # the tool's name or the member's wiki username

    @property
    def label(self) -> str:
        """How a line names it: `s51234 (tool mytool)`."""
        return f"{self.user} ({'tool' if self.kind == TOOL else 'member'} {self.name})"


def wanted(
    accounts: Iterable[AccountRecord], inactive_tools: Mapping[str, str], homes: Homes
) -> list[Wanted]:
    """Every account that must have credentials, by user name: from the store's
    `accounts` and the tools that may not act now (with why)."""
    found = []
    for record in accounts:
        if record.uid is None or record.kind not in (TOOL, PERSON):
            continue
        found.append(_wanted(record, homes, inactive_tools))
    return sorted(found, key=lambda item: item.user)


def _wanted(record: AccountRecord, homes: Homes, inactive: Mapping[str, str]) -> Wanted:
    assert record.uid is not None
    name = record.owner if record.kind == TOOL else record.shell_name
    if record.kind == TOOL:
        why = inactive.get(record.owner, "")
    else:
        why = "the member is suspended" if record.suspended else ""
    return Wanted(
        user=user_name(record.kind, record.uid),
        kind=record.kind,
        name=name,
        uid=record.uid,
        home=homes.of(record.kind, name),
        active=not why,
        why=why,
        owner=record.owner,
    )
