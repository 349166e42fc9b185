"""The stand-in provider's protocol side, without HTTP: one consumer, the wiki's users and
who consents next, oauthlib's OAuth 2.0 and 1.0a endpoints, and the JWTs MediaWiki issues
(an RS256 access token; an HS256 identify JWT signed with the consumer secret, which tests
can make misbehave with ``issue_jwt_with``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from oauthlib import oauth1, oauth2

from devtools.devoauth.consumer import (
    ACCESS_TOKEN_SECONDS,
    CONSUMER_GRANTS,
    IDENTIFY_SECONDS,
    Consumer,
    DevUser,
)
from devtools.devoauth.validators import OAuth1Validator, OAuth2Validator


class Provider:
    """One OAuth consumer on a pretend wiki; ``DevOAuth`` serves it over HTTP."""

    def __init__(
        self,
        *,
        server: str | None = None,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        callback_url: str,
        callback_is_prefix: bool = False,
        ask_every_time: bool = False,
        people: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._server = server
        # The demo's way: every consent page asks who you are (the last user is never
        # reused), offering `people` (name, who they are) as "log in as" links.
        self.ask_every_time = ask_every_time
        self.people = tuple(people)
        self._url: str | None = None
        self.consumer = Consumer(
            key=consumer_key or secrets.token_hex(16),
            secret=consumer_secret or secrets.token_hex(20),
            callback_url=callback_url,
            callback_is_prefix=callback_is_prefix,
        )
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request served
        self.lock = threading.RLock()
        self._user: DevUser | None = None
        self._once: DevUser | None = None  # logged in by `login_as` for one page
        self._users: dict[str, DevUser] = {}
        self._decline = False
        self._jwt_overrides: dict[str, Any] | None = None
        self._last_identify: str | None = None
        self._rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.oauth2 = oauth2.WebApplicationServer(
            OAuth2Validator(self.consumer),
            token_generator=self._access_token_jwt,
            token_expires_in=ACCESS_TOKEN_SECONDS,
            refresh_token_generator=lambda request: "def50200" + secrets.token_hex(64),
        )
        v1 = OAuth1Validator(self.consumer)
        token = lambda: secrets.token_hex(16)  # noqa: E731 - MediaWiki's tokens: 32 hex digits
        self.initiate = oauth1.RequestTokenEndpoint(v1, token_generator=token)
        self.authorize = oauth1.AuthorizationEndpoint(v1, token_generator=token)
        self.token = oauth1.AccessTokenEndpoint(v1, token_generator=token)
        self.identify = oauth1.ResourceEndpoint(v1, token_generator=token)

    @property
    def consumer_key(self) -> str:
        return self.consumer.key

    @property
    def consumer_secret(self) -> str:
        return self.consumer.secret

    @property
    def callback_url(self) -> str:
        return self.consumer.callback_url

    @property
    def url(self) -> str:
        """Where the pretend wiki answers (once served)."""
        if self._url is None:
            raise RuntimeError("DevOAuth is not started")
        return self._url

    @property
    def server(self) -> str:
        """The pretend wiki's $wgServer: the identify JWT's ``iss``."""
        return self._server or self.url

    # test hooks

    def login_as(
        self,
        username: str,
        central_id: int,
        *,
        editcount: int = 0,
        groups: tuple[str, ...] = ("*", "user"),
        blocked: bool = False,
        confirmed_email: bool = False,
        registered: str | None = None,
    ) -> None:
        """Make ``username`` the logged-in user who consents on the next approve page
        (where every page asks, on that page only)."""
        user = DevUser(username, central_id, editcount, tuple(groups), blocked, confirmed_email)
        if registered:
            user = replace(user, registered=registered)
        with self.lock:
            self._user = self._users[username] = user
            self._once = user
            self._decline = False

    def decline_next(self) -> None:
        """The next consent page is answered with Cancel."""
        with self.lock:
            self._decline = True

    def issue_jwt_with(
        self,
        *,
        key: str | None = None,
        algorithm: str | None = None,
        replay: bool = False,
        **claims: Any,
    ) -> None:
        """Make the next identify JWT misbehave: another signing ``key`` or ``algorithm``,
        claims overridden (a value of None removes the claim; ``exp``/``iat`` may be given
        as offsets with ``exp_offset``/``iat_offset``), or ``replay`` the previous JWT."""
        with self.lock:
            self._jwt_overrides = {"key": key, "algorithm": algorithm, "replay": replay, **claims}

    # consent

    def consenting(self, query: dict[str, str]) -> DevUser | None | bool:
        """The user who consents now; False for a refusal; None when nobody is logged in."""
        if query.get("devoauth_decline") or self._decline:
            self._decline = False
            return False
        name = query.get("devoauth_user", "").strip()
        if name:
            known = self._users.get(name)
            user = known or DevUser(name, len(self._users) + 1)
            self._users[name] = self._user = user
            return user
        if self.ask_every_time:
            once, self._once = self._once, None
            return once
        return self._user

    # tokens

    def _access_token_jwt(self, request: Any) -> str:
        now = time.time()
        claims = {
            "aud": request.client_id,
            "jti": secrets.token_hex(40),
            "iat": now,
            "nbf": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
            "sub": str(request.user.central_id),
            "iss": self.server,
            "scopes": list(request.scopes or CONSUMER_GRANTS),
        }
        return jwt.encode(claims, self._rsa, algorithm="RS256", headers={"typ": "JWT"})

    def identify_jwt(self, user: DevUser, nonce: str) -> str:
        """The identify JWT for ``user``, echoing the request's ``nonce``."""
        overrides, self._jwt_overrides = self._jwt_overrides or {}, None
        if overrides.get("replay") and self._last_identify:
            return self._last_identify
        now = int(time.time())
        profile = user.profile()
        claims: dict[str, Any] = {
            "iss": self.server,
            "aud": self.consumer_key,
            "exp": now + IDENTIFY_SECONDS,
            "iat": now,
            **profile,
            # An identity-only consumer's grants: a list, as the extension sends them.
            "grants": list(CONSUMER_GRANTS),
            "nonce": nonce,
        }
        claims["exp"] += overrides.pop("exp_offset", 0)
        claims["iat"] += overrides.pop("iat_offset", 0)
        for name, value in overrides.items():
            if name in ("key", "algorithm", "replay"):
                continue
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        algorithm = overrides.get("algorithm") or "HS256"
        key: Any = overrides.get("key") or self.consumer_secret
        if algorithm.startswith("RS") and not overrides.get("key"):
            key = self._rsa
        token = jwt.encode(
            claims,
            None if algorithm == "none" else key,  # type: ignore[arg-type]  # None only with the 'none' algorithm
            algorithm=algorithm,
            headers={"typ": "JWT", "alg": algorithm},
        )
        self._last_identify = token
        return token
