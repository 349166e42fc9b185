"""Sign-ins through the real MediaWiki OAuth extension (REL1_39) loaded on a local wiki,
with identity-only consumers registered by the tests: the bridge's ``OAuthClient`` against
the wiki's real endpoints, a logged-in user's HTTP session clicking "Allow" or "Cancel" on
the wiki's real consent page."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from bridge.oauth import OAuthClient
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
