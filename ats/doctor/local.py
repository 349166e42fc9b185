"""The checks of this machine's side: the bridge's public URL, the OAuth consumer, the
directory (or unix root) accounts are made in, and the store's file and schema.

Nothing is changed: the store is opened read-only (opening it as a `Store` would apply
migrations), the directory is only bound and searched.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from ats.config import Config
from ats.doctor.check import TIMEOUT, Check, failed, passed, reason

DEFAULT_BRIDGE_URL = "http://127.0.0.1:5000"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def check_bridge_url(config: Config) -> Check:
    name, url = "bridge url", config.bridge.url
    parts = urlsplit(url)
    if url.rstrip("/") == DEFAULT_BRIDGE_URL:
        return failed(
            name,
            f"[bridge] url is the default {DEFAULT_BRIDGE_URL}: the bot sends requesters there",
            "set [bridge] url to the bridge's public https address, e.g. "
            "https://toolserver.example.org",
        )
    if parts.scheme != "https" and parts.hostname not in LOOPBACK:
        return failed(
            name,
            f"{url} is not https: sessions and sign-ins would cross the network in clear",
            "serve the bridge behind a TLS proxy and set [bridge] url to its https address",
        )
    proxied = config.bridge.trusted_proxies
    behind = f", behind {proxied} trusted prox{'ies' if proxied > 1 else 'y'}" if proxied else ""
    return passed(name, f"{url}{behind}")


def check_oauth(config: Config, env: Mapping[str, str]) -> Check:
    name, key = "OAuth consumer", config.bridge.consumer_key
    register = (
        "register an OAuth consumer at Special:OAuthConsumerRegistration/propose "
        "(identity only: 'User identity verification only'), callback "
        f"{config.bridge.url}/oauth/callback, and set [bridge] consumer_key and ATS_OAUTH_SECRET"
    )
    if not key:
        return failed(name, "[bridge] consumer_key is not set", register)
    secret = env.get("ATS_OAUTH_SECRET", "")
    if not secret:
        return failed(name, "ATS_OAUTH_SECRET is not set", register)
    from bridge.oauth import OAuthClient, OAuthError, OAuthSettings

    try:
        settings = OAuthSettings.from_api_url(
            config.wiki.api,
            version=config.bridge.oauth_version,
            consumer_key=key,
            consumer_secret=secret,
            callback_url=config.bridge.url + "/oauth/callback",
        )
        if config.bridge.oauth_index_url:
            settings = _replace(settings, index_url=config.bridge.oauth_index_url)
        if config.bridge.oauth_rest_url:
            settings = _replace(settings, rest_url=config.bridge.oauth_rest_url)
        url, _ = OAuthClient(settings).start()
    except ValueError as error:
        return failed(name, str(error), "correct the [bridge] OAuth settings")
    except OAuthError as error:
        return failed(name, f"the wiki did not start a sign-in for {key}: {error}", register)
    if config.bridge.oauth_version == 1:
        return passed(name, f"the wiki knows consumer {key} (OAuth 1.0a)")
    try:
        answer = requests.get(url, allow_redirects=False, timeout=TIMEOUT)
    except requests.RequestException as error:
        return failed(
            name, f"the wiki's OAuth 2.0 endpoint cannot be reached ({reason(error)})", register
        )
    if answer.status_code == 404:
        return failed(
            name,
            f"{url.split('?')[0]} does not exist: the wiki has no OAuth extension there",
            "install the OAuth extension, or set [bridge] oauth_rest_url to the rest.php "
            "of the wiki where the consumer is registered",
        )
    if answer.status_code >= 400:
        return failed(
            name, f"the wiki refused consumer {key} (HTTP {answer.status_code})", register
        )
    # Logged out, the extension sends every client to the login form: whether it knows
    # this key shows only at the first sign-in.
    return passed(
        name, f"OAuth 2.0 endpoint answers for {key} (the key is proven at the first sign-in)"
    )


def _replace(settings: Any, **changes: str) -> Any:
    from dataclasses import replace

    if "index_url" in changes:
        parts = urlsplit(changes["index_url"])
        changes = {**changes, "server": f"{parts.scheme}://{parts.netloc}"}
    return replace(settings, **changes)


def check_directory(config: Config, env: Mapping[str, str]) -> Check:
    settings, name = config.provisioning, "directory"
    if settings.backend == "dry-run":
        return passed(name, "dry-run backend: no accounts are made")
    if settings.backend == "unix":
        root = Path(settings.root or "/")
        if not root.is_dir():
            return failed(
                name,
                f"the unix root {root} is not a folder",
                "create it or correct [provisioning] root",
            )
        # The backend writes etc/ (passwd, group, shadow) and home/ under the root.
        places = [root] + [root / part for part in ("etc", "home") if (root / part).exists()]
        if not all(os.access(place, os.W_OK) for place in places):
            return failed(
                name,
                f"this user cannot write under the unix root {root}",
                "run the worker as a user who may write there, or correct [provisioning] root",
            )
        return passed(name, f"unix backend, root {root} writable")
    import ldap3
    from ldap3.core.exceptions import LDAPException

    password = env.get("ATS_LDAP_PASSWORD", "")
    if not password:
        return failed(
            name, "ATS_LDAP_PASSWORD is not set", "put the bind password in ATS_LDAP_PASSWORD"
        )
    server = ldap3.Server(settings.ldap_url, get_info=ldap3.NONE, connect_timeout=int(TIMEOUT))
    conn = ldap3.Connection(
        server,
        user=settings.bind_dn,
        password=password,
        raise_exceptions=False,
        receive_timeout=int(TIMEOUT),
    )
    try:
        if not conn.bind():
            why = conn.result.get("description", "refused") if conn.result else "refused"
            return failed(
                name,
                f"the directory {settings.ldap_url} refused the bind as {settings.bind_dn} ({why})",
                "check [provisioning] bind_dn and ATS_LDAP_PASSWORD",
            )
        conn.search(settings.base_dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=[])
        if not conn.entries:
            return failed(
                name,
                f"the base DN {settings.base_dn} is not in the directory",
                "create it, or correct [provisioning] base_dn",
            )
    except LDAPException as error:
        return failed(
            name,
            f"the directory {settings.ldap_url} cannot be reached ({error})",
            "start the directory, or correct [provisioning] ldap_url",
        )
    finally:
        conn.unbind()
    return _directory_access(config, env) or passed(
        name,
        f"bound to {settings.ldap_url} as {settings.bind_dn}; {settings.base_dn} found; "
        "nothing shown to anonymous readers or the login hosts' DN",
    )


def _directory_access(config: Config, env: Mapping[str, str]) -> Check | None:
    """A failed check when the directory (or the hosts' replica) tells an anonymous
    reader anything, or the login hosts' DN a password; None when it holds."""
    from provisioning.backend import ProvisioningError
    from provisioning.directory_access import exposure

    settings = config.provisioning
    host_password = env.get("ATS_HOST_LDAP_PASSWORD", "")
    readers = [(settings.host_dn, host_password)] if host_password else []
    told: list[str] = []
    for url in dict.fromkeys(u for u in (settings.ldap_url, settings.replica_url) if u):
        try:
            told += exposure(url, settings.base_dn, readers)
        except ProvisioningError as error:
            told.append(str(error))
    if not told:
        return None
    return failed(
        "directory",
        "; ".join(told),
        "give the directory the access rules `ats host render` writes (ldap/provider.conf, "
        "ldap/consumer.conf): anonymous readers only bind, the login hosts read no password",
    )


def check_store(path: Path) -> Check:
    from membership.store import MIGRATIONS, migrations

    name = "store"
    if not path.exists():
        folder = path.parent
        while not folder.exists():
            folder = folder.parent
        if not os.access(folder, os.W_OK):
            return failed(
                name,
                f"{path} does not exist and {folder} is not writable",
                "fix [store] path or the folder's owner",
            )
        return passed(name, f"{path} does not exist yet: the first command creates it")
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return failed(
            name,
            f"{path} (or its folder) is not writable by this user",
            "give the service user (e.g. ats) the store's folder: chown -R ats: FOLDER",
        )
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=TIMEOUT)
        ) as db:
            db.execute("PRAGMA quick_check").fetchone()
            try:
                rows = db.execute(
                    "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [migrations.name]
                ).fetchall()
            except sqlite3.OperationalError:
                rows = []
    except sqlite3.DatabaseError as error:
        return failed(
            name,
            f"{path} is not a usable SQLite database ({error})",
            "restore it from a backup (`ats restore FILE`) or fix [store] path",
        )
    applied = [row[0] for row in rows]
    known = MIGRATIONS
    if not applied:
        return failed(
            name, f"{path} holds no ats schema", "fix [store] path: it names another database"
        )
    unknown = [n for n in applied if n not in known]
    if unknown:
        return failed(
            name,
            f"{path} was written by a newer version of ats ({', '.join(unknown)})",
            "upgrade ats to the version that wrote it",
        )
    missing = [n for n in known if n not in applied]
    if missing:
        return failed(
            name,
            f"{path} is at an old schema: {len(missing)} migration(s) to apply, from {missing[0]}",
            "back it up (`ats backup FILE`), stop the services, then run `ats report` once: "
            "any command brings the store up to date",
        )
    return passed(name, f"{path} writable, schema current ({len(known)} migrations)")
