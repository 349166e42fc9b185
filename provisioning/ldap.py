"""The LDAP backend (ldap3): accounts in a directory every login host reads.

Layout under `base_dn` (the organisational units are created when missing):

- a person: `uid=NAME,ou=people` — inetOrgPerson + posixAccount + shadowAccount +
  ldapPublicKey; `cn` and `sn` are the wiki username, and **`employeeNumber` holds
  the wiki username** as the record of who owns the name (it is what collisions are
  checked against); a personal group `cn=NAME,ou=groups` with the same number;
- a tool: `cn=tools.NAME,ou=groups` (posixGroup, `memberUid` = the maintainers'
  shell names) and its service user `uid=tools.NAME,ou=tools` (account +
  posixAccount + shadowAccount), both with one number, and its `become` rule, the
  sudoRole `cn=tools.NAME,ou=sudoers` (`provisioning.become`; the directory needs the
  sudo schema shipped in `provisioning/schema/`). The tool's home directory is made
  by the login host on first use (pam_mkhomedir), not by this backend;
- the id counter: `cn=ats-id-counter` (a `device` whose `serialNumber` is the next
  free number). Numbers come from `id_range`; taking one is a compare-and-swap —
  one modify that deletes the value read and adds the next, which fails for every
  worker but one when several race — then a check that no entry already uses it.

Desired state: `converge(name, desired)` reads the entry and brings it to exactly
what the store says now (keys, shell, suspended or not, the keys kept aside while
suspended; a tool group's members and its sudoRole) with one guarded modify (`ldap_entries`: it
deletes the exact values read and asserts the entry's `entryCSN`), read again and
retried a few times when another writer changed the entry in
between. `set_keys`, `suspend` and `restore` are converges from what the entry holds.
`observe()` lists every account with four paged searches, for the reconcile. Every
DN component is escaped with `escape_rdn` and every filter value with
`escape_filter_chars`, though names are validated before any of them is built.

Connection, outages and guarded writes: `ldap_connection`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

import ldap3
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from provisioning.backend import (
    TOOL_PREFIX,
    Account,
    Desired,
    NameTakenError,
    Observed,
    ProvisioningError,
    check_owner,
    checked_keys,
    checked_members,
    checked_name,
)
from provisioning.become import SUDOERS_OU, role_attributes, role_drift
from provisioning.ldap_connection import (
    DirectoryUnavailableError,
    LdapConnection,
    reconnecting,
)
from provisioning.ldap_entries import (
    ALREADY_EXISTS,
    NO_SUCH_ATTRIBUTE,
    ROLE_ATTRS,
    SUCCESS,
    Changes,
    Entry,
    account_of,
    number_of,
    observed,
    person_changes,
    swap,
    text,
    texts,
    tool_account,
)
from provisioning.names import NamingError

__all__ = ["DirectoryUnavailableError", "LdapBackend"]
OUS = ("people", "groups", "tools", SUDOERS_OU)
# What a server without the sudo schema answers to a sudoRole: undefinedAttributeType,
# invalidAttributeSyntax, objectClassViolation.
NO_SUDO_SCHEMA = {17, 21, 65}


class LdapBackend(LdapConnection):
    def __init__(
        self,
        url: str,
        base_dn: str,
        bind_dn: str,
        password: str,
        *,
        id_range: tuple[int, int] = (10000, 59999),
        shell: str = "/bin/bash",
        person_home: str = "/home/{name}",
        tool_home: str = "/data/project/{name}",
        timeout: float = 10,
        local_names: frozenset[str] = frozenset(),
    ) -> None:
        self.base_dn = base_dn
        # Names the login hosts have as local accounts: never given to a member.
        self.local_names = local_names
        self.id_range = id_range
        self.shell = shell
        self.person_home = person_home
        self.tool_home = tool_home
        self._layout_done = False
        super().__init__(url, bind_dn, password, timeout=timeout)

    # -- DNs ---------------------------------------------------------------

    def person_dn(self, name: str) -> str:
        return f"uid={escape_rdn(name)},ou=people,{self.base_dn}"

    def group_dn(self, group: str) -> str:
        return f"cn={escape_rdn(group)},ou=groups,{self.base_dn}"

    def tool_dn(self, tool: str) -> str:
        return f"uid={escape_rdn(TOOL_PREFIX + tool)},ou=tools,{self.base_dn}"

    def role_dn(self, login: str) -> str:
        return f"cn={escape_rdn(login)},ou={SUDOERS_OU},{self.base_dn}"

    @property
    def counter_dn(self) -> str:
        return f"cn=ats-id-counter,{self.base_dn}"

    # -- the interface -----------------------------------------------------

    @reconnecting
    def create_person(self, wiki_user: str, shell_name: str, keys: Sequence[str]) -> Account:
        name, wanted = checked_name(shell_name), checked_keys(keys)
        self._ensure_layout()
        entry = self._read(self.person_dn(name))
        if entry is None:
            if name in self.local_names:
                raise NamingError(
                    f"the shell name {name!r} is a local account of the login hosts; "
                    "give this member another shell name explicitly"
                )
            self._refuse_second_account(wiki_user, name)
            number = self._allocate()
            attributes: dict[str, Any] = {
                "objectClass": ["inetOrgPerson", "posixAccount", "shadowAccount"],
                "uid": name,
                "cn": wiki_user,
                "sn": wiki_user,
                "employeeNumber": wiki_user,
                "uidNumber": number,
                "gidNumber": number,
                "homeDirectory": self.person_home.format(name=name),
                "loginShell": self.shell,
            }
            if wanted:
                attributes["objectClass"].append("ldapPublicKey")
                attributes["sshPublicKey"] = list(wanted)
            code = self._do(self.conn.add(self.person_dn(name), attributes=attributes))
            if code not in (SUCCESS, ALREADY_EXISTS):
                self._fail("add", self.person_dn(name))
            entry = self._read(self.person_dn(name))
            assert entry is not None
        account = self._account("person", entry)
        check_owner(account, wiki_user)
        self._ensure_group(name, account.gid, [])
        if set(account.keys) != set(wanted):
            self.set_keys(name, wanted)
        result = self.describe(name)
        assert result is not None
        return result

    @reconnecting
    def create_tool(self, tool: str, maintainers: Sequence[str]) -> Account:
        name, members = checked_name(tool), checked_members(maintainers)
        self._ensure_layout()
        group = self._read(self.group_dn(TOOL_PREFIX + name))
        user = self._read(self.tool_dn(name))
        if group is not None:
            number = number_of(group, "gidNumber")
        elif user is not None:
            number = number_of(user, "uidNumber")
        else:
            number = self._allocate()
        number = self._ensure_group(TOOL_PREFIX + name, number, members)
        if user is None:
            attributes = {
                "objectClass": ["account", "posixAccount", "shadowAccount"],
                "uid": TOOL_PREFIX + name,
                "cn": TOOL_PREFIX + name,
                "uidNumber": number,
                "gidNumber": number,
                "homeDirectory": self.tool_home.format(name=name),
                "loginShell": self.shell,
            }
            code = self._do(self.conn.add(self.tool_dn(name), attributes=attributes))
            if code not in (SUCCESS, ALREADY_EXISTS):
                self._fail("add", self.tool_dn(name))
        self._converge_entry(
            self.group_dn(TOOL_PREFIX + name), lambda group: _member_changes(group, members)
        )
        self._ensure_role(TOOL_PREFIX + name)
        result = self._describe_tool(name)
        assert result is not None
        return result

    @reconnecting
    def set_keys(self, shell_name: str, keys: Sequence[str]) -> None:
        """The account's keys become `keys` (kept aside while it is suspended)."""
        name, wanted = checked_name(shell_name), checked_keys(keys)
        dn = self._login_dn(name)
        self._converge_entry(
            dn, lambda entry: self._changes(entry, wanted, suspended=None), require=True
        )

    @reconnecting
    def suspend(self, shell_name: str) -> None:
        dn = self._login_dn(checked_name(shell_name))
        self._converge_entry(dn, lambda entry: self._changes(entry, None, True), require=True)

    @reconnecting
    def restore(self, shell_name: str) -> None:
        dn = self._login_dn(checked_name(shell_name))
        self._converge_entry(dn, lambda entry: self._changes(entry, None, False), require=True)

    @reconnecting
    def converge(self, shell_name: str, desired: Desired) -> None:
        """Bring the account to `desired`: a person's keys, shell and suspension, or a
        tool's group members (and its service user's suspension)."""
        name = checked_name(shell_name)
        wanted = Desired(checked_keys(desired.keys), desired.suspended, desired.members)
        dn = self._login_dn(name)
        if dn == self.tool_dn(name):
            members = checked_members(wanted.members)
            self._converge_entry(
                self.group_dn(TOOL_PREFIX + name),
                lambda group: _member_changes(group, members),
                require=True,
            )
            self._ensure_role(TOOL_PREFIX + name)
            wanted = Desired((), wanted.suspended)
        self._converge_entry(dn, lambda entry: person_changes(entry, wanted, self.shell), True)

    @reconnecting
    def observe(self) -> list[Observed]:
        """Every person and tool in the directory, from four paged searches."""
        people = self._entries(f"ou=people,{self.base_dn}", "(objectClass=posixAccount)")
        users = self._entries(f"ou=tools,{self.base_dn}", "(objectClass=posixAccount)")
        groups = self._entries(f"ou=groups,{self.base_dn}", f"(cn={TOOL_PREFIX}*)")
        out = [observed("person", entry) for entry in people]
        by_name = {(text(e, "uid") or "").removeprefix(TOOL_PREFIX): e for e in users}
        groups_by = {(text(e, "cn") or "").removeprefix(TOOL_PREFIX): e for e in groups}
        roles = self._entries(f"ou={SUDOERS_OU},{self.base_dn}", f"(cn={TOOL_PREFIX}*)")
        roles_by = {(text(e, "cn") or "").removeprefix(TOOL_PREFIX): e for e in roles}
        for name in sorted(set(by_name) | set(groups_by)):
            account = tool_account(name, by_name.get(name), groups_by.get(name))
            drift = role_drift(TOOL_PREFIX + name, _role_of(roles_by.get(name)))
            out.append(Observed(account, become_drift=tuple(drift)))
        return out

    @reconnecting
    def describe(self, shell_name: str) -> Account | None:
        name = checked_name(shell_name)
        entry = self._read(self.person_dn(name))
        if entry is not None:
            return self._account("person", entry)
        return self._describe_tool(name)

    # -- internals ---------------------------------------------------------

    def _describe_tool(self, name: str) -> Account | None:
        group = self._read(self.group_dn(TOOL_PREFIX + name))
        user = self._read(self.tool_dn(name))
        if group is None and user is None:
            return None
        return tool_account(name, user, group)

    def _account(self, kind: str, entry: Entry) -> Account:
        return account_of(kind, entry)

    def _changes(self, entry: Entry, keys: Sequence[str] | None, suspended: bool | None) -> Changes:
        """The modify for a legacy call: what `entry` holds, with the keys or the
        suspension given (None: as the entry has it)."""
        account = account_of("person", entry)
        desired = Desired(
            tuple(account.keys if keys is None else keys),
            account.suspended if suspended is None else suspended,
        )
        return person_changes(entry, desired, self.shell)

    def _login_dn(self, name: str) -> str:
        dn = self.person_dn(name)
        if self._read(dn) is None and self._read(self.tool_dn(name)) is not None:
            return self.tool_dn(name)
        return dn

    def _refuse_second_account(self, wiki_user: str, name: str) -> None:
        """One wiki user, one account: a new name for a member who has one is refused."""
        self.conn.search(
            f"ou=people,{self.base_dn}",
            f"(employeeNumber={escape_filter_chars(wiki_user)})",
            search_scope=ldap3.LEVEL,
            attributes=["uid", "employeeNumber"],
        )
        for item in self.conn.response or []:
            raw = item.get("raw_attributes", {})
            if [v.decode() for v in raw.get("employeeNumber", [])] == [wiki_user]:
                held = raw["uid"][0].decode()
                if held != name:
                    raise NameTakenError(
                        f"the wiki user {wiki_user!r} already has the shell account "
                        f"{held!r}; one member has one account"
                    )

    def _ensure_group(self, group: str, number: int, members: Sequence[str]) -> int:
        """Create the group if missing; the number it has (a racing creator's, maybe)."""
        attributes: dict[str, Any] = {
            "objectClass": ["posixGroup"],
            "cn": group,
            "gidNumber": number,
        }
        if members:
            attributes["memberUid"] = list(members)
        code = self._do(self.conn.add(self.group_dn(group), attributes=attributes))
        if code == SUCCESS:
            return number
        if code != ALREADY_EXISTS:
            self._fail("add", self.group_dn(group))
        existing = self._read(self.group_dn(group))
        assert existing is not None
        return number_of(existing, "gidNumber")

    def _ensure_role(self, login: str) -> None:
        """The tool's sudoRole: made when missing, brought back to the rule when changed."""
        dn, wanted = self.role_dn(login), role_attributes(login)
        if self._read(dn) is None:
            attributes: dict[str, Any] = {"objectClass": ["sudoRole"], "cn": login, **wanted}
            code = self._do(self.conn.add(dn, attributes=attributes))
            if code in NO_SUDO_SCHEMA:
                failure = ProvisioningError(
                    f"the directory refused the sudoRole {dn}: load the sudo schema "
                    "(provisioning/schema/sudo.schema, or sudo.ldif for cn=config; "
                    "`ats host render` writes both) and run the job again"
                )
                failure.permanent = True
                raise failure
            if code not in (SUCCESS, ALREADY_EXISTS):
                self._fail("add", dn)
        self._converge_entry(dn, lambda role: _role_changes(role, wanted))

    def _ensure_layout(self) -> None:
        if self._layout_done:
            return
        for ou in OUS:
            dn = f"ou={escape_rdn(ou)},{self.base_dn}"
            attributes = {"objectClass": ["organizationalUnit"], "ou": ou}
            if self._do(self.conn.add(dn, attributes=attributes)) not in (
                SUCCESS,
                ALREADY_EXISTS,
            ):
                self._fail("add", dn)
        self._layout_done = True

    def _allocate(self) -> int:
        """The next free number of `id_range`, taken by compare-and-swap on the counter."""
        low, high = self.id_range
        for attempt in range(1000):
            entry = self._read(self.counter_dn)
            if entry is None:
                attributes = {"objectClass": ["device"], "cn": "ats-id-counter"}
                attributes["serialNumber"] = str(low)
                code = self._do(self.conn.add(self.counter_dn, attributes=attributes))
                if code not in (SUCCESS, ALREADY_EXISTS):
                    self._fail("add", self.counter_dn)
                continue
            current = int(text(entry, "serialNumber") or low)
            if current > high:
                raise ProvisioningError(
                    f"the id range {low}-{high} is used up; widen it in the configuration"
                )
            changes = {
                "serialNumber": [
                    (ldap3.MODIFY_DELETE, [str(current)]),
                    (ldap3.MODIFY_ADD, [str(current + 1)]),
                ]
            }
            code = self._do(self.conn.modify(self.counter_dn, changes))
            if code == SUCCESS:
                if not self._number_in_use(current):
                    return current
                continue
            if code != NO_SUCH_ATTRIBUTE:
                self._fail("modify", self.counter_dn)
            # Another worker took this number first: try again after a short pause.
            time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))
        raise ProvisioningError("could not take a uid/gid number after 1000 attempts")

    def _number_in_use(self, number: int) -> bool:
        self.conn.search(
            self.base_dn,
            f"(|(uidNumber={number})(gidNumber={number}))",
            attributes=["1.1"],
            size_limit=1,
        )
        return bool(self.conn.response)


def _role_of(entry: Entry | None) -> dict[str, list[str]] | None:
    if entry is None:
        return None
    return {attribute: texts(entry, attribute) for attribute in ROLE_ATTRS}


def _role_changes(role: Entry, wanted: dict[str, list[str]]) -> Changes:
    changes: Changes = {}
    for attribute in ROLE_ATTRS:
        change = swap(texts(role, attribute), wanted.get(attribute, []))
        if change:
            changes[attribute] = change
    return changes


def _member_changes(group: Entry, members: Sequence[str]) -> Changes:
    change = swap(texts(group, "memberUid"), members)
    return {"memberUid": change} if change else {}
