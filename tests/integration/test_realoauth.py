"""Sign-ins through the real MediaWiki OAuth extension (REL1_39) loaded on a local wiki,
with identity-only consumers registered by the tests: the bridge's ``OAuthClient`` against
the wiki's real endpoints, a logged-in user's HTTP session clicking "Allow" or "Cancel" on
the wiki's real consent page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from bridge.oauth import OAuthClient, OAuthError
from devtools.devwiki.oauthext import default_oauth_dir, oauth_dir
from tests.integration.realoauth import RealOAuth


def user_id(real: RealOAuth, name: str) -> int:
    answer = requests.get(
        real.wiki.api_url,
        params={"action": "query", "list": "users", "ususers": name, "format": "json"},
        timeout=30,
    ).json()
    return int(answer["query"]["users"][0]["userid"])


VERSIONS = pytest.mark.parametrize("version", [2, 1], ids=["oauth2", "oauth1"])


def test_oauth_dir_is_the_shared_folder_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ATS_OAUTH_DIR", raising=False)
    default = default_oauth_dir()
    assert default.name == "mediawiki-oauth" and default.parent.name == "shared"
    monkeypatch.setenv("ATS_OAUTH_DIR", str(tmp_path))
    assert oauth_dir() is None  # no OAuth/extension.json there
    (tmp_path / "OAuth").mkdir()
    (tmp_path / "OAuth" / "extension.json").write_text("{}")
    assert oauth_dir() is None  # nor mkconsumer.php
    (tmp_path / "mkconsumer.php").write_text("<?php\n")
    assert oauth_dir() == tmp_path.resolve()


@VERSIONS
def test_registered_consumers_are_identity_only(realoauth: RealOAuth, version: int) -> None:
    consumer = realoauth.consumers[version]
    assert consumer.version == version
    assert consumer.grants == ("mwoauth-authonly",)
    assert len(consumer.key) == 32 and len(consumer.secret) == 40


@VERSIONS
def test_first_login_names_the_wiki_user(realoauth: RealOAuth, version: int) -> None:
    client = OAuthClient(realoauth.settings(realoauth.consumers[version]))
    browser = realoauth.browser_of("Veteran")
    url, kept = client.start()
    identity = client.finish(kept, browser.authorize(url))
    assert browser.consent_pages == 1
    assert (identity.username, identity.version) == ("Veteran", version)
    assert identity.central_id == str(user_id(realoauth, "Veteran"))
    assert "user" in identity.groups and not identity.blocked


def refusal(call: Callable[[], object]) -> str:
    with pytest.raises(OAuthError) as caught:
        call()
    return str(caught.value)


@VERSIONS
def test_second_login_asks_no_consent(realoauth: RealOAuth, version: int) -> None:
    client = OAuthClient(realoauth.settings(realoauth.consumers[version]))
    browser = realoauth.browser_of("Newcomer")
    for _ in range(2):
        url, kept = client.start()
        assert client.finish(kept, browser.authorize(url)).username == "Newcomer"
    assert browser.consent_pages == 1


def test_oauth2_declined_consent_says_you_declined(realoauth: RealOAuth) -> None:
    client = OAuthClient(realoauth.settings(realoauth.consumers[2]))
    url, kept = client.start()
    args = realoauth.browser_of("Veteran").authorize(url, allow=False)
    # The extension's own shape, not the standard access_denied.
    assert args["error"] == "unauthorized_client"
    assert "rejected" in args["error_description"]
    assert refusal(lambda: client.finish(kept, args)).startswith("You declined")


def test_oauth1_declined_consent_never_reaches_the_bridge(realoauth: RealOAuth) -> None:
    client = OAuthClient(realoauth.settings(realoauth.consumers[1]))
    url, _kept = client.start()
    browser = realoauth.browser_of("Veteran")
    assert browser.authorize(url, allow=False) == {}
    assert browser.last_page is not None
    assert "You have chosen not to allow" in browser.last_page.text


def test_oauth2_wrong_consumer_secret_names_the_setting(realoauth: RealOAuth) -> None:
    consumer = realoauth.consumers[2]
    client = OAuthClient(realoauth.settings(consumer, secret="0" * 40))
    url, kept = client.start()  # the secret is first used at access_token
    message = refusal(lambda: client.finish(kept, realoauth.browser_of("Veteran").authorize(url)))
    assert "refused this tool's OAuth consumer key or secret" in message
    assert "ATS_OAUTH_SECRET" in message


def test_oauth1_wrong_consumer_secret_names_the_setting(realoauth: RealOAuth) -> None:
    client = OAuthClient(realoauth.settings(realoauth.consumers[1], secret="0" * 40))
    message = refusal(client.start)  # the wiki answers "Invalid signature" with HTTP 200
    assert "refused this tool's OAuth consumer secret" in message
    assert "ATS_OAUTH_SECRET" in message


def test_oauth1_unknown_consumer_names_the_setting(realoauth: RealOAuth) -> None:
    known = realoauth.consumers[1]
    unknown = replace(known, key="f" * 32)
    message = refusal(OAuthClient(realoauth.settings(unknown)).start)
    assert "does not know this tool's OAuth consumer" in message
    assert "[bridge] consumer_key" in message


def test_oauth1_stale_request_token_asks_to_sign_in_again(realoauth: RealOAuth) -> None:
    client = OAuthClient(realoauth.settings(realoauth.consumers[1]))
    url, kept = client.start()
    args = realoauth.browser_of("Veteran").authorize(url)
    client.finish(kept, args)
    # The request token was exchanged once; the wiki answers the second try in a 200 body.
    assert "did not accept this sign-in" in refusal(lambda: client.finish(kept, args))


def test_oauth2_reused_code_asks_to_sign_in_again(realoauth: RealOAuth) -> None:
    client = OAuthClient(realoauth.settings(realoauth.consumers[2]))
    url, kept = client.start()
    args = realoauth.browser_of("Veteran").authorize(url)
    client.finish(kept, args)
    assert "did not accept this sign-in" in refusal(lambda: client.finish(kept, args))
