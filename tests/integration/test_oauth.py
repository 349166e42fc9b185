"""MediaWiki OAuth sign-in over real HTTP: the bridge's client against the DevOAuth provider,
the user's browser played by `requests` following the wiki's redirects."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
import requests
from requests_oauthlib import OAuth1Session

from bridge.oauth import Identity, OAuthClient, OAuthError
from devtools.devoauth import DevOAuth
from tests.integration.conftest import OAUTH_CALLBACK


def browse(url: str) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """Follow the wiki's redirects as a browser would, up to the bridge's callback URL;
    return the callback's query parameters and the (status, URL) hops on the way."""
    browser = requests.Session()
    hops: list[tuple[int, str]] = []
    response = browser.get(url, allow_redirects=False, timeout=10)
    while response.status_code in (302, 303, 307):
        location = response.headers["Location"]
        hops.append((response.status_code, location))
        if location.startswith(OAUTH_CALLBACK):
            return dict(parse_qsl(urlsplit(location).query)), hops
        response = browser.get(location, allow_redirects=False, timeout=10)
    raise AssertionError(f"the browser stopped at HTTP {response.status_code}: {response.text}")


def sign_in(provider: DevOAuth, version: int, client: OAuthClient | None = None) -> Identity:
    client = client or OAuthClient(provider.oauth_settings(version))
    url, kept = client.start()
    args, _ = browse(url)
    return client.finish(kept, args)


def refusal(call: Any, *args: Any) -> str:
    with pytest.raises(OAuthError) as caught:
        call(*args)
    return str(caught.value)


ALICE = Identity(
    central_id="4",
    username="Alice",
    editcount=512,
    confirmed_email=True,
    blocked=False,
    registered="20241127113127",
    groups=("*", "user", "autoconfirmed"),
    version=2,
)


def login_alice(provider: DevOAuth) -> None:
    provider.login_as(
        "Alice",
        4,
        editcount=512,
        groups=("*", "user", "autoconfirmed"),
        confirmed_email=True,
        registered="20241127113127",
    )


# OAuth 2.0


def test_oauth2_signs_the_user_in(devoauth: DevOAuth) -> None:
    login_alice(devoauth)
    client = OAuthClient(devoauth.oauth_settings(2))
    url, kept = client.start()
    assert url.startswith(devoauth.url + "/rest.php/oauth2/authorize?")
    assert "code_challenge_method=S256" in url and set(kept) == {"state", "code_verifier"}
    args, hops = browse(url)
    assert [status for status, _ in hops] == [307, 302]
    assert hops[0][1].startswith(devoauth.url + "/index.php?title=Special%3AOAuth%2Fapprove&")
    assert set(args) == {"code", "state"}
    assert client.finish(kept, args) == ALICE


def test_oauth2_refuses_a_callback_with_another_state(devoauth: DevOAuth) -> None:
    login_alice(devoauth)
    client = OAuthClient(devoauth.oauth_settings(2))
    url, kept = client.start()
    args, _ = browse(url)
    message = refusal(client.finish, kept, {**args, "state": "forged-state"})
    assert "does not match the sign-in this browser started" in message
    assert "does not match" in refusal(client.finish, {}, args)


def test_oauth2_says_so_when_the_user_declines(devoauth: DevOAuth) -> None:
    login_alice(devoauth)
    devoauth.decline_next()
    client = OAuthClient(devoauth.oauth_settings(2))
    url, kept = client.start()
    args, _ = browse(url)
    # As the real extension words it (not the standard access_denied), without a state.
    assert args["error"] == "unauthorized_client" and "state" not in args
    assert "You declined" in refusal(client.finish, kept, args)


def test_oauth2_code_is_good_once(devoauth: DevOAuth) -> None:
    login_alice(devoauth)
    client = OAuthClient(devoauth.oauth_settings(2))
    url, kept = client.start()
    args, _ = browse(url)
    assert client.finish(kept, args).username == "Alice"
    assert "used already" in refusal(client.finish, kept, args)


