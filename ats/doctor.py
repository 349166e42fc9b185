"""`ats doctor`: check a deployment end to end, one line per check, a fix for each failure.

Each check asks the real thing — the wiki's API (plain HTTP, as any client would),
the directory, the store's file — and returns a `Check`: ok, failed (with the line
that says what to change) or skipped (when a check it depends on failed, e.g. no
page can be read from a wiki that does not answer). Nothing is changed anywhere: the
store is opened read-only (opening it as a `Store` would apply migrations), the wiki
is only read and logged in to, the directory is only bound and searched.

`run` returns the checks in order; `report` prints them and gives the exit status,
1 when any failed.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import requests

from ats.config import Config
from bot.templates import bundled_templates

TIMEOUT = 10.0
MAX_SKEW_SECONDS = 60
DEFAULT_BRIDGE_URL = "http://127.0.0.1:5000"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
BOTPASSWORDS = "Special:BotPasswords"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: skipped, because a check it needs failed
    detail: str
    fix: str = ""

    def lines(self) -> list[str]:
        mark = {True: "ok  ", False: "FAIL", None: "skip"}[self.ok]
        shown = [f"{mark}  {self.name}: {self.detail}"]
        if self.ok is False and self.fix:
            shown.append(f"      fix: {self.fix}")
        return shown


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


def skipped(name: str, because: str) -> Check:
    return Check(name, None, because)


class WikiProbe:
    """The wiki's API over plain HTTP, with the answers the checks share."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "ats-doctor (American Toolserver)"
        self.general: dict[str, Any] | None = None
        self.server_time: datetime | None = None

    def get(self, **params: str) -> dict[str, Any]:
        query = {"format": "json", "formatversion": "2", **params}
        response = self.http.get(self.api, params=query, timeout=TIMEOUT)
        return self._json(response)

    def post(self, **data: str) -> dict[str, Any]:
        query = {"format": "json", "formatversion": "2", **data}
        response = self.http.post(self.api, data=query, timeout=TIMEOUT)
        return self._json(response)

    def _json(self, response: requests.Response) -> dict[str, Any]:
        kind = response.headers.get("Content-Type", "?").split(";")[0]
        try:
            body = response.json() if response.status_code == 200 else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise NotAnApi(f"HTTP {response.status_code}, {kind}")
        return body

    def pages(self, titles: list[str]) -> dict[str, str | None]:
        """Each title's current wikitext, None when the page does not exist."""
        found: dict[str, str | None] = {}
        for start in range(0, len(titles), 50):
            batch = titles[start : start + 50]
            body = self.get(
                action="query",
                prop="revisions",
                rvprop="content",
                rvslots="main",
                titles="|".join(batch),
            )
            query = body.get("query", {})
            names = {n["from"]: n["to"] for n in query.get("normalized", [])}
            by_title = {page["title"]: page for page in query.get("pages", [])}
            for title in batch:
                page = by_title.get(names.get(title, title), {})
                revisions = page.get("revisions") or []
                found[title] = (
                    None
                    if page.get("missing") or not revisions
                    else revisions[0]["slots"]["main"].get("content", "")
                )
        return found


class NotAnApi(Exception):
    """The URL answered, but not as a MediaWiki API."""


def run(
    config: Config,
    environ: Mapping[str, str] | None = None,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Check]:
    env = os.environ if environ is None else environ
    probe = WikiProbe(config.wiki.api)
    checks = [check_api(probe, config)]
    reachable = checks[0].ok is True
    if reachable:
        checks.append(_asking_wiki("bot login", lambda: check_bot_login(probe, config, env)))
        checks.extend(
            _asking_wiki_many(
                ("request page", "kill switch"), lambda: list(check_pages(probe, config))
            )
        )
        checks.append(_asking_wiki("templates", lambda: check_templates(probe)))
    else:
        because = "the wiki's API does not answer"
        for name in ("bot login", "request page", "kill switch", "templates"):
            checks.append(skipped(name, because))
    checks.append(check_bridge_url(config))
    checks.append(check_oauth(config, env))
    checks.append(check_directory(config, env))
    checks.append(check_store(config.store_path))
    checks.append(check_clock(probe, now()))
    return checks


