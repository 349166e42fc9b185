"""Signing requesters in with MediaWiki OAuth (the wiki's OAuth extension), 2.0 or 1.0a.

``OAuthClient.start()`` gives the URL to send the user to and the data the caller keeps
server-side until the callback; ``OAuthClient.finish()`` takes that data and the callback's
query parameters and returns the user's ``Identity`` or raises ``OAuthError``, whose text
is a sentence fit for the page shown to the user.  The client owns what both versions
share at run time (the https check, the HTTP session, the clock, the nonces already
seen) and turns a wiki out of reach into a sentence; each version's handshake is its own
module: ``bridge.oauth2`` (authorization code with PKCE) and ``bridge.oauth1``
(``Special:OAuth`` and its identify JWT).  ``bridge.oauth_settings`` holds the settings,
``Identity`` and ``OAuthError``; ``bridge.oauth_answers`` reads the wiki's refusals.
Every public name of these is importable from here.

Only https endpoints are accepted unless ``OAUTHLIB_INSECURE_TRANSPORT=1`` is set in the
environment (oauthlib's own switch, for local tests against plain http; never in
production).  Keep one ``OAuthClient`` per application: it remembers the identify nonces
it has accepted, so a replayed identify answer is refused.  Nothing secret is logged
(no token, secret or JWT), and requests-oauthlib's debug logging, which prints tokens, is
capped at INFO.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping

import requests

from bridge import oauth1, oauth2
from bridge.oauth1 import SeenNonces, verify_identify_jwt
from bridge.oauth_settings import USER_AGENT, Identity, OAuthError, OAuthSettings

__all__ = [
    "Identity",
    "OAuthClient",
    "OAuthError",
    "OAuthSettings",
    "SeenNonces",
    "verify_identify_jwt",
]

log = logging.getLogger(__name__)


class OAuthClient:
    """Runs one consumer's sign-ins against its wiki; see the module docstring."""

    def __init__(
        self,
        settings: OAuthSettings,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        insecure = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
        for url in (settings.index_url, settings.rest_url):
            if not url.startswith("https://") and not insecure:
                raise ValueError(
                    f"the wiki's OAuth endpoint {url} is not https; set "
                    "OAUTHLIB_INSECURE_TRANSPORT=1 only for local tests"
                )
        self.settings = settings
        self._base = session or requests.Session()
        if session is None:
            self._base.headers["User-Agent"] = USER_AGENT
        self._clock = clock
        self._seen = SeenNonces()

    def start(self) -> tuple[str, dict[str, str]]:
        """Return (URL to send the user to, data to keep server-side until the callback)."""
        try:
            if self.settings.version == 2:
                return oauth2.start(self.settings)
            return oauth1.start(self.settings, self._base)
        except requests.RequestException:
            raise OAuthError(
                "The wiki could not be reached to start signing in. Please try again later."
            ) from None
        except ValueError:
            raise OAuthError(
                "The wiki did not accept this tool's sign-in request; its OAuth consumer "
                "may be disabled or misconfigured. Please tell the chapter's admins."
            ) from None

    def finish(self, kept: Mapping[str, str], args: Mapping[str, str]) -> Identity:
        """Complete a sign-in from the kept data and the callback's query parameters."""
        try:
            if self.settings.version == 2:
                return oauth2.finish(self.settings, self._base, kept, args)
            return oauth1.finish(
                self.settings, self._base, kept, args, clock=self._clock, seen=self._seen
            )
        except requests.RequestException:
            log.warning("OAuth %s: the wiki could not be reached", self.settings.version)
            raise OAuthError(
                "The wiki could not be reached to finish signing in. Please try again later."
            ) from None
