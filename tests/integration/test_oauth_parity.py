"""The stand-in provider answers as the real MediaWiki OAuth extension does, in every point
the extension's shared README lists: the same assertions, run against both (the real
extension on a local wiki, and ``devtools.devoauth``), with an identity-only consumer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
import requests
from requests_oauthlib import OAuth1Session

from bridge.oauth import OAuthClient, OAuthSettings
from devtools.devoauth import DevOAuth
from tests.integration.conftest import OAUTH_CALLBACK
from tests.integration.realoauth import RealOAuth, WikiBrowser

REJECTED = "User has rejected the request from client application"
ERROR_FIELDS = {"error", "error_description", "hint", "message"}


@dataclass
class Side:
    """One provider: its consumer settings per version, and Veteran's browser on it."""

    settings: Callable[[int], OAuthSettings]
    browser: Callable[[bool], WikiBrowser]

    def consent(self, url: str, *, allow: bool = True) -> tuple[dict[str, str], WikiBrowser]:
        browser = self.browser(allow)
        return browser.authorize(url, allow=allow), browser


@pytest.fixture(params=["real", "stand-in"])
def side(request: pytest.FixtureRequest) -> Side:
    if request.param == "real":
        real: RealOAuth = request.getfixturevalue("realoauth")
        return Side(
            lambda version: real.settings(real.consumers[version]),
            lambda allow: real.browser_of("Veteran"),
        )
    stand_in: DevOAuth = request.getfixturevalue("devoauth")

    def browser(allow: bool) -> WikiBrowser:
        if allow:
            stand_in.login_as("Veteran", 2)
        else:
            stand_in.decline_next()
        return WikiBrowser(requests.Session(), OAUTH_CALLBACK)

    return Side(stand_in.oauth_settings, browser)


def code_for(side: Side) -> tuple[OAuthSettings, dict[str, str], dict[str, str]]:
    settings = side.settings(2)
    url, kept = OAuthClient(settings).start()
    args, _ = side.consent(url)
    return settings, kept, args


def token_request(
    settings: OAuthSettings, args: dict[str, str], verifier: str, **changes: str
) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "code": args["code"],
        "redirect_uri": settings.callback_url,
        "client_id": settings.consumer_key,
        "client_secret": settings.consumer_secret,
        "code_verifier": verifier,
        **changes,
    }
    return requests.post(settings.rest("access_token"), data=form, timeout=30)


