"""What the wiki's OAuth extension meant: its refusals read and turned into one sentence for
the person signing in, which also tells the chapter's admins which setting to check.

The real extension (REL1_39) answers in shapes a generic OAuth client misreads:

- OAuth 2.0, consent declined: a redirect to the callback with ``error=unauthorized_client``
  and ``error_description=User has rejected the request from client application`` (the
  standard ``access_denied`` is taken as well);
- OAuth 2.0, a wrong consumer key or secret at ``access_token``: 401 ``invalid_client``
  ("Client authentication failed"); a bad, re-used or revoked code ``invalid_request``,
  a wrong PKCE verifier ``invalid_grant``;
- OAuth 1.0a: every error of ``initiate`` and ``token`` arrives as **HTTP 200** with a plain
  text body ``Error: …`` ("Invalid signature" for a wrong secret, "Invalid consumer" for an
  unknown key, "OAuth token not found" or "This request has already been completed" for a
  stale request token), and ``identify``'s as
  HTTP 200 JSON ``{"error": "mwoauthdatastore-…", "message": …}``.

Each function here is pure: it takes what came back and returns the sentence to show (or
None when the answer is not a refusal it knows).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from html import unescape

__all__ = [
    "AGAIN",
    "DECLINED",
    "declined",
    "oauth1_refusal",
    "oauth2_token_refusal",
]

AGAIN = "Please sign in again; if it keeps happening, tell the chapter's admins."
DECLINED = (
    "You declined to let this tool know who you are on the wiki, so you are not signed in. "
    "Sign in again and choose Allow if you want to continue."
)
_ADMINS = "Sign-in is not working for anyone; please tell the chapter's admins"
WRONG_SECRET = (
    f"The wiki refused this tool's OAuth consumer secret. {_ADMINS} (for admins: "
    "ATS_OAUTH_SECRET must be the secret of the consumer named in [bridge] consumer_key)."
)
UNKNOWN_CONSUMER = (
    f"The wiki does not know this tool's OAuth consumer. {_ADMINS} (for admins: "
    "[bridge] consumer_key must be an approved consumer of this wiki, of the OAuth version "
    "in [bridge] oauth_version)."
)
WRONG_CLIENT = (
    f"The wiki refused this tool's OAuth consumer key or secret. {_ADMINS} (for admins: "
    "check [bridge] consumer_key and ATS_OAUTH_SECRET against the consumer registered on "
    "the wiki)."
)
STALE = (
    "The wiki did not accept this sign-in (it may have expired, been used already or been "
    "revoked). Please sign in again."
)

# The extension's own phrase for a declined OAuth 2.0 request (League's OAuth2 server).
_REJECTED = re.compile(r"\brejected the request\b", re.I)
_TAG = re.compile(r"<[^>]*>")


def declined(args: Mapping[str, str]) -> bool:
    """Whether an OAuth 2.0 callback says the user chose not to allow the tool."""
    error = args.get("error")
    if error == "access_denied":
        return True
    if error == "unauthorized_client":
        said = " ".join(args.get(key, "") for key in ("error_description", "message"))
        return bool(_REJECTED.search(said))
    return False


def oauth2_token_refusal(error: str | None) -> str:
    """The sentence for an ``access_token`` refusal with OAuth 2.0 ``error`` code."""
    if error == "invalid_client":
        return WRONG_CLIENT
    if error in ("invalid_request", "invalid_grant"):
        return STALE
    return f"The wiki did not accept this sign-in ({error or 'no reason given'}). {AGAIN}"


def oauth1_refusal(body: str) -> str | None:
    """The sentence for an OAuth 1.0a answer that is an error in a 200 body (plain text
    ``Error: …`` or identify's JSON ``{"error": …}``); None for anything else."""
    text = body.strip()
    if text.startswith("{"):
        try:
            answer = json.loads(text)
        except ValueError:
            return None
        if not isinstance(answer, dict) or "error" not in answer:
            return None
        code = str(answer["error"])
        if "token-not-found" in code or "not-approved" in code or "revoked" in code:
            return STALE
        if "consumer" in code:
            return UNKNOWN_CONSUMER
        known = _protocol_refusal(str(answer.get("message", "")))
        return known or f"The wiki would not say who you are ({code}). {AGAIN}"
    if not text.startswith("Error:"):
        return None
    said = unescape(_TAG.sub("", unescape(text)))
    known = _protocol_refusal(said)
    if known is not None:
        return known
    first = " ".join(said.removeprefix("Error:").split())[:160]
    return f"The wiki refused the sign-in ({first}). {AGAIN}"


def _protocol_refusal(said: str) -> str | None:
    """The sentence for the extension's own words about an OAuth 1.0a refusal, if known."""
    if "Invalid signature" in said:
        return WRONG_SECRET
    if "Invalid consumer" in said:
        return UNKNOWN_CONSUMER
    lowered = said.lower()
    if any(cause in lowered for cause in ("token not found", "already been completed", "expired")):
        return STALE
    return None
