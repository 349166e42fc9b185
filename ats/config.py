"""Loading and checking the TOML configuration file.

Every section the program understands is one frozen dataclass (`WikiSettings`,
`BotSettings`, …) whose typed fields declare its keys, with default and a line of help;
`load_config` reads a file, checks each section with `policies.tomlcheck` (unknown or
mistyped keys are refused with a message naming the file, the section and the key, and
the nearest known key for a typo), resolves relative paths against the file's folder,
and returns a frozen `Config`. Secrets never live in this file: they come from the
environment (`ATS_BOT_PASSWORD`, `ATS_OAUTH_SECRET`, `ATS_SESSION_KEY`,
`ATS_LDAP_PASSWORD`, `ATS_MAIL_PASSWORD`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from policies.eligibility import EligibilityPolicy, PolicyError, load_policy
from policies.tomlcheck import TableError, did_you_mean, help_of, load_table, setting


@dataclass(frozen=True, kw_only=True)
class WikiSettings:
    api: str = setting(help="URL of the wiki's api.php")
    request_page: str = setting(help="title of the on-wiki request page")
    run_page: str = setting("", help="kill-switch page: the bot acts only while it reads `true`")
    archive_after_days: int = setting(
        7, minimum=0, help="days a closed request stays before archiving"
    )
    expire_after_days: int = setting(
        60, minimum=0, help="days without progress before a request expires"
    )
    backlog_days: int = setting(
        7, minimum=0, help="a request open longer than this shows a backlog notice"
    )
    request_prefixes: tuple[str, ...] = setting(
        ("Account request:", "Tool request:"), help="headings that mark a request"
    )
    request_template: str = setting("ATS request", help="name of the request template")
    status_template: str = setting("ATS status", help="name of the status template")
    stream_url: str = setting(
        "",
        help="EventStreams recentchange URL `ats bot watch` follows (empty: poll recent changes)",
    )


@dataclass(frozen=True, kw_only=True)
class BotSettings:
    username: str = setting(help="bot login, e.g. ClerkBot@clerk (password in env)")
    workdir: str = setting("", help="pywikibot's private folder (default: beside the store)")
    edit_interval: int | float = setting(10.0, help="minimum seconds between two saves")
    progress_settle: int | float = setting(
        60.0,
        help="seconds a requester's steps on the bridge must rest before the bot says on-wiki "
        "where the request stands (several steps, one reply)",
    )
    maxlag: int = setting(5, help="maxlag sent with every request")
    user_cache_hours: int | float = setting(24, help="how long a user look-up is reused")


@dataclass(frozen=True, kw_only=True)
class StoreSettings:
    path: str = setting("var/ats.sqlite", help="the SQLite database shared by all parts")


@dataclass(frozen=True, kw_only=True)
class BridgeSettings:
    url: str = setting("http://127.0.0.1:5000", help="where requesters reach the bridge")
    oauth_version: int = setting(2, choices=(1, 2), help="MediaWiki OAuth version: 2 or 1 (1.0a)")
    consumer_key: str = setting("", help="OAuth consumer key (secret in ATS_OAUTH_SECRET)")
    oauth_index_url: str = setting(
        "", help="index.php of the wiki where the consumer is registered (empty: beside api)"
    )
    oauth_rest_url: str = setting(
        "", help="rest.php of the wiki where the consumer is registered (empty: beside api)"
    )
    trusted_proxies: int = setting(
        0,
        minimum=0,
        help="reverse proxies in front of the bridge whose X-Forwarded-* headers are believed",
    )
    login_limit: int = setting(
        10, minimum=1, help="sign-ins a client may start and not finish within login_window"
    )
    login_window: int = setting(600, minimum=1, help="seconds the login_limit counts over")


@dataclass(frozen=True, kw_only=True)
class ProvisioningSettings:
    backend: str = setting(
        "dry-run", choices=("ldap", "unix", "dry-run"), help="ldap | unix | dry-run"
    )
    ldap_url: str = setting("", help="ldap://host:port of the directory")
    base_dn: str = setting("", help="suffix under which people and tools live")
    bind_dn: str = setting("", help="DN to bind as (password in ATS_LDAP_PASSWORD)")
    root: str = setting("", help="unix backend: root prefix for /etc and /home")
    login_host: str = setting("", help="the host members log in to, named in the bot's done reply")
    lease_seconds: int = setting(
        60,
        minimum=5,
        help="a job's lease, renewed while it runs; a dead worker's job is free after it",
    )
    outage_retry_seconds: int = setting(
        30,
        minimum=1,
        help="wait before a job meets an unreachable directory again (no attempt spent)",
    )
    home_mode: str = setting("0750", help="unix backend: mode of a new home, in octal")
    tool_home_root: str = setting(
        "/data/project", help="where a tool's home is made: ROOT/NAME, group-writable, setgid"
    )
    replica_url: str = setting(
        "", help="ldap://host:port login hosts read (a syncrepl consumer); empty: ldap_url"
    )
    rules_page: str = setting(
        "", help="wiki page of the chapter's rules, named at login (empty: the request page)"
    )
    reconcile_seconds: int = setting(
        3600,
        minimum=0,
        help="how often `ats provision run` reconciles the directory (0: never)",
    )
    uid_min: int = setting(
        10000,
        minimum=1000,
        help="the lowest uid/gid the directory gives; login hosts refuse keys for any "
        "account outside uid_min..uid_max (a local account of the host)",
    )
    uid_max: int = setting(59999, minimum=1001, help="the highest uid/gid the directory gives")
    reserved_names: tuple[str, ...] = setting(
        (),
        help="more shell names never given to members or tools: the login hosts' own "
        "local accounts (`ats host check` names any that clash)",
    )
    host_bind_dn: str = setting(
        "",
        help="the DN login hosts bind as to read the directory (empty: "
        "cn=login-hosts,ou=services,BASE_DN); password in ATS_HOST_LDAP_PASSWORD",
    )
    replicator_dn: str = setting(
        "", help="the DN the directory's replicas bind as (empty: bind_dn)"
    )

    @property
    def person_home(self) -> str:
        """Where a member's home is made: the pattern (`{name}`: the shell name) both
        backends use, as SSSD and pam_mkhomedir find it on the login hosts."""
        return "/home/{name}"

    @property
    def tool_home(self) -> str:
        """Where a tool's home is made: `tool_home_root`/NAME."""
        return self.tool_home_root.rstrip("/") + "/{name}"

    @property
    def home_root(self) -> str:
        """What the homes' paths are under on this host: the unix backend's `root`,
        else "/"."""
        return (self.root or "/") if self.backend == "unix" else "/"

    @property
    def host_dn(self) -> str:
        """The DN login hosts bind as."""
        return self.host_bind_dn or f"cn=login-hosts,ou=services,{self.base_dn}"

    @property
    def replication_dn(self) -> str:
        """The DN replicas bind as."""
        return self.replicator_dn or self.bind_dn


