"""Signing requesters in with MediaWiki OAuth (the wiki's OAuth extension), 2.0 or 1.0a.

``OAuthClient.start()`` gives the URL to send the user to and the data the caller keeps
server-side until the callback; ``OAuthClient.finish()`` takes that data and the callback's
query parameters and returns the user's ``Identity`` or raises ``OAuthError``, whose text
is a sentence fit for the page shown to the user.  OAuth 2.0 is the authorization-code
grant with PKCE (S256) against ``rest.php/oauth2/…``; OAuth 1.0a is the
``Special:OAuth/initiate|authenticate|token|identify`` handshake, whose identify answer is
a JWT verified here (HS256 with the consumer secret only; ``iss``, ``aud``, ``exp``,
``iat``, ``nonce``; each nonce accepted once).  The HTTP work is requests-oauthlib's; the
wiki's refusals, which the extension words in its own ways (1.0a errors in HTTP 200
bodies, a declined 2.0 consent as ``unauthorized_client``), are read by
``bridge.oauth_answers`` into a sentence that names the cause.

Only https endpoints are accepted unless ``OAUTHLIB_INSECURE_TRANSPORT=1`` is set in the
environment (oauthlib's own switch, for local tests against plain http; never in
production).  Keep one ``OAuthClient`` per application: it remembers the identify nonces
it has accepted, so a replayed identify answer is refused.  Nothing secret is logged here
(no token, secret or JWT), and requests-oauthlib's debug logging, which prints tokens, is
capped at INFO.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import requests
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests_oauthlib import OAuth1Session, OAuth2Session

from bridge.oauth_answers import AGAIN, DECLINED, declined, oauth1_refusal, oauth2_token_refusal

__all__ = [
    "Identity",
    "OAuthClient",
    "OAuthError",
    "OAuthSettings",
    "SeenNonces",
    "verify_identify_jwt",
]

log = logging.getLogger(__name__)
_Session = TypeVar("_Session", bound=requests.Session)
# requests-oauthlib logs request and access tokens at DEBUG; an app-wide DEBUG must not leak them.
for _name in ("requests_oauthlib", "oauthlib"):
    if logging.getLogger(_name).getEffectiveLevel() < logging.INFO:
        logging.getLogger(_name).setLevel(logging.INFO)

TIMEOUT = 20  # seconds for each request to the wiki
USER_AGENT = "AmericanToolserver-bridge/0.1 (MediaWiki OAuth login)"
_AGAIN = AGAIN


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


class OAuthError(Exception):
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


class SeenNonces:
    """Identify nonces already accepted, each kept until its JWT expires (bounded, thread-safe).

    When full, the oldest entry goes first; its token is by then almost always expired,
    so the ``exp`` check refuses it anyway.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._until: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, key: str, *, expires_at: float, now: float) -> bool:
        """Record ``key``; False if it was already recorded and has not expired."""
        with self._lock:
            while self._until and next(iter(self._until.values())) < now:
                self._until.popitem(last=False)
            if key in self._until and self._until[key] >= now:
                return False
            self._until[key] = expires_at
            self._until.move_to_end(key)
            while len(self._until) > self.capacity:
                self._until.popitem(last=False)
            return True

    def __len__(self) -> int:
        return len(self._until)


def _rejected(why: str) -> OAuthError:
    return OAuthError(f"The wiki's answer {why}, so you were not signed in. {_AGAIN}")