def _asking_wiki(name: str, check: Callable[[], Check]) -> Check:
    return _asking_wiki_many((name,), lambda: [check()])[0]


def _asking_wiki_many(names: tuple[str, ...], checks: Callable[[], list[Check]]) -> list[Check]:
    """The checks, or one failure each when the wiki stops answering in the middle."""
    try:
        return checks()
    except (requests.RequestException, NotAnApi, KeyError, TypeError) as error:
        why = f"the wiki answered unexpectedly ({type(error).__name__}: {error})"
        return [
            failed(name, why, "run `ats doctor` again; if it persists, check the wiki")
            for name in names
        ]


def report(checks: list[Check], out: TextIO) -> int:
    for check in checks:
        for line in check.lines():
            print(line, file=out)
    failures = sum(1 for check in checks if check.ok is False)
    print(
        f"{failures} of {len(checks)} checks failed" if failures else "all checks passed", file=out
    )
    return 1 if failures else 0


# -- the wiki -----------------------------------------------------------------------


def check_api(probe: WikiProbe, config: Config) -> Check:
    name, api = "wiki API", config.wiki.api
    fix_url = "[wiki] api must be the full URL of the wiki's api.php, e.g. https://meta.wikimedia.org/w/api.php"
    try:
        body = probe.get(action="query", meta="siteinfo", siprop="general", curtimestamp="1")
    except requests.ConnectionError as error:
        return failed(
            name,
            f"cannot reach {api} ({_reason(error)})",
            "start the wiki, or correct [wiki] api; check the network and the proxy",
        )
    except requests.Timeout:
        return failed(name, f"{api} did not answer within {TIMEOUT:g} s", "check the wiki")
    except NotAnApi as error:
        return failed(name, f"{api} does not answer as a MediaWiki API ({error})", fix_url)
    general = body.get("query", {}).get("general")
    if not isinstance(general, dict):
        return failed(name, f"{api} answers JSON, but not a MediaWiki site description", fix_url)
    probe.general = general
    with contextlib.suppress(KeyError, ValueError):
        probe.server_time = datetime.fromisoformat(body["curtimestamp"].replace("Z", "+00:00"))
    return passed(
        name, f"{general.get('generator', 'MediaWiki ?')} at {api} ({general.get('sitename', '?')})"
    )


def check_bot_login(probe: WikiProbe, config: Config, env: Mapping[str, str]) -> Check:
    name, user = "bot login", config.bot.username
    password = env.get("ATS_BOT_PASSWORD", "")
    if not password:
        return failed(
            name,
            "ATS_BOT_PASSWORD is not set",
            f"put the bot password made at {BOTPASSWORDS} in ATS_BOT_PASSWORD (e.g. in "
            "/etc/ats/secrets.env)",
        )
    token = probe.get(action="query", meta="tokens", type="login")["query"]["tokens"]["logintoken"]
    answer = probe.post(action="login", lgname=user, lgpassword=password, lgtoken=token)
    result = answer.get("login", {})
    if result.get("result") != "Success":
        why = result.get("reason") or result.get("result") or "no reason given"
        if isinstance(why, dict):
            why = why.get("text") or why.get("code") or str(why)
        return failed(
            name,
            f"the wiki refused {user}: {why}",
            f"check [bot] username (Name@appid, as {BOTPASSWORDS} shows it) and "
            f"ATS_BOT_PASSWORD; if in doubt, reset the password at {BOTPASSWORDS}",
        )
    info = probe.get(action="query", meta="userinfo", uiprop="rights|groups")["query"]["userinfo"]
    rights, groups = set(info.get("rights", [])), info.get("groups", [])
    missing = [right for right in ("edit", "bot") if right not in rights]
    if missing:
        return failed(
            name,
            f"{user} logged in but lacks the right{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (groups: {', '.join(groups)})",
            f"give the bot password the grants 'High-volume editing', 'Edit existing pages' "
            f"and 'Create, edit, and move pages' at {BOTPASSWORDS}, and have a bureaucrat "
            "add the account to the bot group",
        )
    return passed(name, f"{user} logged in, with the edit and bot rights")


