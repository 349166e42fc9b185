"""The OAuth 1.0a identify JWT check alone, on hand-made tokens (no network)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest

from bridge.oauth import (
    Identity,
    OAuthError,
    OAuthSettings,
    SeenNonces,
    verify_identify_jwt,
)

KEY = "6f1c1d2e3a4b5c6d7e8f901a2b3c4d5e"
SECRET = "0123456789abcdef0123456789abcdef01234567"
SERVER = "https://meta.example.org"
NOW = 1_800_000_000.0
NONCE = "5f2b0c4e9a7d4c1e8b3a6f0d2c9e7b1a"
SETTINGS = OAuthSettings(
    version=1,
    consumer_key=KEY,
    consumer_secret=SECRET,
    server=SERVER,
    index_url=SERVER + "/w/index.php",
    rest_url=SERVER + "/w/rest.php",
    callback_url="https://bridge.example.org/oauth/callback",
)


def claims(**changes: Any) -> dict[str, Any]:
    """What MediaWiki's Special:OAuth/identify puts in its JWT (LOCALWIKI.md)."""
    base = {
        "iss": SERVER,
        "aud": KEY,
        "exp": int(NOW) + 100,
        "iat": int(NOW),
        "sub": "4",
        "username": "Alice",
        "editcount": 5,
        "confirmed_email": False,
        "blocked": False,
        "registered": "20241127113127",
        "groups": ["*", "user", "autoconfirmed"],
        "rights": ["read", "edit"],
        "grants": {"0": "basic", "2": "editpage"},
        "nonce": NONCE,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, Any], key: str = SECRET, alg: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"typ": "JWT", "alg": alg})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_with_header(header: dict[str, str], payload: dict[str, Any]) -> str:
    """An HMAC-SHA256 signature under a header claiming another algorithm."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    mac = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(mac)


def verify(token: str, *, nonce: str = NONCE, now: float = NOW, seen: SeenNonces | None = None):
    return verify_identify_jwt(
        token, SETTINGS, nonce=nonce, now=now, seen=seen if seen is not None else SeenNonces()
    )


def refused(token: str, **kwargs: Any) -> str:
    with pytest.raises(OAuthError) as caught:
        verify(token, **kwargs)
    message = str(caught.value)
    assert SECRET not in message and token not in message
    assert "not signed in" in message and "sign in again" in message.lower()
    return message


def test_a_good_token_names_the_user() -> None:
    assert verify(signed(claims())) == Identity(
        central_id="4",
        username="Alice",
        editcount=5,
        confirmed_email=False,
        blocked=False,
        registered="20241127113127",
        groups=("*", "user", "autoconfirmed"),
        version=1,
    )


def test_grants_as_an_object_with_gaps_or_a_list_are_accepted() -> None:
    assert verify(signed(claims(grants={"0": "basic", "2": "editpage"}))).username == "Alice"
    assert verify(signed(claims(grants=["basic"], nonce="n2")), nonce="n2").username == "Alice"


def test_a_token_signed_with_another_key_is_refused() -> None:
    assert "signature" in refused(signed(claims(), key="f" * 40))


def test_alg_none_is_refused() -> None:
    token = jwt.encode(claims(), None, algorithm="none")
    assert "HS256" in refused(token)


def test_rs256_header_with_the_secret_as_key_is_refused() -> None:
    token = hmac_with_header({"typ": "JWT", "alg": "RS256"}, claims())
    assert "HS256" in refused(token)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_another_hmac_algorithm_is_refused() -> None:
    assert "HS256" in refused(signed(claims(), alg="HS512"))


def test_an_expired_token_is_refused_beyond_the_leeway_only() -> None:
    assert "expired" in refused(signed(claims(iat=int(NOW) - 200, exp=int(NOW) - 11)))
    assert verify(signed(claims(iat=int(NOW) - 100, exp=int(NOW) - 9))).username == "Alice"


def test_a_token_issued_in_the_future_is_refused_beyond_the_leeway_only() -> None:
    assert "future" in refused(signed(claims(iat=int(NOW) + 60, exp=int(NOW) + 160)))
    assert verify(signed(claims(iat=int(NOW) + 9))).username == "Alice"


def test_a_token_for_another_audience_is_refused() -> None:
    assert "another application" in refused(signed(claims(aud="someone-else")))


def test_a_token_from_another_issuer_is_refused() -> None:
    message = refused(signed(claims(iss="https://evil.example.org")))
    assert "another site" in message and "https://evil.example.org" in message


def test_a_token_with_another_nonce_is_refused() -> None:
    assert "nonce" in refused(signed(claims()), nonce="a-different-nonce")


def test_a_replayed_token_is_refused() -> None:
    seen = SeenNonces()
    token = signed(claims())
    assert verify(token, seen=seen).username == "Alice"
    assert "already been used" in refused(token, seen=seen)


def test_missing_claims_and_garbage_are_refused() -> None:
    assert "'nonce'" in refused(signed(claims(nonce=None)))
    assert "'iss'" in refused(signed(claims(iss=None)))
    assert "not a valid identity token" in refused("not.a.jwt")
    assert "did not name a user" in refused(signed(claims(username="")))


def test_seen_nonces_expire_and_stay_bounded() -> None:
    seen = SeenNonces(capacity=3)
    assert seen.first_use("a", expires_at=NOW + 10, now=NOW)
    assert not seen.first_use("a", expires_at=NOW + 10, now=NOW + 5)
    assert seen.first_use("a", expires_at=NOW + 30, now=NOW + 11)  # its token expired
    for key in "bcde":
        seen.first_use(key, expires_at=NOW + 100, now=NOW + 12)
    assert len(seen) == 3


def test_settings_from_the_api_url() -> None:
    settings = OAuthSettings.from_api_url(
        "https://meta.wikimedia.org/w/api.php",
        version=2,
        consumer_key="k",
        consumer_secret="s",
        callback_url="https://bridge.example.org/oauth/callback",
    )
    assert settings.server == "https://meta.wikimedia.org"
    assert settings.index_url == "https://meta.wikimedia.org/w/index.php"
    assert settings.rest("authorize") == "https://meta.wikimedia.org/w/rest.php/oauth2/authorize"
    assert settings.special_oauth("initiate") == (
        "https://meta.wikimedia.org/w/index.php?title=Special%3AOAuth%2Finitiate"
    )
    with pytest.raises(ValueError, match="api.php"):
        OAuthSettings.from_api_url(
            "https://meta.wikimedia.org/wiki/",
            version=2,
            consumer_key="k",
            consumer_secret="s",
            callback_url="x",
        )
    with pytest.raises(ValueError, match="1 or 2"):
        OAuthSettings.from_api_url(
            "http://127.0.0.1:8080/api.php",
            version=3,
            consumer_key="k",
            consumer_secret="s",
            callback_url="x",
        )
