"""The connection of the LDAP backend, and the reads and guarded writes it makes.

Outages: a lost connection (the server restarted or went away) is dropped and a new
one opened on the next operation; an operation that meets a lost connection runs once
more on a new one, and when the directory still cannot be reached it raises
`DirectoryUnavailableError` — one line, which the worker treats as an outage (the job
waits without spending an attempt), never as a fault of the job. A backend made while
the directory is down is no error (wrong credentials are): it connects when it can.

A guarded write (`_converge_entry`) reads the entry, builds the modify from what it
read (`ldap_entries`: deleting the exact values read, asserting the `entryCSN`), and
reads and tries again, up to `CONFLICT_RETRIES` times, when the server refuses it
because another writer changed the entry in between.
"""

from __future__ import annotations

import contextlib
import functools
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import ldap3
from ldap3.core.exceptions import LDAPCommunicationError, LDAPException

from provisioning.backend import NoSuchAccountError, ProvisioningError
from provisioning.ldap_entries import (
    ATTRS,
    CONFLICTS,
    NO_SUCH_OBJECT,
    SUCCESS,
    Changes,
    Entry,
    guard,
)

T = TypeVar("T")
CONFLICT_RETRIES = 5
PAGE_SIZE = 500


class DirectoryUnavailableError(ProvisioningError):
    """The directory could not be reached: an outage, not a fault of the job."""

    unavailable = True


def reconnecting(method: Callable[..., T]) -> Callable[..., T]:
    """Run `method`; on a lost connection open a new one and run it once more (every
    operation converges when repeated), then give up with DirectoryUnavailableError."""

    @functools.wraps(method)
    def wrapper(self: LdapConnection, *args: Any, **kwargs: Any) -> T:
        for attempt in (1, 2):
            try:
                return method(self, *args, **kwargs)
            except LDAPCommunicationError as error:
                self._drop()
                if attempt == 2:
                    raise DirectoryUnavailableError(
                        f"the directory {self.url} cannot be reached: {error}"
                    ) from None
        raise AssertionError("unreachable")

    return wrapper


class LdapConnection:
    """One bound connection to the directory, opened again when lost."""

    def __init__(self, url: str, bind_dn: str, password: str, *, timeout: float = 10) -> None:
        self.url = url
        self._credentials = (bind_dn, password)
        self._timeout = timeout
        self._conn: ldap3.Connection | None = None
        # Credentials are checked at once; a directory that is down is not an error
        # yet: a worker started during an outage waits for it like a running one.
        with contextlib.suppress(DirectoryUnavailableError):
            self._connect()

    @property
    def conn(self) -> ldap3.Connection:
        """The bound connection, opened again when the last one was lost."""
        if self._conn is None or self._conn.closed:
            self._connect()
        assert self._conn is not None
        return self._conn

    def _connect(self) -> None:
        bind_dn, password = self._credentials
        # A new Server each time: ldap3 marks an address that refused a connection as
        # unavailable for a few seconds, which would fail a reconnect made just after.
        server = ldap3.Server(self.url, get_info=ldap3.NONE, connect_timeout=self._timeout)
        try:
            self._conn = ldap3.Connection(
                server,
                user=bind_dn,
                password=password,
                auto_bind=ldap3.AUTO_BIND_NO_TLS,
                raise_exceptions=False,
                receive_timeout=self._timeout,
            )
        except LDAPCommunicationError as error:
            self._conn = None
            raise DirectoryUnavailableError(
                f"the directory {self.url} cannot be reached: {error}"
            ) from None
        except LDAPException as error:
            self._conn = None
            raise ProvisioningError(f"cannot bind to {self.url} as {bind_dn}: {error}") from None

    def _drop(self) -> None:
        """Forget a connection that failed; the next operation opens a new one."""
        if self._conn is not None:
            with contextlib.suppress(Exception):  # the socket is already gone
                self._conn.unbind()
        self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.unbind()
            self._conn = None

    def _converge_entry(
        self, dn: str, changes_for: Callable[[Entry], Changes], require: bool = False
    ) -> None:
        """Read `dn`, modify it as `changes_for(entry)` says under a guard, and read and
        try again when another writer changed it in between."""
        for attempt in range(CONFLICT_RETRIES):
            entry = self._require(dn) if require else self._read(dn)
            if entry is None:
                return
            changes = changes_for(entry)
            if not changes:
                return
            code = self._do(self.conn.modify(dn, changes, controls=guard(entry)))
            if code == SUCCESS:
                return
            if code not in CONFLICTS:
                self._fail("modify", dn)
            time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise ProvisioningError(
            f"{dn} kept changing under the modify ({CONFLICT_RETRIES} tries); it will be retried"
        )

    def _entries(self, base: str, expression: str) -> list[Entry]:
        """Every entry one level under `base` matching `expression`, page by page."""
        out: list[Entry] = []
        pages = self.conn.extend.standard.paged_search(
            base,
            expression,
            search_scope=ldap3.LEVEL,
            attributes=ATTRS,
            paged_size=PAGE_SIZE,
            generator=True,
        )
        for item in pages:
            if item.get("type") == "searchResEntry":
                out.append({k: v for k, v in item["raw_attributes"].items() if v})
        code = self.conn.result.get("result", SUCCESS)
        if code not in (SUCCESS, NO_SUCH_OBJECT):
            self._fail("search", base)
        return out

    def _read(self, dn: str) -> Entry | None:
        self.conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=ATTRS)
        code = self.conn.result["result"]
        if code == NO_SUCH_OBJECT:
            return None
        if code != SUCCESS:
            self._fail("read", dn)
        entries = [r for r in self.conn.response or [] if r.get("type") == "searchResEntry"]
        if not entries:
            return None
        return {k: v for k, v in entries[0]["raw_attributes"].items() if v}

    def _require(self, dn: str) -> Entry:
        entry = self._read(dn)
        if entry is None:
            raise NoSuchAccountError(f"there is no account {dn}")
        return entry

    def _do(self, _ok: bool) -> int:
        return int(self.conn.result["result"])

    def _fail(self, what: str, dn: str) -> None:
        result = self.conn.result
        raise ProvisioningError(
            f"LDAP {what} of {dn} failed: {result.get('description')} "
            f"({result.get('result')}) {result.get('message', '')}".strip()
        )
