"""The real MediaWiki OAuth extension for tests: a seeded local wiki that loads it
(``DevWiki.create(..., oauth=True)``), identity-only consumers registered on it through the
extension's own submit control, and a user's browser stood in for by a ``requests`` session
logged in to the wiki, which follows the handshake's redirects and clicks "Allow" or
"Cancel" on the wiki's real consent page.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests

from bridge.oauth import OAuthSettings
from devtools.devwiki import DevWiki
from devtools.devwiki.oauthext import Consumer

_names = itertools.count(1)


@dataclass
class RealOAuth:
    """A wiki with the real extension, and the consumers registered on it so far."""

    wiki: DevWiki
    callback_url: str
    consumers: dict[int, Consumer] = field(default_factory=dict)

    def consumer(self, version: int, callback_url: str | None = None) -> Consumer:
        """A new approved identity-only consumer (each registration is a new application)."""
        return self.wiki.register_consumer(
            version=version,
            callback_url=callback_url or self.callback_url,
            name=f"Bridge test {version}.{next(_names)} {secrets.token_hex(3)}",
        )

    def settings(self, consumer: Consumer, *, secret: str | None = None) -> OAuthSettings:
        """The bridge's settings for ``consumer`` on this wiki (``secret`` to get it wrong)."""
        return OAuthSettings.from_api_url(
            self.wiki.api_url,
            version=consumer.version,
            consumer_key=consumer.key,
            consumer_secret=secret or consumer.secret,
            callback_url=consumer.callback_url,
        )

    def browser_of(self, user: str) -> WikiBrowser:
        """``user``'s browser, logged in to the wiki."""
        return WikiBrowser(self.wiki.api_as(user), self.callback_url)


_FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
_ATTR = re.compile(r"""([\w-]+)=(?:"([^"]*)"|'([^']*)')""")


def _attrs(tag: str) -> dict[str, str]:
    return {k.lower(): unescape(a or b) for k, a, b in _ATTR.findall(tag)}


@dataclass
class WikiBrowser:
    """A logged-in user on the wiki, following redirects by hand up to the callback."""

    session: requests.Session
    callback_url: str
    consent_pages: int = 0
    last_page: requests.Response | None = None  # where the wiki left the browser

    def follow(self, url: str) -> requests.Response:
        """GET ``url`` and its redirects, stopping before the consumer's callback."""
        for _ in range(10):
            if url.startswith(self.callback_url):
                raise Arrived(url)
            response = self.session.get(url, allow_redirects=False, timeout=30)
            if response.status_code in (301, 302, 303, 307, 308):
                url = urljoin(url, response.headers["Location"])
                continue
            return response
        raise AssertionError(f"too many redirects from {url}")

    def authorize(self, url: str, *, allow: bool = True) -> dict[str, str]:
        """Go to ``url`` (the bridge's ``start()`` URL); on the consent page choose Allow or
        Cancel; return the callback's query parameters, or {} when no redirect to the
        callback came (the extension's 1.0a "You have chosen not to allow" page)."""
        try:
            page = self.follow(url)
            form = self._consent_form(page)
            if form is None:
                self.last_page = page
                return {}
            self.consent_pages += 1
            action, fields, buttons = form
            choice = "accept" if allow else "cancel"
            fields[choice] = buttons[choice]
            response = self.session.post(
                urljoin(page.url, action), data=fields, allow_redirects=False, timeout=30
            )
            if response.status_code in (301, 302, 303, 307, 308):
                self.follow(urljoin(page.url, response.headers["Location"]))
            self.last_page = response
            return {}
        except Arrived as arrived:
            return dict(parse_qsl(urlsplit(arrived.url).query))

    def _consent_form(
        self, page: requests.Response
    ) -> tuple[str, dict[str, str], dict[str, str]] | None:
        """The extension's "Allow"/"Cancel" form: its action, hidden fields and buttons."""
        for form in _FORM.findall(page.text):
            if "mw-mwoauth-authorize-form" not in form[: form.index(">")]:
                continue
            action = _attrs(form[: form.index(">")]).get("action", page.url)
            fields: dict[str, str] = {}
            buttons: dict[str, str] = {}
            for tag in re.findall(r"<(?:input|button)\b[^>]*>", form, re.I):
                attrs = _attrs(tag)
                if "name" not in attrs:
                    continue
                if tag.lower().startswith("<button"):
                    buttons[attrs["name"]] = attrs.get("value", "")
                else:
                    fields[attrs["name"]] = attrs.get("value", "")
            return action, fields, buttons
        return None


class Arrived(Exception):
    """The wiki sent the browser to the consumer's callback (``url``)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


@dataclass
class RealProvider:
    """The real extension as a bridge's provider (see ``bridge_server.Provider``)."""

    url: str
    consumer_key: str
    consumer_secret: str

    def stop(self) -> None:
        """The wiki outlives the bridge: nothing to stop."""


def provider_for(real: RealOAuth) -> Callable[[int, str], RealProvider]:
    """A factory registering a consumer of the given version for a bridge's callback."""

    def make(version: int, callback_url: str) -> RealProvider:
        consumer = real.consumer(version, callback_url)
        return RealProvider(real.wiki.server, consumer.key, consumer.secret)

    return make
