"""Signing in with MediaWiki OAuth 2.0: the authorization-code grant with PKCE (S256)
against the wiki's ``rest.php/oauth2/…``.

``start`` gives the URL of the wiki's consent page and the state and PKCE verifier to
keep until the callback; ``finish`` checks the callback against them, trades the code
for a token and reads the user's profile into an ``Identity``.  A declined consent
(the extension says ``unauthorized_client``) and the token endpoint's refusals are read
by ``bridge.oauth_answers`` into a sentence that names the cause.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import requests
from oauthlib.oauth2 import OAuth2Error, WebApplicationClient
from requests_oauthlib import OAuth2Session

from bridge.oauth_answers import AGAIN, DECLINED, declined, oauth2_token_refusal
from bridge.oauth_settings import (
    TIMEOUT,
    Identity,
    OAuthError,
    OAuthSettings,
    dressed,
    identity,
    same,
)

log = logging.getLogger(__name__)


def start(settings: OAuthSettings) -> tuple[str, dict[str, str]]:
    """Return (URL of the wiki's consent page, data to keep until the callback)."""
    pkce = WebApplicationClient(settings.consumer_key)
    verifier = pkce.create_code_verifier(64)
    oauth = OAuth2Session(settings.consumer_key, redirect_uri=settings.callback_url)
    url, state = oauth.authorization_url(
        settings.rest("authorize"),
        code_challenge=pkce.create_code_challenge(verifier, "S256"),
        code_challenge_method="S256",
    )
    return url, {"state": state, "code_verifier": verifier}


def finish(
    settings: OAuthSettings,
    base: requests.Session,
    kept: Mapping[str, str],
    args: Mapping[str, str],
) -> Identity:
    """Complete a sign-in from the kept data and the callback's query parameters."""
    if declined(args):
        raise OAuthError(DECLINED)
    if args.get("error"):
        raise OAuthError(f"The wiki refused the sign-in ({args['error']}). {AGAIN}")
    if not same(args.get("state"), kept.get("state")) or not kept.get("code_verifier"):
        raise OAuthError(
            "This sign-in answer does not match the sign-in this browser started (it may "
            "be stale, from another tab, or forged). Please sign in again."
        )
    if not args.get("code"):
        raise OAuthError(f"The wiki did not send back a sign-in code. {AGAIN}")
    oauth = dressed(
        OAuth2Session(
            settings.consumer_key,
            redirect_uri=settings.callback_url,
            state=kept["state"],
        ),
        base,
    )
    try:
        oauth.fetch_token(
            settings.rest("access_token"),
            code=args["code"],
            client_secret=settings.consumer_secret,
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
        raise OAuthError(f"The wiki's answer could not be read. {AGAIN}") from None
    response = oauth.get(settings.rest("resource/profile"), timeout=TIMEOUT)
    try:
        response.raise_for_status()
        profile = response.json()
    except (requests.HTTPError, ValueError):
        log.warning("OAuth 2 profile request failed: HTTP %s", response.status_code)
        raise OAuthError(f"The wiki did not say who you are. {AGAIN}") from None
    if not isinstance(profile, dict):
        raise OAuthError(f"The wiki did not say who you are. {AGAIN}")
    return identity(profile, version=2)