def test_oauth2_pkce_verifier_must_match(devoauth: DevOAuth) -> None:
    login_alice(devoauth)
    client = OAuthClient(devoauth.oauth_settings(2))
    url, kept = client.start()
    args, _ = browse(url)
    other = {**kept, "code_verifier": "x" * 64}
    assert "did not accept this sign-in" in refusal(client.finish, other, args)


# OAuth 1.0a


def test_oauth1_signs_the_user_in(devoauth: DevOAuth) -> None:
    login_alice(devoauth)
    client = OAuthClient(devoauth.oauth_settings(1))
    url, kept = client.start()
    assert url.startswith(devoauth.url + "/index.php?title=Special%3AOAuth%2Fauthenticate&")
    assert f"oauth_consumer_key={devoauth.consumer_key}" in url
    args, hops = browse(url)
    assert [status for status, _ in hops] == [302]
    assert set(args) == {"oauth_token", "oauth_verifier"}
    assert client.finish(kept, args) == Identity(**{**ALICE.__dict__, "version": 1})


def test_oauth1_refuses_a_callback_for_another_request_token(devoauth: DevOAuth) -> None:
    login_alice(devoauth)
    client = OAuthClient(devoauth.oauth_settings(1))
    url, kept = client.start()
    args, _ = browse(url)
    message = refusal(client.finish, kept, {**args, "oauth_token": "0" * 32})
    assert "does not match the sign-in this browser started" in message


def test_oauth1_decline_never_reaches_the_bridge(devoauth: DevOAuth) -> None:
    login_alice(devoauth)
    devoauth.decline_next()
    client = OAuthClient(devoauth.oauth_settings(1))
    url, kept = client.start()
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 200 and "You have chosen not to allow" in response.text
    # Someone opening the callback by hand gets told what happened.
    assert "if you declined" in refusal(client.finish, kept, {"oauth_token": kept["oauth_token"]})


@pytest.mark.parametrize(
    ("misbehaviour", "expected"),
    [
        ({"key": "f" * 40}, "signature that does not match"),
        ({"algorithm": "none"}, "HS256"),
        ({"algorithm": "RS256"}, "HS256"),
        ({"exp_offset": -300, "iat_offset": -400}, "expired"),
        ({"iat_offset": 600, "exp_offset": 600}, "future"),
        ({"aud": "another-consumer"}, "another application"),
        ({"iss": "https://evil.example.org"}, "another site"),
        ({"nonce": "0" * 32}, "another sign-in attempt"),
        ({"nonce": None}, "lacked the 'nonce' claim"),
    ],
    ids=[
        "forged",
        "alg-none",
        "rs256",
        "expired",
        "future",
        "audience",
        "issuer",
        "nonce",
        "no-nonce",
    ],
)
def test_oauth1_refuses_a_bad_identify_jwt(
    devoauth: DevOAuth, misbehaviour: dict[str, Any], expected: str
) -> None:
    login_alice(devoauth)
    devoauth.issue_jwt_with(**misbehaviour)
    message = refusal(sign_in, devoauth, 1)
    assert expected in message and "not signed in" in message
    assert devoauth.consumer_secret not in message


def test_oauth1_refuses_a_replayed_identify_jwt(devoauth: DevOAuth) -> None:
    login_alice(devoauth)
    client = OAuthClient(devoauth.oauth_settings(1))
    assert sign_in(devoauth, 1, client).username == "Alice"
    devoauth.issue_jwt_with(replay=True)
    assert "already been used" in refusal(sign_in, devoauth, 1, client)
    assert sign_in(devoauth, 1, client).username == "Alice"  # a fresh one still works


def test_an_unreachable_wiki_is_reported_plainly(devoauth: DevOAuth) -> None:
    client = OAuthClient(devoauth.oauth_settings(1))
    devoauth.stop()
    assert "could not be reached" in refusal(client.start)


