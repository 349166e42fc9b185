"""How the `ats databases` commands reach the tool databases: the reconciler over the
configured store and server, the server's administrator settings from [databases], and
the store's lease `databases` that one pass, rotation, drop or backup holds at a time."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ats.config import Config, secret

if TYPE_CHECKING:
    from databases.server import AdminSettings

LEASE_TTL = 15.0  # seconds: a reconciler that died elsewhere is replaced after this


@contextlib.contextmanager
def reconciler(config: Config) -> Iterator[Any]:
    """The reconciler over the configured store and server, closed after use."""
    from databases.desired import Homes
    from databases.plan import Settings
    from databases.reconciler import Reconciler
    from databases.server import connect
    from membership.store import Store

    section, provisioning = config.databases, config.provisioning
    admin = admin_settings(config)
    homes = Homes(
        person=provisioning.person_home,
        tool=provisioning.tool_home,
        root=provisioning.home_root,
    )
    settings = Settings(section.client_host, section.client_port, section.max_connections)
    with contextlib.closing(Store(config.store_path)) as store:
        server = connect(admin)
        try:
            yield Reconciler(store, server, homes, settings)
        finally:
            server.close()


def admin_settings(config: Config) -> AdminSettings:
    """How the server is reached as its administrator, from [databases]."""
    from databases.server import AdminSettings

    section = config.databases
    password = secret("ATS_DATABASES_PASSWORD") if section.admin_host else ""
    return AdminSettings(
        socket=section.admin_socket,
        host=section.admin_host,
        port=section.admin_port,
        user=section.admin_user,
        password=password,
    )


def databases_lease(store: Any) -> Any:
    """The store's lease `databases`, which a pass, a rotation and a drop hold."""
    from databases.reconciler import LEASE, ROLE
    from membership.lease import ClerkLease

    return ClerkLease(store, LEASE, ttl=LEASE_TTL, role=ROLE)


@contextlib.contextmanager
def holding_databases_lease(store: Any) -> Iterator[Any]:
    """The lease `databases`, waited for (a pass of the service gives it up between
    passes) and held until the block ends: what an admin's command does under it."""
    lease = databases_lease(store)
    lease.acquire(wait=LEASE_TTL * 2)
    try:
        yield lease
    finally:
        lease.release()
