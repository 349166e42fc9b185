"""The wiki's OAuth refusals, in the shapes the real extension (REL1_39) sends them, each
read into a sentence naming its cause (bridge.oauth_answers)."""

from __future__ import annotations

import pytest

from bridge.oauth_answers import (
    DECLINED,
    STALE,
    UNKNOWN_CONSUMER,
    WRONG_CLIENT,
    WRONG_SECRET,
    declined,
    oauth1_refusal,
    oauth2_token_refusal,
)

REJECTED = "User has rejected the request from client application"


def test_the_extensions_declined_consent_is_a_decline() -> None:
    assert declined(
        {
            "error": "unauthorized_client",
            "error_description": REJECTED,
            "message": REJECTED,
            "state": "s",
        }
    )


def test_the_standard_access_denied_is_a_decline() -> None:
    assert declined({"error": "access_denied", "state": "s"})


@pytest.mark.parametrize(
    "args",
    [
        {"error": "unauthorized_client", "error_description": "The client is not authorized"},
        {"error": "unauthorized_client"},
        {"error": "invalid_scope", "error_description": REJECTED},
        {"code": "c", "state": "s"},
    ],
)
def test_other_answers_are_not_a_decline(args: dict[str, str]) -> None:
    assert not declined(args)


def test_the_decline_sentence_says_the_user_declined() -> None:
    assert DECLINED.startswith("You declined")


def test_a_wrong_oauth2_client_names_both_settings() -> None:
    message = oauth2_token_refusal("invalid_client")
    assert message == WRONG_CLIENT
    assert "ATS_OAUTH_SECRET" in message and "[bridge] consumer_key" in message


@pytest.mark.parametrize("error", ["invalid_request", "invalid_grant"])
def test_a_bad_or_reused_oauth2_code_asks_to_sign_in_again(error: str) -> None:
    assert oauth2_token_refusal(error) == STALE
    assert "sign in again" in STALE


def test_an_unknown_oauth2_error_is_named() -> None:
    assert "(server_error)" in oauth2_token_refusal("server_error")
    assert "(no reason given)" in oauth2_token_refusal(None)


def test_oauth1_invalid_signature_is_the_consumer_secret() -> None:
    body = "Error: An error occurred in the OAuth protocol: Invalid signature"
    assert oauth1_refusal(body) == WRONG_SECRET
    assert "ATS_OAUTH_SECRET" in WRONG_SECRET


def test_oauth1_invalid_consumer_is_the_consumer_key() -> None:
    body = "Error: An error occurred in the OAuth protocol: Invalid consumer"
    assert oauth1_refusal(body) == UNKNOWN_CONSUMER
    assert "[bridge] consumer_key" in UNKNOWN_CONSUMER and "oauth_version" in UNKNOWN_CONSUMER


def test_oauth1_token_not_found_asks_to_sign_in_again() -> None:
    # Verbatim from Special:OAuth/token with a stale request token (escaped HTML and all).
    body = (
        "Error: Sorry, something went wrong connecting this application.\n"
        "Go back and try to connect your account again, or contact the application author."
        "\n\n&lt;span class=&quot;plainlinks mw-mwoautherror-details&quot;&gt;OAuth token "
        'not found, <a class="external" href="https://www.mediawiki.org/wiki/Help:OAuth/'
        'Errors#E004">E004</a>&lt;/span&gt;'
    )
    assert oauth1_refusal(body) == STALE


def test_oauth1_a_request_token_used_twice_asks_to_sign_in_again() -> None:
    body = (
        "Error: This request has already been completed and cannot be resubmitted.\n"
        "Go back to the application and try to connect your account again, or contact the "
        "application author."
    )
    assert oauth1_refusal(body) == STALE


def test_oauth1_other_plain_text_errors_are_quoted() -> None:
    message = oauth1_refusal("Error: <b>Something</b>   odd\nhappened")
    assert message is not None and "(Something odd happened)" in message


def test_oauth1_identify_json_errors() -> None:
    body = (
        '{"error":"mwoauthdatastore-access-token-not-found",'
        '"message":"No approved grant was found for that authorization token."}'
    )
    assert oauth1_refusal(body) == STALE
    assert oauth1_refusal('{"error":"mwoauth-invalid-consumer"}') == UNKNOWN_CONSUMER
    # No key at all: the code is generic, the message names the cause.
    unsigned = (
        '{"error":"mwoauth-oauth-exception",'
        '"message":"An error occurred in the OAuth protocol: Invalid consumer key"}'
    )
    assert oauth1_refusal(unsigned) == UNKNOWN_CONSUMER
    other = oauth1_refusal('{"error":"mwoauth-something"}')
    assert other is not None and "(mwoauth-something)" in other


@pytest.mark.parametrize(
    "body",
    [
        "oauth_token=a&oauth_token_secret=b&oauth_callback_confirmed=true",
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0In0.c2ln",
        '{"sub": "4"}',
        "{not json",
        "",
    ],
)
def test_good_answers_are_not_refusals(body: str) -> None:
    assert oauth1_refusal(body) is None
