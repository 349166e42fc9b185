"""A login host's configuration, rendered: every file a Debian host needs to serve the
directory, and the directory's own side (schemas, replication).

Pure: `render(HostSettings)` returns the files (`HostFile`: a path relative to the
output folder, laid out as on the host, the text, the mode), made from the templates
in `provisioning/hostfiles/` (read with importlib.resources) with `@NAME@`
placeholders filled in from the settings; `ats host render` writes them and the
admin applies them with their own tools (docs/login-hosts.md).

What they make a host do: SSSD reads members, groups, SSH keys and the tools' sudo
rules from `ldap_uri` (a read-only `syncrepl` consumer, normally); sshd takes keys
only from SSSD; PAM refuses a suspended member before a session opens (the access
filter) and makes homes (pam_mkhomedir for members, `ats-tool-home` through
pam_exec for a tool the first time it is become, group-writable and setgid);
`become NAME` runs `sudo -u tools.NAME`. The cache times are chosen so that a key
removed on the bridge, a suspension or a new co-maintainer reaches a login host
within a minute (`CACHE_SECONDS` plus replication, which takes well under a second).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

# SSSD's cache: an entry (a member, their keys, their groups) is asked for again
# after this many seconds, so a change is seen within it.
CACHE_SECONDS = 30
NEGATIVE_SECONDS = 15  # a name not found, asked for again after this
SUDO_SMART_REFRESH = 30  # the sudo rules changed since the last look, fetched this often
SUDO_FULL_REFRESH = 600
# How often ats-session-guard looks at what runs: a suspension or a removed
# co-maintainer ends their running sessions within this (plus replication).
GUARD_SECONDS = 10
PLACEHOLDER = re.compile(r"@[A-Z_]+@")


@dataclass(frozen=True)
class HostSettings:
    ldap_uri: str  # what the host's SSSD reads (a consumer, normally)
    provider_url: str  # where consumers replicate from (the directory the worker writes)
    base_dn: str
    replicator_dn: str  # the account consumers bind as (its password is never rendered)
    tool_home_root: str = "/data/project"
    login_host: str = "the login host"
    rules_url: str = ""
    bridge_url: str = ""
    host_dn: str = ""  # what the hosts' SSSD binds as (default: cn=login-hosts,ou=services,BASE)
    writer_dn: str = ""  # the worker's bind DN, which writes (default: replicator_dn)
    uid_min: int = 10000  # the directory's uids and gids: nothing outside logs in
    uid_max: int = 59999
    runtime_api: str = "http://127.0.0.1:8470/"  # where `toolforge jobs` sends requests
    sudo_refresh: int = SUDO_SMART_REFRESH  # seconds: a new tool's `become` works within it


@dataclass(frozen=True)
class HostFile:
    path: str  # relative to the output folder, as on the host (etc/sssd/sssd.conf)
    text: str
    mode: int = 0o644


# (template, where it goes, mode)
LAYOUT: tuple[tuple[str, str, int], ...] = (
    ("sssd.conf.tmpl", "etc/sssd/sssd.conf", 0o600),
    ("nsswitch.conf.tmpl", "etc/nsswitch.conf", 0o644),
    ("sshd-ats.conf.tmpl", "etc/ssh/sshd_config.d/ats.conf", 0o644),
    ("pam-config.tmpl", "usr/share/pam-configs/ats-login-host", 0o644),
    ("common-account.tmpl", "etc/pam.d/common-account", 0o644),
    ("common-session.tmpl", "etc/pam.d/common-session", 0o644),
    ("common-session.tmpl", "etc/pam.d/common-session-noninteractive", 0o644),
    ("sudoers-defaults.tmpl", "etc/sudoers.d/ats", 0o440),
    ("become.tmpl", "usr/local/bin/become", 0o755),
    ("toolforge.tmpl", "usr/local/bin/toolforge", 0o755),
    ("toolforge.tmpl", "usr/local/bin/toolforge-jobs", 0o755),
    ("toolforge.tmpl", "usr/local/bin/webservice", 0o755),
    ("ats-webservice.tmpl", "usr/local/bin/ats-webservice", 0o755),
    ("ats-web-relay.tmpl", "usr/local/bin/ats-web-relay", 0o755),
    ("ats-tool-home.tmpl", "usr/local/sbin/ats-tool-home", 0o755),
    ("ats-authorized-keys.tmpl", "usr/local/sbin/ats-authorized-keys", 0o755),
    ("ats-session-guard.tmpl", "usr/local/sbin/ats-session-guard", 0o755),
    ("ats-host-mounts.tmpl", "usr/local/sbin/ats-host-mounts", 0o755),
    ("ats-session-guard.service.tmpl", "etc/systemd/system/ats-session-guard.service", 0o644),
    ("ats-host-mounts.service.tmpl", "etc/systemd/system/ats-host-mounts.service", 0o644),
    ("motd.tmpl", "etc/motd", 0o644),
    ("slapd-provider.conf.tmpl", "ldap/provider.conf", 0o644),
    ("slapd-consumer.conf.tmpl", "ldap/consumer.conf", 0o640),
)
# The directory's schemas, copied as shipped (provisioning/schema).
SCHEMAS = ("openssh-lpk.schema", "sudo.schema", "sudo.ldif")


class RenderError(ValueError):
    """The settings cannot make a working host; the message says what to change."""


def render(settings: HostSettings) -> list[HostFile]:
    """Every file of the login host and the directory's side, in `LAYOUT` order."""
    values = _values(settings)
    values["ACCESS_RULES"] = fill(template("slapd-access.conf.tmpl"), values)
    out = []
    for name, path, mode in LAYOUT:
        text = template(name)
        if path.endswith("common-session"):
            text = text.replace("@SYSTEMD@", "session\toptional\tpam_systemd.so")
        elif path.endswith("common-session-noninteractive"):
            text = text.replace("@SYSTEMD@\n", "")
        out.append(HostFile(path, fill(text, values, name), mode))
    schemas = resources.files("provisioning") / "schema"
    for name in SCHEMAS:
        out.append(HostFile(f"ldap/{name}", (schemas / name).read_text("utf-8")))
    return out