def verify_identify_jwt(
    token: str, settings: OAuthSettings, *, nonce: str, now: float, seen: SeenNonces
) -> Identity:
    """Check an OAuth 1.0a ``Special:OAuth/identify`` JWT and return who it names.

    HS256 signed with the consumer secret is the only form accepted (no ``none``, no
    RS256: a secret must never be taken for a public key); ``iss`` must be the wiki's
    server, ``aud`` the consumer key, ``iat``/``exp`` must hold at ``now`` within the
    leeway, ``nonce`` must be the one sent with the identify request and not seen before.
    """
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _rejected("was not a valid identity token") from None
    if header.get("alg") != "HS256":
        raise _rejected("was not signed the way MediaWiki signs identities (HS256)")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.consumer_secret,
            algorithms=["HS256"],
            audience=settings.consumer_key,
            # exp and iat are checked below against the injected clock.
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["iss", "aud", "exp", "iat", "sub", "nonce"],
            },
        )
    except jwt.InvalidSignatureError:
        raise _rejected("carried a signature that does not match this tool's secret") from None
    except jwt.InvalidAudienceError:
        raise _rejected("was addressed to another application") from None
    except jwt.MissingRequiredClaimError as error:
        raise _rejected(f"lacked the {error.claim!r} claim") from None
    except jwt.PyJWTError:
        raise _rejected("was not a valid identity token") from None

    if str(claims["iss"]).rstrip("/") != settings.server.rstrip("/"):
        raise _rejected(f"came from another site ({claims['iss']}, not {settings.server})")
    try:
        issued, expires = float(claims["iat"]), float(claims["exp"])
    except (TypeError, ValueError):
        raise _rejected("had unreadable times") from None
    if issued > now + settings.leeway:
        raise _rejected("is dated in the future (a clock may be wrong)")
    if expires < now - settings.leeway:
        raise _rejected("had expired before it arrived (a clock may be wrong)")
    if not isinstance(claims["nonce"], str) or not seen.first_use(
        "nonce:" + claims["nonce"], expires_at=expires + settings.leeway, now=now
    ):
        raise _rejected("had already been used once (an answer is good for one sign-in only)")
    if not hmac.compare_digest(claims["nonce"].encode(), nonce.encode()):
        raise _rejected("belongs to another sign-in attempt (its nonce does not match)")
    if not isinstance(claims.get("grants", {}), dict | list):
        raise _rejected("listed its grants in an unknown form")
    return _identity(claims, version=1)


def _identity(claims: Mapping[str, Any], *, version: int) -> Identity:
    username = claims.get("username")
    if not isinstance(username, str) or not username or claims.get("sub") in (None, ""):
        raise _rejected("did not name a user")
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


