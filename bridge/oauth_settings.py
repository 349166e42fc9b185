"""What both OAuth versions of the sign-in share: the consumer's settings, the signed-in
``Identity``, ``OAuthError`` and the HTTP habits of every request to the wiki.

``OAuthSettings`` names one consumer on one wiki and the wiki's OAuth endpoints;
``identity`` turns the claims the wiki vouches for (a 1.0a identify JWT, a 2.0 profile)
into an ``Identity``; ``dressed`` gives a requests-oauthlib session the caller's headers,
TLS settings and connection pools.  requests-oauthlib's debug logging, which prints
tokens, is capped at INFO here, so no module of the sign-in can leak them.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import requests

from bridge.oauth_answers import AGAIN
from policies.errors import Refusal

__all__ = [
    "TIMEOUT",
    "USER_AGENT",
    "Identity",
    "OAuthError",
    "OAuthSettings",
    "dressed",
    "identity",
    "rejected",
    "same",
]

_Session = TypeVar("_Session", bound=requests.Session)
# requests-oauthlib logs request and access tokens at DEBUG; an app-wide DEBUG must not leak them.
for _name in ("requests_oauthlib", "oauthlib"):
    if logging.getLogger(_name).getEffectiveLevel() < logging.INFO:
        logging.getLogger(_name).setLevel(logging.INFO)

TIMEOUT = 20  # seconds for each request to the wiki
USER_AGENT = "AmericanToolserver-bridge/0.1 (MediaWiki OAuth login)"


@dataclass(frozen=True)
class Identity:
    """Who signed in, as the wiki vouches for them."""

    central_id: str
    username: str
    editcount: int | None
    confirmed_email: bool
    blocked: bool
    registered: str | None  # YYYYMMDDHHMMSS, as MediaWiki writes it
    groups: tuple[str, ...]
    version: int  # the OAuth version that produced it (1 or 2)


class OAuthError(Refusal):
    """A sign-in that failed; ``str(error)`` is a sentence for the user, free of secrets."""


@dataclass(frozen=True)
class OAuthSettings:
    """One OAuth consumer registered on one wiki.

    ``server`` is the wiki's ``$wgServer`` (scheme://host[:port]), the ``iss`` its identify
    JWTs carry.  ``index_url`` and ``rest_url`` are the wiki's ``index.php`` and ``rest.php``;
    on a real wiki they sit beside ``api.php`` (``from_api_url``), while tests may point all
    three at a stand-in provider (see ``devtools.devoauth``).
    """

    version: int
    consumer_key: str
    consumer_secret: str
    server: str
    index_url: str
    rest_url: str
    callback_url: str
    leeway: int = 10

    def __post_init__(self) -> None:
        if self.version not in (1, 2):
            raise ValueError(f"OAuth version must be 1 or 2, not {self.version!r}")
        if not self.consumer_key or not self.consumer_secret:
            raise ValueError("an OAuth consumer key and secret are both required")

    @classmethod
    def from_api_url(
        cls,
        api_url: str,
        *,
        version: int,
        consumer_key: str,
        consumer_secret: str,
        callback_url: str,
    ) -> OAuthSettings:
        """Settings for the wiki whose ``api.php`` is ``api_url``."""
        parts = urlsplit(api_url)
        if not parts.scheme or not parts.netloc or not parts.path.endswith("api.php"):
            raise ValueError(f"not the URL of a wiki's api.php: {api_url!r}")
        base = api_url[: api_url.rindex("api.php")]
        return cls(
            version=version,
            consumer_key=consumer_key,
            consumer_secret=consumer_secret,
            server=f"{parts.scheme}://{parts.netloc}",
            index_url=base + "index.php",
            rest_url=base + "rest.php",
            callback_url=callback_url,
        )

    def special_oauth(self, subpage: str, **params: str) -> str:
        # The title goes in the query string: MediaWiki signs OAuth 1.0a requests on it.
        return f"{self.index_url}?{urlencode({'title': f'Special:OAuth/{subpage}', **params})}"

    def rest(self, path: str) -> str:
        return f"{self.rest_url.rstrip('/')}/oauth2/{path}"


def rejected(why: str) -> OAuthError:
    """The error for an answer of the wiki's that cannot be trusted, ``why`` saying why."""
    return OAuthError(f"The wiki's answer {why}, so you were not signed in. {AGAIN}")


def identity(claims: Mapping[str, Any], *, version: int) -> Identity:
    """The ``Identity`` the wiki's claims (a 1.0a identify JWT, a 2.0 profile) vouch for."""
    username = claims.get("username")
    if not isinstance(username, str) or not username or claims.get("sub") in (None, ""):
        raise rejected("did not name a user")
    editcount = claims.get("editcount")
    groups = claims.get("groups") or ()
    registered = claims.get("registered")
    return Identity(
        central_id=str(claims["sub"]),
        username=username,
        editcount=editcount if isinstance(editcount, int) else None,
        confirmed_email=bool(claims.get("confirmed_email", False)),
        blocked=bool(claims.get("blocked", False)),
        registered=str(registered) if registered else None,
        groups=tuple(str(group) for group in groups),
        version=version,
    )


def same(given: str | None, kept: str | None) -> bool:
    """Whether a callback's value is the one kept for this sign-in (in constant time)."""
    return bool(given) and bool(kept) and hmac.compare_digest(str(given), str(kept))


def dressed(oauth: _Session, base: requests.Session) -> _Session:
    """Give a requests-oauthlib session the caller's headers, TLS settings and pools."""
    oauth.headers.update(base.headers)
    oauth.verify, oauth.cert = base.verify, base.cert
    oauth.proxies, oauth.trust_env = base.proxies, base.trust_env
    for prefix, adapter in base.adapters.items():
        oauth.mount(prefix, adapter)
    return oauth