@dataclass(frozen=True, kw_only=True)
class RuntimeSettings:
    """Where tools' jobs run: the Slurm cluster `ats host render` writes slurm.conf for."""

    controller_host: str = setting(
        "",
        help="the short hostname slurmctld runs on, and the node the front door runs on "
        "(empty: the hostname of the machine running `ats host render` or `ats runtime`)",
    )
    controller_address: str = setting(
        "", help="the address nodes reach the controller at, when its name does not resolve"
    )
    nodes: tuple[str, ...] = setting(
        (),
        help="the nodes jobs run on, each NAME:CPUS:MEMORY_MB[:ADDRESS] (empty: the "
        "controller host alone, with the CPUs and memory of the machine rendering, less "
        "reserved_mem)",
    )
    reserved_mem: int = setting(
        1024,
        minimum=0,
        help="MB of the hosting server's memory jobs are never given, when nodes is empty",
    )
    partition: str = setting("tools", help="the Slurm partition tools' jobs run in")
    cluster_name: str = setting("toolserver", help="Slurm's ClusterName")
    slurmctld_port: int = setting(6817, minimum=1, help="the controller's TCP port")
    slurmd_port: int = setting(6818, minimum=1, help="each node's slurmd TCP port")
    default_mem: int = setting(
        512,
        minimum=16,
        help="MB per CPU a job is given when it asks no --mem (DefMemPerCPU; without it "
        "such a job would take a node's whole memory)",
    )
    min_job_age: int = setting(
        300,
        minimum=2,
        help="seconds a finished job's state stays visible to squeue (there is no "
        "accounting database)",
    )
    cgroup_plugin: str = setting(
        "autodetect",
        choices=("autodetect", "cgroup/v1", "cgroup/v2"),
        help="cgroup.conf's CgroupPlugin",
    )
    constrain_cores: bool = setting(
        True, help="hold a job to the cores it was given (cgroup.conf's ConstrainCores)"
    )
    api_listen: str = setting(
        "127.0.0.1:8470",
        help="HOST:PORT `ats runtime serve` answers `toolforge jobs` on (each request is a "
        "MUNGE credential)",
    )
    api_url: str = setting(
        "",
        help="the URL the login hosts' `toolforge` sends requests to (empty: http:// and "
        "api_listen)",
    )
    log_root: str = setting(
        "/var/lib/ats-runtime/logs",
        help="where output of jobs run with --no-filelog is kept, a folder per tool (on "
        "several nodes: shared, like the tools' homes)",
    )
    munge_socket: str = setting("", help="munged's socket (empty: MUNGE's default)")
    slurm_conf: str = setting(
        "", help="slurm.conf Slurm's commands read (empty: SLURM_CONF, else /etc/slurm)"
    )
    policy: str = setting(
        "", help="the jobs policy file: images, defaults, quotas (empty: policies/runtime.toml)"
    )

    @property
    def client_url(self) -> str:
        """Where the login hosts' `toolforge` sends requests."""
        return self.api_url or f"http://{self.api_listen}/"


