"""The `become` rule of a tool: what lets its maintainers act as its service user.

As on Wikimedia's Toolforge, `become NAME` is `sudo -u tools.NAME`, allowed without
a password to the members of the group `tools.NAME`. In the directory the rule is a
`sudoRole` (`cn=tools.NAME,ou=sudoers`) that login hosts read through SSSD; on a Unix
host it is a sudoers drop-in (`/etc/sudoers.d/ats-tools-NAME`). This module says what
the rule must be and how a rule found differs from it (pure); the backends write it.

Suspended members: the rule names the group, never people, and a suspended member
**leaves the group** (`provisioning.desired` leaves out every maintainer whose
account is suspended; the worker converges their tools when they are suspended or
restored, and the reconcile repairs any group that still holds them). The other
choice, a rule that excludes people by name (`sudoUser: !name`), would put the
membership decision in two places and keep a suspended member in a group that other
programs (file permissions on the tool's home, say) also trust; leaving the group
ends every right the group gives, and a login host sees it within its cache time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SUDOERS_OU = "sudoers"
SUDOERS_DROP_IN = "ats-{login}"  # under /etc/sudoers.d; no dot allowed there, see below


def role_attributes(login: str) -> dict[str, list[str]]:
    """The sudoRole of the tool whose service user (and group) is `login`."""
    return {
        "sudoUser": [f"%{login}"],
        "sudoHost": ["ALL"],
        "sudoRunAsUser": [login],
        "sudoCommand": ["ALL"],
        "sudoOption": ["!authenticate"],
    }


def role_drift(login: str, found: Mapping[str, Sequence[str]] | None) -> list[str]:
    """How the sudoRole `found` (attribute -> values; None: absent) differs from the
    rule the tool must have, one phrase each."""
    if found is None:
        return ["become rule (sudoRole) missing"]
    lowered = {k.lower(): sorted(v) for k, v in found.items()}
    out = []
    for attribute, wanted in role_attributes(login).items():
        have = lowered.get(attribute.lower(), [])
        if have != sorted(wanted):
            out.append(
                f"become rule {attribute} is {', '.join(have) or 'empty'}, not {', '.join(wanted)}"
            )
    for attribute in ("sudoRunAsGroup", "sudoNotBefore", "sudoNotAfter"):
        if lowered.get(attribute.lower()):
            out.append(f"become rule has an unexpected {attribute}")
    return out


def sudoers_file_name(login: str) -> str:
    """The drop-in's file name: sudo skips files in sudoers.d whose names hold a dot,
    so the dot of `tools.NAME` becomes a dash."""
    return SUDOERS_DROP_IN.format(login=login.replace(".", "-"))


def sudoers_text(login: str) -> str:
    """The sudoers drop-in that is the same rule on a host with local accounts."""
    return (
        "# Made by American Toolserver: members of the tool's group may become it.\n"
        f"%{login} ALL=({login}) NOPASSWD: ALL\n"
    )


def sudoers_drift(login: str, found: str | None) -> list[str]:
    if found is None:
        return ["become rule (sudoers drop-in) missing"]
    if found != sudoers_text(login):
        return ["become rule (sudoers drop-in) altered"]
    return []
