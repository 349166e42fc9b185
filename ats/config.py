"""Loading and checking the TOML configuration file.

Every section and key the program understands is declared once in `SCHEMA`, with its
type, default and a line of help; `load_config` reads a file, refuses unknown or
mistyped keys with a message naming the file, the section and the key (and the
nearest known key for a typo), resolves relative paths against the file's folder,
and returns a frozen `Config`. Secrets never live in this file: they come from the
environment (`ATS_BOT_PASSWORD`, `ATS_OAUTH_SECRET`, `ATS_SESSION_KEY`,
`ATS_LDAP_PASSWORD`).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from policies.eligibility import EligibilityPolicy, PolicyError, load_policy

REQUIRED = object()


@dataclass(frozen=True)
class Key:
    type: type | tuple[type, ...]
    default: Any
    help: str


SCHEMA: dict[str, dict[str, Key]] = {
    "wiki": {
        "api": Key(str, REQUIRED, "URL of the wiki's api.php"),
        "request_page": Key(str, REQUIRED, "title of the on-wiki request page"),
        "run_page": Key(str, "", "kill-switch page: the bot acts only while it reads `true`"),
        "archive_after_days": Key(int, 7, "days a closed request stays before archiving"),
        "expire_after_days": Key(int, 60, "days without progress before a request expires"),
        "backlog_days": Key(int, 7, "a request open longer than this shows a backlog notice"),
        "request_prefixes": Key(
            list, ["Account request:", "Tool request:"], "headings that mark a request"
        ),
        "request_template": Key(str, "ATS request", "name of the request template"),
        "status_template": Key(str, "ATS status", "name of the status template"),
        "stream_url": Key(
            str,
            "",
            "EventStreams recentchange URL `ats bot watch` follows (empty: poll recent changes)",
        ),
    },
    "bot": {
        "username": Key(str, REQUIRED, "bot login, e.g. ClerkBot@clerk (password in env)"),
        "workdir": Key(str, "", "pywikibot's private folder (default: beside the store)"),
        "edit_interval": Key((int, float), 10.0, "minimum seconds between two saves"),
        "maxlag": Key(int, 5, "maxlag sent with every request"),
        "user_cache_hours": Key((int, float), 24, "how long a user look-up is reused"),
    },
    "store": {"path": Key(str, "var/ats.sqlite", "the SQLite database shared by all parts")},
    "bridge": {
        "url": Key(str, "http://127.0.0.1:5000", "where requesters reach the bridge"),
        "oauth_version": Key(int, 2, "MediaWiki OAuth version: 2 or 1 (1.0a)"),
        "consumer_key": Key(str, "", "OAuth consumer key (secret in ATS_OAUTH_SECRET)"),
        "oauth_index_url": Key(
            str, "", "index.php of the wiki where the consumer is registered (empty: beside api)"
        ),
        "oauth_rest_url": Key(
            str, "", "rest.php of the wiki where the consumer is registered (empty: beside api)"
        ),
    },
    "provisioning": {
        "backend": Key(str, "dry-run", "ldap | unix | dry-run"),
        "ldap_url": Key(str, "", "ldap://host:port of the directory"),
        "base_dn": Key(str, "", "suffix under which people and tools live"),
        "bind_dn": Key(str, "", "DN to bind as (password in ATS_LDAP_PASSWORD)"),
        "root": Key(str, "", "unix backend: root prefix for /etc and /home"),
        "login_host": Key(str, "", "the host members log in to, named in the bot's done reply"),
        "lease_seconds": Key(
            int, 60, "a job's lease, renewed while it runs; a dead worker's job is free after it"
        ),
        "outage_retry_seconds": Key(
            int, 30, "wait before a job meets an unreachable directory again (no attempt spent)"
        ),
        "home_mode": Key(str, "0750", "unix backend: mode of a new home, in octal"),
        "reconcile_seconds": Key(
            int, 3600, "how often `ats provision run` reconciles the directory (0: never)"
        ),
    },
}
SECRETS = {
    "ATS_BOT_PASSWORD": "the bot's (Bot)password",
    "ATS_OAUTH_SECRET": "the OAuth consumer secret",
    "ATS_SESSION_KEY": "the bridge's session signing key",
    "ATS_LDAP_PASSWORD": "the LDAP bind password",
}


class ConfigError(ValueError):
    """The configuration cannot be used; the message says what to change."""


@dataclass(frozen=True)
class Section:
    values: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class Config:
    path: Path | None
    wiki: Section
    bot: Section
    store: Section
    bridge: Section
    provisioning: Section
    policy: EligibilityPolicy

    @property
    def store_path(self) -> Path:
        return Path(self.store.path)

    @property
    def bot_workdir(self) -> Path:
        return Path(self.bot.workdir) if self.bot.workdir else self.store_path.parent / "pywikibot"


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return config_from_mapping(data, path)


def config_from_mapping(data: Mapping[str, Any], path: Path | None = None) -> Config:
    where = str(path) if path else "configuration"
    known = [*SCHEMA, "policy"]
    for name in data:
        if name not in known:
            raise ConfigError(f"{where}: unknown section [{name}]{_hint(name, known)}")
    base = path.parent.resolve() if path else Path.cwd()
    sections = {
        name: Section(_section(where, name, data.get(name, {}), keys, base))
        for name, keys in SCHEMA.items()
    }
    try:
        policy = load_policy(data.get("policy", {}))
    except PolicyError as error:
        raise ConfigError(f"{where}: [policy] {error}") from None
    _check_values(where, sections)
    return Config(path=path, policy=policy, **sections)


def _section(
    where: str, name: str, raw: Any, keys: Mapping[str, Key], base: Path
) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: [{name}] must be a table of keys")
    for key in raw:
        if key not in keys:
            raise ConfigError(f"{where}: [{name}] unknown key {key!r}{_hint(key, list(keys))}")
    values: dict[str, Any] = {}
    for key, spec in keys.items():
        if key not in raw:
            if spec.default is REQUIRED:
                raise ConfigError(f"{where}: [{name}] {key} is missing ({spec.help})")
            values[key] = spec.default
            continue
        value = raw[key]
        types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            wanted = " or ".join(_type_name(t) for t in types)
            raise ConfigError(
                f"{where}: [{name}] {key} must be {wanted}, not {value!r} ({spec.help})"
            )
        values[key] = value
    # Paths in the file are relative to the file, not to the current directory.
    for key in ("path", "workdir", "root"):
        if key in keys and values.get(key):
            values[key] = str((base / values[key]).resolve())
    return values


def _check_values(where: str, sections: Mapping[str, Section]) -> None:
    api = sections["wiki"].api
    parts = urlsplit(api)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or not api.endswith("api.php")
        or parts.path.rsplit("/", 1)[-1] != "api.php"
    ):
        raise ConfigError(
            f"{where}: [wiki] api must be the full URL of api.php, e.g. "
            f"https://meta.wikimedia.org/w/api.php (got {api!r})"
        )
    if not sections["wiki"].request_page.strip():
        raise ConfigError(f"{where}: [wiki] request_page must not be empty")
    if sections["bridge"].oauth_version not in (1, 2):
        raise ConfigError(f"{where}: [bridge] oauth_version must be 1 or 2")
    for key, script in (("oauth_index_url", "index.php"), ("oauth_rest_url", "rest.php")):
        value = sections["bridge"].values[key]
        url = urlsplit(value)
        if value and (
            url.scheme not in ("http", "https") or not url.netloc or not url.path.endswith(script)
        ):
            raise ConfigError(
                f"{where}: [bridge] {key} must be the full URL of the wiki's {script}, e.g. "
                f"https://meta.wikimedia.org/w/{script}, or empty to use the one beside "
                "[wiki] api"
            )
    backend = sections["provisioning"].backend
    if backend not in ("ldap", "unix", "dry-run"):
        raise ConfigError(f"{where}: [provisioning] backend must be ldap, unix or dry-run")
    provisioning = sections["provisioning"]
    if provisioning.lease_seconds < 5:
        raise ConfigError(f"{where}: [provisioning] lease_seconds must be at least 5")
    if provisioning.reconcile_seconds < 0:
        raise ConfigError(f"{where}: [provisioning] reconcile_seconds must be 0 or more")
    if provisioning.outage_retry_seconds < 1:
        raise ConfigError(f"{where}: [provisioning] outage_retry_seconds must be at least 1")
    try:
        mode = int(provisioning.home_mode, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise ConfigError(
            f'{where}: [provisioning] home_mode must be an octal mode such as "0750" '
            f"(got {provisioning.home_mode!r})"
        )
    stream = urlsplit(sections["wiki"].stream_url)
    if sections["wiki"].stream_url and (
        stream.scheme not in ("http", "https") or not stream.netloc
    ):
        raise ConfigError(
            f"{where}: [wiki] stream_url must be an http(s) URL, e.g. "
            "https://stream.wikimedia.org/v2/stream/recentchange, or empty to poll"
        )
    for key in ("archive_after_days", "expire_after_days", "backlog_days"):
        if sections["wiki"].values[key] < 0:
            raise ConfigError(f"{where}: [wiki] {key} must not be negative")


def _hint(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(choices)}"


def _type_name(kind: type) -> str:
    return {
        str: "a string",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        list: "a list",
    }.get(kind, kind.__name__)


def secret(name: str) -> str:
    """A secret from the environment, or a ConfigError saying which one is missing."""
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"{name} is not set: it must hold {SECRETS[name]}")
    return value


def describe() -> str:
    """The configuration reference, generated from SCHEMA (used by `ats config keys`)."""
    lines = []
    for name, keys in SCHEMA.items():
        lines.append(f"[{name}]")
        for key, spec in keys.items():
            default = "required" if spec.default is REQUIRED else f"default {spec.default!r}"
            lines.append(f"  {key:20} {spec.help} ({default})")
    lines.append("[policy]")
    for key, value in EligibilityPolicy().__dict__.items():
        lines.append(f"  {key:20} default {list(value) if isinstance(value, tuple) else value!r}")
    return "\n".join(lines)