@dataclass(frozen=True, kw_only=True)
class MailSettings:
    """The relay tools' jobs mail their maintainers through (`toolforge jobs run --emails`)."""

    relay: str = setting(
        "", help="the SMTP relay's host name (empty: no relay, and no mail is sent)"
    )
    port: int = setting(25, minimum=1, help="the relay's SMTP port")
    starttls: bool = setting(False, help="STARTTLS before sending (required with a username)")
    username: str = setting(
        "", help="the login at the relay (empty: none); password in ATS_MAIL_PASSWORD"
    )
    sender: str = setting("", help="the From address of the mails, e.g. tools@toolserver.example")
    recipient_domain: str = setting(
        "",
        help="maintainers get mail at SHELLNAME@recipient_domain: the relay forwards each "
        "member's address",
    )
    timeout: int | float = setting(
        30.0, minimum=1, help="seconds to wait for the relay before trying again later"
    )


@dataclass(frozen=True, kw_only=True)
class WebSettings:
    """The front door: every tool's web service at https://TOOL.DOMAIN/."""

    domain: str = setting(
        "", help="the chapter's domain: tools answer at TOOL.DOMAIN (empty: no web)"
    )
    https_port: int = setting(443, minimum=1, help="the front door's HTTPS port")
    http_port: int = setting(
        80, minimum=0, help="its plain HTTP port, which redirects to HTTPS (0: none)"
    )
    listen: str = setting("", help="the address the front door listens on (empty: every one)")
    storage: str = setting(
        "/var/lib/caddy/.local/share/caddy",
        help="Caddy's data folder (its certificates; the internal CA without tls_cert)",
    )
    access_log: str = setting(
        "", help="Caddy's access log, without visitors' addresses (empty: none)"
    )
    admin: str = setting(
        "unix//var/lib/caddy/admin.sock",
        help="Caddy's admin API, which the jobs service configures: unix//PATH, a socket only "
        "Caddy's user and root may open (HOST:PORT is open to every local user, tools' jobs "
        "included)",
    )
    tls_cert: str = setting(
        "", help="the certificate (a wildcard for *.DOMAIN; empty: Caddy's internal CA)"
    )
    tls_key: str = setting("", help="its private key")
    socket_root: str = setting(
        "/run/ats-web",
        help="a folder per tool holding its web service's socket (the tool's, group caddy)",
    )
    node_port: int = setting(
        81,
        minimum=1,
        help="the port of the node doors: on each node of [runtime] nodes but the front "
        "door's own host, a Caddy that hands the front door the web services running "
        "there, in plain HTTP on the cluster's private network (keep it below 1024: no "
        "tool's job can listen on a privileged port in its place while it is down)",
    )

    def url(self, tool: str) -> str:
        """The tool's address."""
        port = "" if self.https_port == 443 else f":{self.https_port}"
        return f"https://{tool}.{self.domain}{port}/"


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    """The tool databases: a MariaDB user and ~/replica.my.cnf for every tool and member."""

    admin_socket: str = setting(
        "/run/mysqld/mysqld.sock",
        help="the server's socket the reconciler logs in through as admin_user (root: "
        "unix_socket authentication, no password)",
    )
    admin_host: str = setting(
        "",
        help="the server's host for the reconciler over TCP instead of the socket "
        "(password in ATS_DATABASES_PASSWORD)",
    )
    admin_port: int = setting(3306, minimum=1, help="the server's port, with admin_host")
    admin_user: str = setting("root", help="the server's administrator the reconciler is")
    client_host: str = setting(
        "127.0.0.1",
        help="the host replica.my.cnf names: where login hosts and tools' jobs reach the server",
    )
    client_port: int = setting(3306, minimum=1, help="the port replica.my.cnf names")
    max_connections: int = setting(
        20, minimum=0, help="connections each account may hold at once (0: the server's limit)"
    )
    size_limit_mb: int = setting(
        0,
        minimum=0,
        help="MB an account's databases may hold before it is over the limit (0: none)",
    )
    interval: int | float = setting(
        5.0,
        minimum=1,
        help="seconds between two passes of `ats databases serve` (a suspension locks the "
        "member's user within about this; at most 30)",
    )
    sizes_interval: int | float = setting(
        300.0,
        minimum=1,
        help="seconds between two measurements of the databases' sizes by `ats databases "
        "serve`, recorded in the store for `toolforge jobs quota`, the bridge and the "
        "notices of an account over size_limit_mb",
    )


