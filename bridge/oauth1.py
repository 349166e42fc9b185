"""Signing in with MediaWiki OAuth 1.0a: the ``Special:OAuth/initiate|authenticate|token|
identify`` handshake, and the identify JWT it ends with.

``start`` gets a request token and gives the URL of the wiki's ``authenticate`` page and
the token to keep until the callback; ``finish`` trades it for an access token and asks
``identify`` who signed in.  ``verify_identify_jwt`` checks that answer: HS256 with the
consumer secret only; ``iss``, ``aud``, ``exp``, ``iat``, ``nonce``; each nonce accepted
once (``SeenNonces``).  The extension's refusals, which arrive in HTTP 200 bodies, are
read by ``bridge.oauth_answers`` into a sentence that names the cause.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import jwt
import requests
from requests_oauthlib import OAuth1Session

from bridge.oauth_answers import AGAIN, oauth1_refusal
from bridge.oauth_settings import (
    TIMEOUT,
    Identity,
    OAuthError,
    OAuthSettings,
    dressed,
    identity,
    rejected,
    same,
)

log = logging.getLogger(__name__)


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
        raise rejected("was not a valid identity token") from None
    if header.get("alg") != "HS256":
        raise rejected("was not signed the way MediaWiki signs identities (HS256)")
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
        raise rejected("carried a signature that does not match this tool's secret") from None
    except jwt.InvalidAudienceError:
        raise rejected("was addressed to another application") from None
    except jwt.MissingRequiredClaimError as error:
        raise rejected(f"lacked the {error.claim!r} claim") from None
    except jwt.PyJWTError:
        raise rejected("was not a valid identity token") from None

    if str(claims["iss"]).rstrip("/") != settings.server.rstrip("/"):
        raise rejected(f"came from another site ({claims['iss']}, not {settings.server})")
    try:
        issued, expires = float(claims["iat"]), float(claims["exp"])
    except (TypeError, ValueError):
        raise rejected("had unreadable times") from None
    if issued > now + settings.leeway:
        raise rejected("is dated in the future (a clock may be wrong)")
    if expires < now - settings.leeway:
        raise rejected("had expired before it arrived (a clock may be wrong)")
    if not isinstance(claims["nonce"], str) or not seen.first_use(
        "nonce:" + claims["nonce"], expires_at=expires + settings.leeway, now=now
    ):
        raise rejected("had already been used once (an answer is good for one sign-in only)")
    if not hmac.compare_digest(claims["nonce"].encode(), nonce.encode()):
        raise rejected("belongs to another sign-in attempt (its nonce does not match)")
    if not isinstance(claims.get("grants", {}), dict | list):
        raise rejected("listed its grants in an unknown form")
    return identity(claims, version=1)


def _session(settings: OAuthSettings, base: requests.Session, **kwargs: Any) -> OAuth1Session:
    session = OAuth1Session(settings.consumer_key, client_secret=settings.consumer_secret, **kwargs)
    return dressed(session, base)


def _token(settings: OAuthSettings, session: OAuth1Session, step: str) -> dict[str, str]:
    """POST a signed ``Special:OAuth/<step>`` and read the token it returns.

    The extension answers errors here with HTTP 200 and a plain-text ``Error: …``, which
    a generic client mistakes for an unreadable token; they are read for their cause.
    """
    response = session.post(settings.special_oauth(step), timeout=TIMEOUT)
    refusal = oauth1_refusal(response.text)
    if refusal is not None:
        log.warning("OAuth 1 %s refused: %s", step, refusal)
        raise OAuthError(refusal)
    if response.status_code != 200:
        log.warning("OAuth 1 %s failed: HTTP %s", step, response.status_code)
        raise OAuthError(f"The wiki did not accept this sign-in. {AGAIN}")
    token = dict(parse_qsl(response.text.strip()))
    if not token.get("oauth_token") or not token.get("oauth_token_secret"):
        log.warning("OAuth 1 %s answer carried no token", step)
        raise OAuthError(f"The wiki's answer could not be read. {AGAIN}")
    return token


def start(settings: OAuthSettings, base: requests.Session) -> tuple[str, dict[str, str]]:
    """Return (URL of the wiki's ``authenticate`` page, data to keep until the callback)."""
    # "oob": MediaWiki then sends the user to the consumer's registered callback URL.
    # Any other value is refused unless the consumer allows callbacks under a prefix.
    token = _token(settings, _session(settings, base, callback_uri="oob"), "initiate")
    # authenticate, not authorize: the wiki skips its consent dialog for an
    # identity-only consumer the user has already allowed.
    url = settings.special_oauth(
        "authenticate",
        oauth_token=token["oauth_token"],
        oauth_consumer_key=settings.consumer_key,
    )
    return url, {
        "oauth_token": token["oauth_token"],
        "oauth_token_secret": token["oauth_token_secret"],
    }


def finish(
    settings: OAuthSettings,
    base: requests.Session,
    kept: Mapping[str, str],
    args: Mapping[str, str],
    *,
    clock: Callable[[], float],
    seen: SeenNonces,
) -> Identity:
    """Complete a sign-in from the kept data and the callback's query parameters; the
    identify JWT is checked at ``clock()`` and its nonce recorded in ``seen``."""
    if not args.get("oauth_verifier"):
        raise OAuthError(
            "The wiki did not confirm the sign-in (no verification code came back); if "
            "you declined, you are not signed in. Sign in again to continue."
        )
    if not same(args.get("oauth_token"), kept.get("oauth_token")):
        raise OAuthError(
            "This sign-in answer does not match the sign-in this browser started (it may "
            "be stale, from another tab, or forged). Please sign in again."
        )
    access = _token(
        settings,
        _session(
            settings,
            base,
            resource_owner_key=kept["oauth_token"],
            resource_owner_secret=kept.get("oauth_token_secret", ""),
            verifier=args["oauth_verifier"],
        ),
        "token",
    )
    # Our own nonce, so the identify JWT can be tied to this very request.
    nonce = secrets.token_hex(16)
    response = _session(
        settings,
        base,
        resource_owner_key=access.get("oauth_token"),
        resource_owner_secret=access.get("oauth_token_secret"),
        nonce=nonce,
    ).post(settings.special_oauth("identify"), timeout=TIMEOUT)
    refusal = oauth1_refusal(response.text)
    if refusal is not None:
        log.warning("OAuth 1 identify refused: %s", refusal)
        raise OAuthError(refusal)
    if response.status_code != 200:
        log.warning("OAuth 1 identify failed: HTTP %s", response.status_code)
        raise OAuthError(f"The wiki did not say who you are. {AGAIN}")
    return verify_identify_jwt(response.text.strip(), settings, nonce=nonce, now=clock(), seen=seen)