def fill(text: str, values: dict[str, str], source: str = "") -> str:
    """`text` with every `@NAME@` replaced by its value; none may be left."""
    # ACCESS_RULES last: the rules it holds are filled in already.
    for name, value in sorted(values.items(), key=lambda item: item[0] == "ACCESS_RULES"):
        text = text.replace(f"@{name}@", value)
    left = PLACEHOLDER.findall(text)
    if left:
        raise AssertionError(f"{source}: no value for {', '.join(sorted(set(left)))}")
    return text


def _values(settings: HostSettings) -> dict[str, str]:
    for label, url in (("ldap_uri", settings.ldap_uri), ("provider", settings.provider_url)):
        if not re.match(r"^ldaps?://[^\s/]+/?$", url):
            raise RenderError(
                f"the directory's {label} {url!r} is not an ldap:// or ldaps:// URL with a "
                "host (set [provisioning] ldap_url, and replica_url for the login hosts)"
            )
    if not settings.base_dn or any(c in settings.base_dn for c in '"\n\r'):
        raise RenderError("[provisioning] base_dn is needed, e.g. dc=toolserver,dc=example")
    root = settings.tool_home_root.rstrip("/")
    if not root.startswith("/") or not re.match(r"^[-/A-Za-z0-9_.]+$", root):
        raise RenderError(f"the tool home root {root!r} must be a plain absolute path")
    host_dn = settings.host_dn or f"cn=login-hosts,ou=services,{settings.base_dn}"
    writer_dn = settings.writer_dn or settings.replicator_dn
    for key, dn in (("bind_dn", writer_dn), ("replicator_dn", settings.replicator_dn)):
        if not dn or any(c in dn for c in '"\n\r'):
            raise RenderError(f"[provisioning] {key} is needed, without quotes or line breaks")
    if any(c in host_dn for c in '"\n\r'):
        raise RenderError("[provisioning] host_bind_dn must not hold quotes or line breaks")
    if not 1000 <= settings.uid_min < settings.uid_max < 2**31 - 1:
        raise RenderError(
            f"the directory's uids {settings.uid_min}-{settings.uid_max} must be a range "
            "above 999 ([provisioning] uid_min and uid_max)"
        )
    if not re.match(r"^https?://[^\s\"'\\]+$", settings.runtime_api):
        raise RenderError(
            f"the jobs service's URL {settings.runtime_api!r} is not an http(s):// URL "
            "([runtime] api_url, or api_listen)"
        )
    return {
        "RUNTIME_API": settings.runtime_api,
        "LDAP_URI": settings.ldap_uri,
        "PROVIDER_URL": settings.provider_url,
        "BASE_DN": settings.base_dn,
        "REPLICATOR_DN": settings.replicator_dn,
        "WRITER_DN": writer_dn,
        "HOST_DN": host_dn,
        "UID_MIN": str(settings.uid_min),
        "UID_MAX": str(settings.uid_max),
        "GUARD_SECONDS": str(GUARD_SECONDS),
        "TOOL_HOME_ROOT": root,  # plain characters only (checked above): safe in a script
        "LOGIN_HOST": _line(settings.login_host) or "this host",
        "RULES_URL": _line(settings.rules_url) or "(ask the chapter's administrators)",
        "BRIDGE_URL": _line(settings.bridge_url) or "the chapter's bridge",
        "ENTRY_CACHE_TIMEOUT": str(CACHE_SECONDS),
        "MEMCACHE_TIMEOUT": str(CACHE_SECONDS),
        "NEGATIVE_TIMEOUT": str(NEGATIVE_SECONDS),
        "SUDO_SMART_REFRESH": str(settings.sudo_refresh),
        "SUDO_FULL_REFRESH": str(SUDO_FULL_REFRESH),
    }


def _line(value: str) -> str:
    """One line of plain text, safe inside the motd and the become script's message."""
    return re.sub(r"[^\w :/.?=&%#~+,-]", "", value.replace("\n", " "))[:200]


def template(name: str) -> str:
    """The text of a template of provisioning/hostfiles."""
    return (resources.files("provisioning") / "hostfiles" / name).read_text("utf-8")
