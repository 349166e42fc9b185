"""Accounts made directly, outside the job queue: `ats provision account` and
`ats provision tool`.

`provision_person` creates (or converges) one person's account from a hand-typed wiki
username; `provision_tool` creates (or converges) a tool under the same naming rules
as a tool request, every maintainer holding a shell account, and keeps its maintainers
in the store. Both record the account and audit it, as the worker's jobs do.
"""

from __future__ import annotations

from membership import accounts
from membership.store import Store
from policies.requests import RESERVED_NAMES, TOOL_NAME
from policies.sshkeys import parse_public_key
from policies.usernames import canonical_username, valid_username
from provisioning.backend import Account, Backend, NameTakenError, NoSuchAccountError
from provisioning.job_kinds import ACTOR
from provisioning.names import NamingError, shell_name


def provision_person(
    store: Store, backend: Backend, wiki_user: str, keys: list[str], name: str | None = None
) -> Account:
    """Create (or converge) one person's account directly — `ats provision account`.

    `wiki_user` is typed by hand: a name MediaWiki could not have raises UsernameError.
    The keys (valid public key lines) are added to the member's keys in the store; the
    account gets every active key the member has there.
    """
    wiki_user = valid_username(wiki_user)
    # The store is the source of truth for keys (every later keys, suspend or restore
    # job converges the account to it): the keys given join the member's active keys,
    # and the account gets all of them.
    with store.transaction():
        # Compared by type and blob: a key stored with its comment is the same key.
        active = {" ".join(record.key.split()[:2]) for record in store.ssh_keys(wiki_user)}
        for line in keys:
            key = parse_public_key(line)
            if key.line in active:
                continue
            accounts.add_key(store, wiki_user, key, ACTOR)
            active.add(key.line)
    wanted = [record.key for record in store.ssh_keys(wiki_user)]
    account = backend.create_person(wiki_user, name or shell_name(wiki_user), wanted)
    store.record_account(account.name, "person", wiki_user, account.uid)
    store.audit(ACTOR, "account-converged", None, shell_name=account.name, wiki_user=wiki_user)
    return account


def provision_tool(
    store: Store, backend: Backend, tool: str, wiki_users: list[str], by: str
) -> Account:
    """Create (or converge) a tool directly — `ats provision tool`: the same naming
    rules as a tool request; every maintainer must hold a shell account. The
    maintainers are kept in the store (they replace those of the tool's request)."""
    name = tool.strip()
    if not TOOL_NAME.fullmatch(name):  # match would let '$' accept a final newline
        raise NamingError(
            f"{name!r} is not a tool name: lower-case letters, digits and '-', starting "
            "with a letter and not ending with '-', at most 32 characters"
        )
    if name in RESERVED_NAMES:
        raise NamingError(f"{name!r} is reserved; choose another tool name")
    if not wiki_users:
        raise NamingError("a tool needs at least one maintainer (--maintainer USER)")
    people = sorted({canonical_username(valid_username(u)) for u in wiki_users})
    held = {}
    for wiki_user in people:
        record = store.account_of(wiki_user)
        if record is None:
            raise NoSuchAccountError(
                f"the maintainer {wiki_user!r} has no shell account; make theirs first "
                "(ats provision account) or leave them out"
            )
        held[wiki_user] = record
    # The store keys accounts by shell name: a tool cannot share a member's.
    taken = [r for r in store.accounts("person") if r.shell_name == name]
    if taken:
        raise NameTakenError(
            f"the name {name!r} is the shell account of {taken[0].owner!r}; "
            "choose another tool name"
        )
    members = [r.shell_name for r in held.values() if not r.suspended]
    account = backend.create_tool(name, members)
    with store.transaction():
        store.set_tool_maintainers(name, people, by)
        store.record_account(name, "tool", name, account.uid)
        store.audit(
            ACTOR,
            "tool-converged",
            None,
            tool=name,
            shell_name=account.login,
            maintainers=people,
            by=by,
        )
    return account