def check_pages(probe: WikiProbe, config: Config) -> Iterator[Check]:
    request_page, run_page = config.wiki.request_page, config.wiki.run_page
    texts = probe.pages([request_page] + ([run_page] if run_page else []))
    if texts[request_page] is None:
        yield failed(
            "request page",
            f"{request_page} does not exist",
            f"create {request_page} (requesters add their sections there), or correct "
            "[wiki] request_page",
        )
    else:
        yield passed("request page", f"{request_page} exists")
    if not run_page:
        yield failed(
            "kill switch",
            "[wiki] run_page is not set: nobody on the wiki can stop the bot",
            'set [wiki] run_page (e.g. "Toolserver/Requests/Run") and create that page '
            "with the text `true`; protect it so only admins can edit it",
        )
        return
    text = texts[run_page]
    if text is None:
        yield failed(
            "kill switch",
            f"{run_page} does not exist: the bot stops at once (exit status 0)",
            f"create {run_page} with the text `true`, and protect it",
        )
    elif text.strip().lower() != "true":
        shown = " ".join(text.split())[:40]
        yield failed(
            "kill switch",
            f"{run_page} reads {shown!r}: the bot does nothing until it reads `true`",
            f"edit {run_page} to read `true` when the bot should run",
        )
    else:
        yield passed("kill switch", f"{run_page} reads `true`")


def check_templates(probe: WikiProbe) -> Check:
    bundled = bundled_templates()
    texts = probe.pages([t.title for t in bundled])
    missing = [t.title for t in bundled if texts[t.title] is None]
    stale = [t.title for t in bundled if texts[t.title] not in (None, t.text)]
    if missing or stale:
        parts = []
        if missing:
            parts.append(f"missing: {', '.join(missing)}")
        if stale:
            parts.append(f"not this version's: {', '.join(stale)}")
        return failed("templates", "; ".join(parts), "run `ats wiki install-templates`")
    return passed("templates", f"all {len(bundled)} bundled pages installed and current")


# -- the bridge ---------------------------------------------------------------------


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
            name, f"the wiki's OAuth 2.0 endpoint cannot be reached ({_reason(error)})", register
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


# -- the directory ------------------------------------------------------------------


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
    return passed(
        name, f"bound to {settings.ldap_url} as {settings.bind_dn}; {settings.base_dn} found"
    )


# -- the store and the clock --------------------------------------------------------


def check_store(path: Path) -> Check:
    from membership.store import migrations

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
    known = [m.name for m in migrations._migrations]  # noqa: SLF001 - no public list
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


def check_clock(probe: WikiProbe, now: datetime) -> Check:
    name = "clock"
    if probe.server_time is None:
        return skipped(name, "no time from the wiki to compare with")
    skew = (now - probe.server_time).total_seconds()
    if abs(skew) > MAX_SKEW_SECONDS:
        return failed(
            name,
            f"this machine's clock is {abs(skew):.0f} s "
            f"{'ahead of' if skew > 0 else 'behind'} the wiki's",
            "synchronise the clock (systemd-timesyncd or chrony); leases, sessions and "
            "deadlines depend on it",
        )
    return passed(name, f"within {abs(skew):.0f} s of the wiki's")


def _reason(error: BaseException) -> str:
    text = str(error)
    for known in (
        "Connection refused",
        "Name or service not known",
        "timed out",
        "No route to host",
    ):
        if known in text:
            return known.lower()
    return text.split(":")[-1].strip(" )'>") or type(error).__name__