def _same(given: str | None, kept: str | None) -> bool:
    return bool(given) and bool(kept) and hmac.compare_digest(str(given), str(kept))


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
            return self._start2() if self.settings.version == 2 else self._start1()
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
                return self._finish2(kept, args)
            return self._finish1(kept, args)
        except requests.RequestException:
            log.warning("OAuth %s: the wiki could not be reached", self.settings.version)
            raise OAuthError(
                "The wiki could not be reached to finish signing in. Please try again later."
            ) from None

    def _dress(self, oauth: _Session) -> _Session:
        """Give a requests-oauthlib session the caller's headers, TLS settings and pools."""
        oauth.headers.update(self._base.headers)
        oauth.verify, oauth.cert = self._base.verify, self._base.cert
        oauth.proxies, oauth.trust_env = self._base.proxies, self._base.trust_env
        for prefix, adapter in self._base.adapters.items():
            oauth.mount(prefix, adapter)
        return oauth

    # OAuth 2.0: authorization code with PKCE

    def _start2(self) -> tuple[str, dict[str, str]]:
        pkce = WebApplicationClient(self.settings.consumer_key)
        verifier = pkce.create_code_verifier(64)
        oauth = OAuth2Session(self.settings.consumer_key, redirect_uri=self.settings.callback_url)
        url, state = oauth.authorization_url(
            self.settings.rest("authorize"),
            code_challenge=pkce.create_code_challenge(verifier, "S256"),
            code_challenge_method="S256",
        )
        return url, {"state": state, "code_verifier": verifier}

    def _finish2(self, kept: Mapping[str, str], args: Mapping[str, str]) -> Identity:
        if declined(args):
            raise OAuthError(DECLINED)
        if args.get("error"):
            raise OAuthError(f"The wiki refused the sign-in ({args['error']}). {_AGAIN}")
        if not _same(args.get("state"), kept.get("state")) or not kept.get("code_verifier"):
            raise OAuthError(
                "This sign-in answer does not match the sign-in this browser started (it may "
                "be stale, from another tab, or forged). Please sign in again."
            )
        if not args.get("code"):
            raise OAuthError(f"The wiki did not send back a sign-in code. {_AGAIN}")
        oauth = self._dress(
            OAuth2Session(
                self.settings.consumer_key,
                redirect_uri=self.settings.callback_url,
                state=kept["state"],
            )
        )
        try:
            oauth.fetch_token(
                self.settings.rest("access_token"),
                code=args["code"],
                client_secret=self.settings.consumer_secret,
                include_client_id=True,
                code_verifier=kept["code_verifier"],
                timeout=TIMEOUT,
            )
        except OAuth2Error as error:
            message = oauth2_token_refusal(error.error)
            log.warning("OAuth 2 token request refused (%s): %s", error.error, message)
            raise OAuthError(message) from None
        except (ValueError, KeyError) as error:
            log.warning("OAuth 2 token answer unreadable: %s", type(error).__name__)
            raise OAuthError(f"The wiki's answer could not be read. {_AGAIN}") from None
        response = oauth.get(self.settings.rest("resource/profile"), timeout=TIMEOUT)
        try:
            response.raise_for_status()
            profile = response.json()
        except (requests.HTTPError, ValueError):
            log.warning("OAuth 2 profile request failed: HTTP %s", response.status_code)
            raise OAuthError(f"The wiki did not say who you are. {_AGAIN}") from None
        if not isinstance(profile, dict):
            raise OAuthError(f"The wiki did not say who you are. {_AGAIN}")
        return _identity(profile, version=2)

    # OAuth 1.0a: request token, authorization, access token, identify JWT

    def _oauth1(self, **kwargs: Any) -> OAuth1Session:
        session = OAuth1Session(
            self.settings.consumer_key, client_secret=self.settings.consumer_secret, **kwargs
        )
        return self._dress(session)

    def _token1(self, session: OAuth1Session, step: str) -> dict[str, str]:
        """POST a signed ``Special:OAuth/<step>`` and read the token it returns.

        The extension answers errors here with HTTP 200 and a plain-text ``Error: …``, which
        a generic client mistakes for an unreadable token; they are read for their cause.
        """
        response = session.post(self.settings.special_oauth(step), timeout=TIMEOUT)
        refusal = oauth1_refusal(response.text)
        if refusal is not None:
            log.warning("OAuth 1 %s refused: %s", step, refusal)
            raise OAuthError(refusal)
        if response.status_code != 200:
            log.warning("OAuth 1 %s failed: HTTP %s", step, response.status_code)
            raise OAuthError(f"The wiki did not accept this sign-in. {_AGAIN}")
        token = dict(parse_qsl(response.text.strip()))
        if not token.get("oauth_token") or not token.get("oauth_token_secret"):
            log.warning("OAuth 1 %s answer carried no token", step)
            raise OAuthError(f"The wiki's answer could not be read. {_AGAIN}")
        return token

    def _start1(self) -> tuple[str, dict[str, str]]:
        # "oob": MediaWiki then sends the user to the consumer's registered callback URL.
        # Any other value is refused unless the consumer allows callbacks under a prefix.
        token = self._token1(self._oauth1(callback_uri="oob"), "initiate")
        # authenticate, not authorize: the wiki skips its consent dialog for an
        # identity-only consumer the user has already allowed.
        url = self.settings.special_oauth(
            "authenticate",
            oauth_token=token["oauth_token"],
            oauth_consumer_key=self.settings.consumer_key,
        )
        return url, {
            "oauth_token": token["oauth_token"],
            "oauth_token_secret": token["oauth_token_secret"],
        }

    def _finish1(self, kept: Mapping[str, str], args: Mapping[str, str]) -> Identity:
        if not args.get("oauth_verifier"):
            raise OAuthError(
                "The wiki did not confirm the sign-in (no verification code came back); if "
                "you declined, you are not signed in. Sign in again to continue."
            )
        if not _same(args.get("oauth_token"), kept.get("oauth_token")):
            raise OAuthError(
                "This sign-in answer does not match the sign-in this browser started (it may "
                "be stale, from another tab, or forged). Please sign in again."
            )
        access = self._token1(
            self._oauth1(
                resource_owner_key=kept["oauth_token"],
                resource_owner_secret=kept.get("oauth_token_secret", ""),
                verifier=args["oauth_verifier"],
            ),
            "token",
        )
        # Our own nonce, so the identify JWT can be tied to this very request.
        nonce = secrets.token_hex(16)
        response = self._oauth1(
            resource_owner_key=access.get("oauth_token"),
            resource_owner_secret=access.get("oauth_token_secret"),
            nonce=nonce,
        ).post(self.settings.special_oauth("identify"), timeout=TIMEOUT)
        refusal = oauth1_refusal(response.text)
        if refusal is not None:
            log.warning("OAuth 1 identify refused: %s", refusal)
            raise OAuthError(refusal)
        if response.status_code != 200:
            log.warning("OAuth 1 identify failed: HTTP %s", response.status_code)
            raise OAuthError(f"The wiki did not say who you are. {_AGAIN}")
        return verify_identify_jwt(
            response.text.strip(),
            self.settings,
            nonce=nonce,
            now=self._clock(),
            seen=self._seen,
        )