Settings = (
    WikiSettings
    | BotSettings
    | StoreSettings
    | BridgeSettings
    | ProvisioningSettings
    | RuntimeSettings
    | MailSettings
    | WebSettings
    | DatabaseSettings
)
S = TypeVar(
    "S",
    WikiSettings,
    BotSettings,
    StoreSettings,
    BridgeSettings,
    ProvisioningSettings,
    RuntimeSettings,
    MailSettings,
    WebSettings,
    DatabaseSettings,
)

SECTIONS: dict[str, type[Settings]] = {
    "wiki": WikiSettings,
    "bot": BotSettings,
    "store": StoreSettings,
    "bridge": BridgeSettings,
    "provisioning": ProvisioningSettings,
    "runtime": RuntimeSettings,
    "mail": MailSettings,
    "web": WebSettings,
    "databases": DatabaseSettings,
}
# Every section and the keys it may hold, in the order `ats config keys` lists them.
SCHEMA: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in fields(cls)) for name, cls in SECTIONS.items()
}
SECRETS = {
    "ATS_BOT_PASSWORD": "the bot's (Bot)password",
    "ATS_OAUTH_SECRET": "the OAuth consumer secret",
    "ATS_SESSION_KEY": "the bridge's session signing key",
    "ATS_LDAP_PASSWORD": "the LDAP bind password",
    "ATS_HOST_LDAP_PASSWORD": "the password login hosts bind to the directory with",
    "ATS_MAIL_PASSWORD": "the password of [mail] username at the mail relay",
    "ATS_DATABASES_PASSWORD": "the password of [databases] admin_user, with admin_host",
}
# Keys holding a path: relative to the file's folder, not to the current directory.
PATH_KEYS = (
    "path",
    "workdir",
    "root",
    "slurm_conf",
    "policy",
    "tls_cert",
    "tls_key",
    "access_log",
    "admin_socket",
)


class ConfigError(ValueError):
    """The configuration cannot be used; the message says what to change."""


@dataclass(frozen=True)
class Config:
    path: Path | None
    wiki: WikiSettings
    bot: BotSettings
    store: StoreSettings
    bridge: BridgeSettings
    provisioning: ProvisioningSettings
    policy: EligibilityPolicy
    runtime: RuntimeSettings = RuntimeSettings()
    mail: MailSettings = MailSettings()
    web: WebSettings = WebSettings()
    databases: DatabaseSettings = DatabaseSettings()

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
    known = [*SECTIONS, "policy"]
    for name in data:
        if name not in known:
            raise ConfigError(f"{where}: unknown section [{name}]{did_you_mean(name, known)}")
    base = path.parent.resolve() if path else Path.cwd()

    def section(name: str, cls: type[S]) -> S:
        return _section(where, name, cls, data.get(name, {}), base)

    config = Config(
        path=path,
        wiki=section("wiki", WikiSettings),
        bot=section("bot", BotSettings),
        store=section("store", StoreSettings),
        bridge=section("bridge", BridgeSettings),
        provisioning=section("provisioning", ProvisioningSettings),
        policy=_policy(where, data.get("policy", {})),
        runtime=section("runtime", RuntimeSettings),
        mail=section("mail", MailSettings),
        web=section("web", WebSettings),
        databases=section("databases", DatabaseSettings),
    )
    _check_values(where, config)
    return config


def _policy(where: str, raw: object) -> EligibilityPolicy:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: [policy] must be a table of keys")
    try:
        return load_policy(raw)
    except PolicyError as error:
        raise ConfigError(f"{where}: [policy] {error}") from None


def _section(where: str, name: str, cls: type[S], raw: object, base: Path) -> S:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: [{name}] must be a table of keys")
    try:
        values = load_table(cls, raw)
    except TableError as error:
        raise ConfigError(f"{where}: [{name}] {error}") from None
    paths: dict[str, Any] = {
        key: str((base / value).resolve())
        for key in PATH_KEYS
        if isinstance(value := getattr(values, key, ""), str) and value
    }
    return replace(values, **paths)


