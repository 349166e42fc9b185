"""What the store says an account should be now: the `Desired` state jobs and the
reconcile bring the directory to.

A person's account has the member's active keys (`Store.ssh_keys`) and is suspended
exactly when the store records the decision to suspend it (`suspended_at` on the
account, set by `membership.accounts` when the renewal suspends a lapsed member and
cleared when it restores them). A tool's group has its maintainers — those set directly
(`ats provision tool` or a maintainer on the bridge, kept in the store;
`membership.maintainers`) or else the wiki users of its latest done
tool request — by the shell names of those who have an account that is **not
suspended**: a suspended member leaves every tool's group, which is what ends their
`become` (`provisioning.become`), and is back in it when restored.
Read at the moment a job runs, never at the moment it was queued, so a job never
applies a change overtaken by a later one.
"""

from __future__ import annotations

from dataclasses import dataclass

from membership.maintainers import maintainers_of
from membership.maintainers import tool_requests as _tool_requests
from membership.records import AccountRecord, RequestRecord
from membership.store import Store
from provisioning.backend import Desired


@dataclass(frozen=True)
class Wanted:
    record: AccountRecord  # the store's account: shell name, kind, owner
    desired: Desired


def person(store: Store, record: AccountRecord) -> Desired:
    keys = tuple(k.key for k in store.ssh_keys(record.owner))
    return Desired(keys=keys, suspended=record.suspended)


def tool(
    store: Store, record: AccountRecord, requests: list[RequestRecord] | None = None
) -> Desired:
    members = []
    for wiki_user in maintainers_of(store, record.shell_name, requests):
        held = store.account_of(wiki_user)
        if held is not None and not held.suspended:
            members.append(held.shell_name)
    return Desired(members=tuple(sorted(set(members))))


def tools_of(store: Store, wiki_user: str) -> list[Wanted]:
    """The desired state of every tool `wiki_user` maintains (their suspension or
    restore changes it)."""
    requests = _tool_requests(store)
    return [
        Wanted(record, tool(store, record, requests))
        for record in store.accounts("tool")
        if wiki_user in maintainers_of(store, record.shell_name, requests)
    ]


def for_owner(store: Store, owner: str, kind: str = "person") -> Wanted | None:
    """The desired state of `owner`'s account; None when the store has none."""
    record = store.account_of(owner, kind)
    if record is None:
        return None
    return Wanted(record, person(store, record) if kind == "person" else tool(store, record))


def everything(store: Store) -> list[Wanted]:
    """The desired state of every account the store knows, persons first."""
    requests = _tool_requests(store)
    out = []
    for record in store.accounts():
        if record.kind == "tool":
            out.append(Wanted(record, tool(store, record, requests)))
        else:
            out.append(Wanted(record, person(store, record)))
    return sorted(out, key=lambda w: (w.record.kind != "person", w.record.shell_name))
