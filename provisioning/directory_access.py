"""Who may read the directory: the login hosts' own bind account, and a probe of what
the directory tells a reader who should not learn it.

The directory's access rules (rendered by `ats host render` into the provider's and
each replica's slapd settings) let anonymous readers only bind, let the login hosts'
DN read what SSSD and sudo need and never a password, and let replication read
everything. `set_host_account` makes the hosts' DN (an `organizationalRole` with a
`simpleSecurityObject` password, under `ou=services` by default) or gives it a new
password, idempotently, as the directory's admin. `exposure` asks a server as an
anonymous reader, and as each reader handed in, and returns one line per thing it was
told that it should not have been: `ats doctor` and `ats host check` fail on any.

An adapter (ldap3); no rule is decided here, only asked.
"""

from __future__ import annotations

from collections.abc import Iterable

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.hashed import hashed

from provisioning.backend import ProvisioningError

TIMEOUT = 10


def _connection(url: str, dn: str = "", password: str = "") -> ldap3.Connection:
    server = ldap3.Server(url, get_info=ldap3.NONE, connect_timeout=TIMEOUT)
    return ldap3.Connection(
        server,
        user=dn or None,
        password=password or None,
        raise_exceptions=False,
        receive_timeout=TIMEOUT,
    )


def set_host_account(url: str, admin_dn: str, admin_password: str, dn: str, password: str) -> bool:
    """Make the login hosts' account `dn` with `password`, or set its password; whether
    it was made. Its parent (an `ou`) is made when missing."""
    if len(password) < 12:
        raise ProvisioningError("the login hosts' password must be at least 12 characters")
    conn = _connection(url, admin_dn, admin_password)
    try:
        if not conn.bind():
            raise ProvisioningError(f"the directory {url} refused the bind as {admin_dn}")
        rdn, _, parent = dn.partition(",")
        attribute, _, value = rdn.partition("=")
        if attribute.lower() != "cn" or not value or not parent:
            raise ProvisioningError(f"the login hosts' DN {dn!r} must be cn=NAME,PARENT")
        if not conn.search(parent, "(objectClass=*)", ldap3.BASE, attributes=["1.1"]):
            top, _, _ = parent.partition(",")
            kind, _, name = top.partition("=")
            if kind.lower() != "ou" or not conn.add(parent, ["organizationalUnit"], {"ou": name}):
                raise ProvisioningError(f"cannot make {parent} for the login hosts' account")
        secret = hashed(ldap3.HASHED_SALTED_SHA, password)
        if conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["1.1"]):
            if not conn.modify(dn, {"userPassword": [(ldap3.MODIFY_REPLACE, [secret])]}):
                raise ProvisioningError(f"cannot set the password of {dn}: {conn.result}")
            return False
        classes = ["organizationalRole", "simpleSecurityObject"]
        description = "American Toolserver login hosts: read what SSSD and sudo need"
        if not conn.add(
            dn, classes, {"cn": value, "userPassword": secret, "description": description}
        ):
            raise ProvisioningError(f"cannot make {dn}: {conn.result.get('description')}")
        return True
    except LDAPException as error:
        raise ProvisioningError(f"the directory {url} cannot be reached ({error})") from None
    finally:
        conn.unbind()


def exposure(url: str, base_dn: str, readers: Iterable[tuple[str, str]] = ()) -> list[str]:
    """What the directory at `url` tells those who should not learn it: entries to an
    anonymous search, password hashes to each `(dn, password)` reader. Empty when
    nothing; a directory that cannot be reached is a ProvisioningError."""
    found: list[str] = []
    anonymous = _connection(url)
    try:
        entries = []
        if anonymous.bind():  # a directory that refuses anonymous binds tells them nothing
            anonymous.search(base_dn, "(objectClass=*)", ldap3.SUBTREE, attributes=["1.1"])
            entries = [r for r in anonymous.response or [] if r.get("type") == "searchResEntry"]
        if entries:
            found.append(
                f"{url} answers an anonymous search under {base_dn} with {len(entries)} "
                f"entr{'y' if len(entries) == 1 else 'ies'} (e.g. {entries[0]['dn']})"
            )
        for dn, password in readers:
            found += _passwords_read(url, base_dn, dn, password)
    except LDAPException as error:
        raise ProvisioningError(f"the directory {url} cannot be reached ({error})") from None
    finally:
        anonymous.unbind()
    return found


def _passwords_read(url: str, base_dn: str, dn: str, password: str) -> list[str]:
    conn = _connection(url, dn, password)
    try:
        if not conn.bind():
            why = (conn.result or {}).get("description") or "refused"
            return [f"{url} refused the bind as {dn} ({why}: its password?)"]
        conn.search(base_dn, "(userPassword=*)", ldap3.SUBTREE, attributes=["userPassword"])
        shown = [
            item["dn"]
            for item in conn.response or []
            if item.get("type") == "searchResEntry" and item["raw_attributes"].get("userPassword")
        ]
        if shown:
            return [f"{url} shows {dn} the password hash of {', '.join(shown[:3])}"]
        return []
    finally:
        conn.unbind()