def oauth2_error(response: requests.Response, status: int, error: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    # invalid_client comes without a hint.
    assert set(body) >= ERROR_FIELDS - ({"hint"} if error == "invalid_client" else set()), body
    assert body["error"] == error, body
    return dict(body)


# OAuth 2.0


def test_oauth2_declined_consent(side: Side) -> None:
    url, _ = OAuthClient(side.settings(2)).start()
    args, _ = side.consent(url, allow=False)
    assert args["error"] == "unauthorized_client"
    assert args["error_description"] == REJECTED and args["message"] == REJECTED
    assert "state" not in args and "code" not in args  # the extension sends no state back


def test_oauth2_access_token_and_profile(side: Side) -> None:
    settings, kept, args = code_for(side)
    answer = token_request(settings, args, kept["code_verifier"])
    assert answer.status_code == 200
    token = answer.json()
    # The extension counts the hour from the token's making: a second may pass meanwhile.
    assert token["expires_in"] in (3599, 3600) and token["token_type"] == "Bearer"
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert all(isinstance(claims[name], float) for name in ("iat", "nbf", "exp"))
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    profile = requests.get(settings.rest("resource/profile"), headers=bearer, timeout=30)
    assert profile.status_code == 200
    assert profile.headers["Content-Type"] == "text/html; charset=UTF-8"
    me = profile.json()
    assert me["username"] == "Veteran"
    assert me["grants"] == ["mwoauth-authonly"] and me["rights"] == []


def test_oauth2_profile_with_a_bad_token(side: Side) -> None:
    bad = {"Authorization": "Bearer not-a-token"}
    answer = requests.get(side.settings(2).rest("resource/profile"), headers=bad, timeout=30)
    assert answer.status_code == 401
    assert set(answer.json()) >= ERROR_FIELDS


def test_oauth2_access_token_errors(side: Side) -> None:
    settings, kept, args = code_for(side)
    verifier = kept["code_verifier"]
    oauth2_error(token_request(settings, args, verifier, code="x" * 40), 400, "invalid_request")
    oauth2_error(token_request(settings, args, "y" * 64), 400, "invalid_grant")
    oauth2_error(
        token_request(settings, args, verifier, client_secret="0" * 40), 401, "invalid_client"
    )
    assert token_request(settings, args, verifier).status_code == 200
    reused = oauth2_error(token_request(settings, args, verifier), 400, "invalid_request")
    assert "revoked" in reused["hint"], reused


# OAuth 1.0a


def test_oauth1_token_and_identify(side: Side) -> None:
    settings = side.settings(1)
    url, kept = OAuthClient(settings).start()
    args, _ = side.consent(url)
    answer = OAuth1Session(
        settings.consumer_key,
        client_secret=settings.consumer_secret,
        resource_owner_key=kept["oauth_token"],
        resource_owner_secret=kept["oauth_token_secret"],
        verifier=args["oauth_verifier"],
    ).post(settings.special_oauth("token"), timeout=30)
    assert answer.status_code == 200
    access = dict(parse_qsl(answer.text))
    assert access["oauth_callback_confirmed"] == "true"
    identify = OAuth1Session(
        settings.consumer_key,
        client_secret=settings.consumer_secret,
        resource_owner_key=access["oauth_token"],
        resource_owner_secret=access["oauth_token_secret"],
    ).post(settings.special_oauth("identify"), timeout=30)
    assert identify.status_code == 200
    assert identify.headers["Content-Type"].startswith("application/json")
    claims = jwt.decode(identify.text, options={"verify_signature": False})
    assert claims["username"] == "Veteran" and claims["grants"] == ["mwoauth-authonly"]


def test_oauth1_errors_come_as_http_200(side: Side) -> None:
    settings = side.settings(1)
    wrong = OAuth1Session(settings.consumer_key, client_secret="0" * 40, callback_uri="oob")
    answer = wrong.post(settings.special_oauth("initiate"), timeout=30)
    assert answer.status_code == 200
    assert answer.text == "Error: An error occurred in the OAuth protocol: Invalid signature"
    stale = OAuth1Session(
        settings.consumer_key,
        client_secret=settings.consumer_secret,
        resource_owner_key="a" * 32,
        resource_owner_secret="b" * 40,
    ).post(settings.special_oauth("identify"), timeout=30)
    assert stale.status_code == 200
    assert stale.json()["error"] == "mwoauthdatastore-access-token-not-found"


def test_oauth1_declined_consent(side: Side) -> None:
    url, _ = OAuthClient(side.settings(1)).start()
    args, browser = side.consent(url, allow=False)
    assert args == {}
    assert browser.last_page is not None
    assert "You have chosen not to allow" in browser.last_page.text


def test_oauth2_authorize_sends_a_signed_in_user_to_approve(side: Side) -> None:
    url, _ = OAuthClient(side.settings(2)).start()
    answer = side.browser(True).session.get(url, allow_redirects=False, timeout=30)
    assert answer.status_code == 307
    location = urlsplit(answer.headers["Location"])
    query = dict(parse_qsl(location.query))
    assert query["title"] == "Special:OAuth/approve"
    assert query["returnto"] == "/rest.php/oauth2/authorize"
    assert query["oauth_version"] == "2" and query["scope"] == "mwoauth-authonly"
    assert "state=" in query["returntoquery"]


def test_oauth2_authorize_for_an_unknown_client(side: Side) -> None:
    settings = replace(side.settings(2), consumer_key="f" * 32)
    url, _ = OAuthClient(settings).start()
    answer = side.browser(True).session.get(url, allow_redirects=False, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "Application Connection Error" in answer.text
