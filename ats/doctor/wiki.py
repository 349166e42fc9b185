"""The checks that ask the wiki: its API, the bot's login and rights, the request page
and the kill switch, the bundled templates, and this machine's clock against the wiki's.

The wiki is asked over plain HTTP, as any client would (`WikiProbe`), and only read
and logged in to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import requests

from ats.config import Config
from ats.doctor.check import TIMEOUT, Check, failed, passed, reason, skipped
from bot.rules.templates import bundled_templates

MAX_SKEW_SECONDS = 60
BOTPASSWORDS = "Special:BotPasswords"


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


def check_api(probe: WikiProbe, config: Config) -> Check:
    name, api = "wiki API", config.wiki.api
    fix_url = "[wiki] api must be the full URL of the wiki's api.php, e.g. https://meta.wikimedia.org/w/api.php"
    try:
        body = probe.get(action="query", meta="siteinfo", siprop="general", curtimestamp="1")
    except requests.ConnectionError as error:
        return failed(
            name,
            f"cannot reach {api} ({reason(error)})",
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