def _check_values(where: str, config: Config) -> None:
    """What a key's type and bounds cannot say: URLs, a non-empty page, an octal mode."""
    api = config.wiki.api
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
    if not config.wiki.request_page.strip():
        raise ConfigError(f"{where}: [wiki] request_page must not be empty")
    bridge = config.bridge
    for key, value, script in (
        ("oauth_index_url", bridge.oauth_index_url, "index.php"),
        ("oauth_rest_url", bridge.oauth_rest_url, "rest.php"),
    ):
        url = urlsplit(value)
        if value and (
            url.scheme not in ("http", "https") or not url.netloc or not url.path.endswith(script)
        ):
            raise ConfigError(
                f"{where}: [bridge] {key} must be the full URL of the wiki's {script}, e.g. "
                f"https://meta.wikimedia.org/w/{script}, or empty to use the one beside "
                "[wiki] api"
            )
    home_mode = config.provisioning.home_mode
    try:
        mode = int(home_mode, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise ConfigError(
            f'{where}: [provisioning] home_mode must be an octal mode such as "0750" '
            f"(got {home_mode!r})"
        )
    low, high = config.provisioning.uid_min, config.provisioning.uid_max
    if not low < high < 2**31 - 1:
        raise ConfigError(
            f"{where}: [provisioning] uid_min ({low}) must be below uid_max ({high}), "
            "which must be below 2147483647"
        )
    root = config.provisioning.tool_home_root
    if not root.startswith("/") or any(p in (".", "..") for p in root.split("/")):
        raise ConfigError(
            f"{where}: [provisioning] tool_home_root must be an absolute path such as "
            f'"/data/project" (got {root!r})'
        )
    stream_url = config.wiki.stream_url
    stream = urlsplit(stream_url)
    if stream_url and (stream.scheme not in ("http", "https") or not stream.netloc):
        raise ConfigError(
            f"{where}: [wiki] stream_url must be an http(s) URL, e.g. "
            "https://stream.wikimedia.org/v2/stream/recentchange, or empty to poll"
        )
    _check_mail(where, config.mail)
    _check_databases(where, config.databases)


def _check_databases(where: str, databases: DatabaseSettings) -> None:
    if databases.interval > 30:
        raise ConfigError(
            f"{where}: [databases] interval must be at most 30 seconds, so that a suspended "
            f"member's database user is locked within a minute (got {databases.interval})"
        )
    for key, value in (
        ("client_host", databases.client_host),
        ("admin_user", databases.admin_user),
    ):
        if not value.strip() or any(c.isspace() for c in value):
            raise ConfigError(
                f"{where}: [databases] {key} must be a name without spaces (got {value!r})"
            )


def _check_mail(where: str, mail: MailSettings) -> None:
    if not mail.relay:
        return
    for key, value in (("sender", mail.sender), ("recipient_domain", mail.recipient_domain)):
        if not value.strip():
            raise ConfigError(
                f"{where}: [mail] {key} must be set when [mail] relay is (see `ats config keys`)"
            )
    local, at, domain = mail.sender.rpartition("@")
    if not (local and at and domain) or any(c.isspace() or c in "<>@" for c in domain):
        raise ConfigError(
            f"{where}: [mail] sender must be a plain address such as tools@toolserver.example "
            f"(got {mail.sender!r})"
        )
    if any(c.isspace() or c in "<>@" for c in mail.recipient_domain):
        raise ConfigError(
            f"{where}: [mail] recipient_domain must be a domain such as toolserver.example "
            f"(got {mail.recipient_domain!r})"
        )
    if mail.username and not mail.starttls:
        raise ConfigError(
            f"{where}: [mail] username is set without starttls: the password would cross the "
            "network in the clear; set starttls = true"
        )


def secret(name: str) -> str:
    """A secret from the environment, or a ConfigError saying which one is missing."""
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"{name} is not set: it must hold {SECRETS[name]}")
    return value


def describe() -> str:
    """The configuration reference, generated from the settings (used by `ats config keys`)."""
    lines = []
    for name, cls in SECTIONS.items():
        lines.append(f"[{name}]")
        for spec in fields(cls):
            required = spec.default is MISSING
            default = "required" if required else f"default {_shown(spec.default)!r}"
            lines.append(f"  {spec.name:20} {help_of(spec)} ({default})")
    lines.append("[policy]")
    for key, value in EligibilityPolicy().__dict__.items():
        lines.append(f"  {key:20} default {_shown(value)!r}")
    return "\n".join(lines)


def _shown(value: object) -> object:
    """A default as the file would spell it (a TOML array, not a tuple)."""
    return list(value) if isinstance(value, tuple) else value