def test_plain_http_is_refused_without_the_insecure_switch(
    devoauth: DevOAuth, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT")
    with pytest.raises(ValueError, match="not https"):
        OAuthClient(devoauth.oauth_settings(2))


# The provider answers in MediaWiki's shapes (LOCALWIKI.md)


def test_devoauth_oauth2_answers_like_mediawiki(devoauth: DevOAuth) -> None:
    login_alice(devoauth)
    client = OAuthClient(devoauth.oauth_settings(2))
    url, kept = client.start()
    args, _ = browse(url)
    response = requests.post(
        devoauth.url + "/rest.php/oauth2/access_token",
        data={
            "grant_type": "authorization_code",
            "code": args["code"],
            "redirect_uri": OAUTH_CALLBACK,
            "client_id": devoauth.consumer_key,
            "client_secret": devoauth.consumer_secret,
            "code_verifier": kept["code_verifier"],
        },
        timeout=10,
    )
    token = response.json()
    assert list(token) == ["token_type", "expires_in", "access_token", "refresh_token"]
    assert token["token_type"] == "Bearer"
    assert jwt.get_unverified_header(token["access_token"])["alg"] == "RS256"
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert {"aud", "jti", "sub", "iss", "scopes", "iat", "nbf", "exp"} <= set(claims)
    assert all(isinstance(claims[k], float) for k in ("iat", "nbf", "exp"))
    assert claims["sub"] == "4" and claims["aud"] == devoauth.consumer_key
    profile = requests.get(
        devoauth.url + "/rest.php/oauth2/resource/profile",
        headers={"Authorization": "Bearer " + token["access_token"]},
        timeout=10,
    ).json()
    assert list(profile) == [
        "sub",
        "username",
        "editcount",
        "confirmed_email",
        "blocked",
        "registered",
        "groups",
        "rights",
        "grants",
    ]
    assert profile["sub"] == "4" and profile["grants"] == ["mwoauth-authonly"]


def test_devoauth_oauth1_answers_like_mediawiki(devoauth: DevOAuth) -> None:
    login_alice(devoauth)
    index = devoauth.url + "/index.php"
    oauth = OAuth1Session(
        devoauth.consumer_key, client_secret=devoauth.consumer_secret, callback_uri="oob"
    )
    request_token = oauth.fetch_request_token(index + "?title=Special:OAuth/initiate")
    assert request_token["oauth_callback_confirmed"] == "true"
    refused = requests.post(index + "?title=Special:OAuth/initiate", timeout=10)
    # As on the wiki: HTTP 200, plain text.
    assert refused.status_code == 200 and refused.headers["Content-Type"].startswith("text/plain")
    assert refused.text == "Error: An error occurred in the OAuth protocol: Invalid consumer key"
    authorize = (
        f"{index}?title=Special:OAuth/authorize&oauth_token={request_token['oauth_token']}"
        f"&oauth_consumer_key={devoauth.consumer_key}"
    )
    args, _ = browse(authorize)
    access = OAuth1Session(
        devoauth.consumer_key,
        client_secret=devoauth.consumer_secret,
        resource_owner_key=request_token["oauth_token"],
        resource_owner_secret=request_token["oauth_token_secret"],
        verifier=args["oauth_verifier"],
    ).fetch_access_token(index + "?title=Special:OAuth/token")
    assert set(access) == {"oauth_token", "oauth_token_secret", "oauth_callback_confirmed"}
    identify = OAuth1Session(
        devoauth.consumer_key,
        client_secret=devoauth.consumer_secret,
        resource_owner_key=access["oauth_token"],
        resource_owner_secret=access["oauth_token_secret"],
        nonce="d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f",
    ).post(index + "?title=Special:OAuth/identify")
    assert jwt.get_unverified_header(identify.text) == {"typ": "JWT", "alg": "HS256"}
    claims = jwt.decode(
        identify.text,
        devoauth.consumer_secret,
        algorithms=["HS256"],
        audience=devoauth.consumer_key,
    )
    assert list(claims) == [
        "iss",
        "aud",
        "exp",
        "iat",
        "sub",
        "username",
        "editcount",
        "confirmed_email",
        "blocked",
        "registered",
        "groups",
        "rights",
        "grants",
        "nonce",
    ]
    assert claims["iss"] == devoauth.url and claims["exp"] == claims["iat"] + 100
    assert claims["sub"] == "4" and claims["grants"] == ["mwoauth-authonly"]
    assert claims["nonce"] == "d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f"
    assert abs(claims["iat"] - time.time()) < 5
