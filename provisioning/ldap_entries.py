"""Directory entries as the LDAP backend reads and changes them: the attributes read,
what an entry says (an `Account`), and the modify that brings it to a `Desired` state.

A suspended person has `loginShell` /usr/sbin/nologin, `shadowExpire` 1 and no
`sshPublicKey`; the keys they will get back are `description` values
`ats-suspended-key: KEY`. Every modify built here is guarded: each attribute it
changes is changed by deleting the exact values read and adding the wanted ones (so
the server refuses it with noSuchAttribute when another writer changed them), and it
carries an LDAP assertion control (RFC 4528) that the entry's `entryCSN` is still the
one read, so any change to the entry since the read makes the server refuse the whole
modify with assertionFailed; the backend then reads again and retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ldap3
from ldap3.operation.search import compile_filter, parse_filter
from ldap3.utils.conv import escape_filter_chars
from pyasn1.codec.ber import encoder

from provisioning.backend import NOLOGIN, TOOL_PREFIX, Account, Desired, Observed

Entry = dict[str, list[bytes]]
Changes = dict[str, list[tuple[Any, list[Any]]]]

SUCCESS, NO_SUCH_ATTRIBUTE, NO_SUCH_OBJECT, ALREADY_EXISTS = 0, 16, 32, 68
# What a guarded modify meets when the entry changed since it was read.
CONFLICTS = {NO_SUCH_ATTRIBUTE, 19, 20, 122}  # + constraintViolation, valueExists, assertion
ASSERTION_CONTROL = "1.3.6.1.1.12"
SAVED_KEY = "ats-suspended-key: "
SAVED_SHELL = "ats-suspended-shell: "
ROLE_ATTRS = [
    "sudoUser",
    "sudoHost",
    "sudoRunAsUser",
    "sudoRunAsGroup",
    "sudoCommand",
    "sudoOption",
    "sudoNotBefore",
    "sudoNotAfter",
]
ATTRS = [
    "objectClass",
    "uid",
    "cn",
    "employeeNumber",
    "uidNumber",
    "gidNumber",
    "homeDirectory",
    "loginShell",
    "sshPublicKey",
    "description",
    "shadowExpire",
    "memberUid",
    "serialNumber",
    "entryCSN",
    *ROLE_ATTRS,
]


def guard(entry: Entry) -> list[tuple[str, bool, bytes]] | None:
    """The assertion control that the entry is unchanged since `entry` was read."""
    csn = text(entry, "entryCSN")
    if csn is None:
        return None
    expression = f"(entryCSN={escape_filter_chars(csn)})"
    parsed = parse_filter(
        expression, None, auto_escape=True, auto_encode=True, validator=None, check_names=False
    )
    return [(ASSERTION_CONTROL, True, encoder.encode(compile_filter(parsed.elements[0])))]


def swap(current: Sequence[str], wanted: Sequence[str]) -> list[tuple[Any, list[Any]]]:
    """Make an attribute exactly `wanted`: delete the values read, add the wanted ones
    (nothing when they are the same set)."""
    if set(current) == set(wanted):
        return []
    out: list[tuple[Any, list[Any]]] = []
    if current:
        out.append((ldap3.MODIFY_DELETE, list(current)))
    if wanted:
        out.append((ldap3.MODIFY_ADD, list(wanted)))
    return out


def person_changes(entry: Entry, desired: Desired, shell: str) -> Changes:
    """The modify that brings a person's (or a tool user's) entry to `desired`."""
    ours = [v for v in texts(entry, "description") if v.startswith((SAVED_KEY, SAVED_SHELL))]
    if desired.suspended:
        wanted = {"loginShell": [NOLOGIN], "shadowExpire": ["1"], "sshPublicKey": []}
        saved = [SAVED_KEY + k for k in desired.keys]
    else:
        wanted = {"loginShell": [shell], "shadowExpire": [], "sshPublicKey": list(desired.keys)}
        saved = []
    changes: Changes = {}
    for attribute, values in wanted.items():
        change = swap(texts(entry, attribute), values)
        if change:
            changes[attribute] = change
    if set(ours) != set(saved):
        changes["description"] = swap(ours, saved)
    # The object class follows the keys, so that a directory with the older
    # MUST-sshPublicKey schema accepts an entry without any.
    classes = {c.lower() for c in texts(entry, "objectClass")}
    if wanted["sshPublicKey"] and "ldappublickey" not in classes:
        changes["objectClass"] = [(ldap3.MODIFY_ADD, ["ldapPublicKey"])]
    elif not wanted["sshPublicKey"] and "ldappublickey" in classes:
        changes["objectClass"] = [(ldap3.MODIFY_DELETE, ["ldapPublicKey"])]
    return changes


def account_of(kind: str, entry: Entry) -> Account:
    """What a person's or a tool user's entry says; a suspended one's keys are the
    saved ones (those it gets back)."""
    uid = text(entry, "uid") or ""
    suspended = is_suspended(entry)
    keys = texts(entry, "sshPublicKey")
    if suspended:
        keys = saved_keys(entry)
    number = number_of(entry, "uidNumber") or number_of(entry, "gidNumber")
    return Account(
        kind=kind,
        name=uid.removeprefix(TOOL_PREFIX) if kind == "tool" else uid,
        owner=text(entry, "employeeNumber") or "",
        uid=number,
        gid=number_of(entry, "gidNumber"),
        home=text(entry, "homeDirectory") or "",
        shell=text(entry, "loginShell") or "",
        keys=tuple(keys),
        suspended=suspended,
    )


def tool_account(name: str, user: Entry | None, group: Entry | None) -> Account:
    base = account_of("tool", user or group or {})
    members = tuple(sorted(texts(group, "memberUid"))) if group else ()
    return Account(
        kind="tool",
        name=name,
        owner=name,
        uid=base.uid,
        gid=base.gid,
        home=base.home,
        shell=base.shell,
        members=members,
        suspended=base.suspended,
    )


def observed(kind: str, entry: Entry) -> Observed:
    return Observed(account_of(kind, entry), tuple(texts(entry, "sshPublicKey")))


def saved_keys(entry: Entry) -> list[str]:
    return [v[len(SAVED_KEY) :] for v in texts(entry, "description") if v.startswith(SAVED_KEY)]


def is_suspended(entry: Entry) -> bool:
    return text(entry, "shadowExpire") == "1" or text(entry, "loginShell") == NOLOGIN


def texts(entry: Entry | None, attribute: str) -> list[str]:
    if not entry:
        return []
    for key, values in entry.items():
        if key.lower() == attribute.lower():
            return [v.decode() if isinstance(v, bytes) else str(v) for v in values]
    return []


def text(entry: Entry, attribute: str) -> str | None:
    values = texts(entry, attribute)
    return values[0] if values else None


def number_of(entry: Entry, attribute: str) -> int:
    return int(text(entry, attribute) or 0)
