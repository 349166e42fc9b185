"""The stand-in provider's answers, one function per endpoint MediaWiki's OAuth extension
serves (as observed on a 1.39 wiki; LOCALWIKI.md): each takes the provider and the incoming
request and returns (status, headers, body).  ``devtools.devoauth.app`` routes to them.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from oauthlib import oauth2
from oauthlib.common import urldecode
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header

from devtools.devoauth.consumer import CONSUMER_GRANTS
from devtools.devoauth.provider import Provider

Answer = tuple[int, dict[str, str], str]
NOT_FOUND: Answer = (404, {"Content-Type": "text/plain"}, "Not found")


@dataclass(frozen=True)
class Incoming:
    """A request as oauthlib reads it: method, full URI, body, headers, query parameters."""

    method: str
    uri: str
    body: str
    headers: dict[str, str]
    query: dict[str, str]


INVALID_REQUEST = (
    "The request is missing a required parameter, includes an invalid parameter value, "
    "includes a parameter more than once, or is otherwise malformed."
)
INVALID_GRANT = (
    "The provided authorization grant (e.g., authorization code, resource owner credentials) "
    "or refresh token is invalid, expired, revoked, does not match the redirection URI used "
    "in the authorization request, or was issued to another client."
)
CLIENT_FAILED = "Client authentication failed"
REJECTED = "User has rejected the request from client application"


def league_error(status: int, error: str, description: str, hint: str | None) -> Answer:
    """An error as the extension's OAuth 2.0 server (league/oauth2-server) words it."""
    body = {"error": error, "error_description": description}
    if hint is not None:
        body["hint"] = hint
    body["message"] = description
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def access_token(p: Provider, i: Incoming) -> Answer:
    """POST /rest.php/oauth2/access_token: the code (or refresh token) for tokens."""
    h, b, s = p.oauth2.create_token_response(i.uri, "POST", i.body, i.headers)
    if s == 200:  # MediaWiki's (league/oauth2-server's) fields, in its order
        token = json.loads(b)
        b = json.dumps(
            {k: token[k] for k in ("token_type", "expires_in", "access_token", "refresh_token")}
        )
        return s, {**h, "Content-Type": "application/json"}, b
    # oauthlib says invalid_grant for most of these; the extension tells them apart.
    error = json.loads(b).get("error") if b else None
    form = dict(urldecode(i.body)) if i.body else {}
    code = form.get("code", "")
    if error == "invalid_client":
        return league_error(401, "invalid_client", CLIENT_FAILED, None)
    if code in p.consumer.spent_codes:
        return league_error(
            400, "invalid_request", INVALID_REQUEST, "Authorization code has been revoked"
        )
    if code not in p.consumer.codes:
        return league_error(
            400, "invalid_request", INVALID_REQUEST, "Cannot decrypt the authorization code"
        )
    if not form.get("code_verifier"):
        return league_error(
            400, "invalid_request", INVALID_REQUEST, "Check the `code_verifier` parameter"
        )
    return league_error(400, "invalid_grant", INVALID_GRANT, "Failed to verify `code_verifier`.")


def profile(p: Provider, i: Incoming) -> Answer:
    """GET /rest.php/oauth2/resource/profile: who the bearer token's user is."""
    valid, request = p.oauth2.verify_request(i.uri, "GET", None, i.headers)
    if not valid:
        return league_error(
            401,
            "access_denied",
            "The resource owner or authorization server denied the request.",
            "Could not verify the access token",
        )
    # An identity-only consumer: its grant, and no rights (the wiki filters them by grants).
    answer = {**request.user.profile(), "grants": ["mwoauth-authonly"], "rights": []}  # type: ignore[union-attr]  # validated above: a token has a user
    # The extension serves this JSON as HTML.
    return 200, {"Content-Type": "text/html; charset=UTF-8"}, json.dumps(answer)


def login_form(query: dict[str, str], people: Sequence[tuple[str, str]] = ()) -> str:
    links = "".join(
        f'<li><a href="/index.php?{html.escape(urlencode({**query, "devoauth_user": name}))}">'
        f"Log in as {html.escape(name)}</a> — {html.escape(who)}</li>"
        for name, who in people
    )
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in query.items()
    )
    return (
        "<!DOCTYPE html><title>Allow access? - DevWiki</title><h1>Allow access?</h1>"
        "<p>A tool would like to know who you are on this wiki.</p>"
        f'<form method="get" action="/index.php">{hidden}'
        '<label>Your username <input name="devoauth_user" required></label> '
        '<button type="submit">Allow</button> '
        '<button type="submit" name="devoauth_decline" value="1" formnovalidate>Cancel</button>'
        "</form>" + (f"<p>Or pick someone:</p><ul>{links}</ul>" if links else "")
    )


def redirect(status: int, location: str) -> Answer:
    return status, {"Location": location, "Content-Type": "text/html"}, ""


def authorize(p: Provider, i: Incoming) -> Answer:
    """GET /rest.php/oauth2/authorize: 307 to the approve page, as MediaWiki does."""
    try:
        p.oauth2.validate_authorization_request(i.uri, "GET", None, i.headers)
    except oauth2.FatalClientError as error:
        # As the extension does for a signed-in user: an HTML page, HTTP 200.
        page = (
            "<!DOCTYPE html><title>Application Connection Error - DevWiki</title>"
            "<h1>Application Connection Error</h1>"
            f"<p>{html.escape(error.description or error.error)}</p>"  # type: ignore[arg-type]  # error names a description or an error
        )
        return 200, {"Content-Type": "text/html; charset=UTF-8"}, page
    except oauth2.OAuth2Error as error:
        return redirect(302, error.in_uri(error.redirect_uri))  # type: ignore[arg-type]  # set for every redirecting error
    # The extension's extra parameters beside the request's own.
    approve = {
        "title": "Special:OAuth/approve",
        **i.query,
        "returnto": "/rest.php/oauth2/authorize",
        "returntoquery": urlsplit(i.uri).query,
        "oauth_version": "2",
        "scope": i.query.get("scope") or " ".join(CONSUMER_GRANTS),
    }
    return redirect(307, f"{p.url}/index.php?{urlencode(approve)}")


def approve(p: Provider, i: Incoming) -> Answer:
    """index.php?title=Special:OAuth/approve: the consent (or the form asking who you are)."""
    try:
        scopes, credentials = p.oauth2.validate_authorization_request(i.uri, "GET", None, i.headers)
    except oauth2.FatalClientError as error:
        return 400, {"Content-Type": "text/html"}, html.escape(error.description or error.error)  # type: ignore[arg-type]  # error names a description or an error
    except oauth2.OAuth2Error as error:
        return redirect(302, error.in_uri(error.redirect_uri))  # type: ignore[arg-type]  # set for every redirecting error
    user = p.consenting(i.query)
    if user is None:
        return 200, {"Content-Type": "text/html"}, login_form(i.query, p.people)
    if user is False:  # as the extension words it: unauthorized_client, and no state
        refusal = {
            "error": "unauthorized_client",
            "error_description": REJECTED,
            "message": REJECTED,
        }
        return redirect(302, f"{credentials['redirect_uri']}?{urlencode(refusal)}")
    credentials = {**credentials, "user": user}
    h, _, s = p.oauth2.create_authorization_response(
        f"{p.url}/rest.php/oauth2/authorize?{urlsplit(i.uri).query}",
        "GET",
        None,
        i.headers,
        scopes,
        credentials,
    )
    return redirect(s, h["Location"])


def oauth1_error(p: Provider, i: Incoming, *, token_step: bool = False) -> Answer:
    """A refused initiate or token request, worded and served as the wiki does: HTTP 200,
    plain text, ``Error: …`` naming the cause."""
    header = i.headers.get("Authorization", "")
    try:
        key = dict(parse_authorization_header(header)) if header else {}
    except ValueError:
        key = {}
    if not header:
        cause = "An error occurred in the OAuth protocol: Invalid consumer key"
    elif key.get("oauth_consumer_key") != p.consumer_key:
        cause = "An error occurred in the OAuth protocol: Invalid consumer"
    elif token_step and key.get("oauth_token") not in p.consumer.request_tokens:
        cause = (
            "Sorry, something went wrong connecting this application.\nGo back and try to "
            "connect your account again, or contact the application author.\n\n"
            "OAuth token not found, E004"
        )
    else:
        cause = "An error occurred in the OAuth protocol: Invalid signature"
    return 200, {"Content-Type": "text/plain;charset=UTF-8"}, f"Error: {cause}"


def oauth1_step(p: Provider, step: str, i: Incoming) -> Answer:
    """index.php?title=Special:OAuth/<step>: initiate, authorize (or authenticate), token,
    identify."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    if step == "initiate":
        h, b, s = p.initiate.create_request_token_response(i.uri, i.method, i.body, i.headers)
        if s != 200:
            return oauth1_error(p, i)
        return s, {**h, **form}, b or ""
    # authenticate differs from authorize on the wiki only in skipping the dialog for a
    # consumer already allowed; the stand-in asks (or takes login_as()) either way.
    if step in ("authorize", "authenticate") and i.method == "GET":
        token = i.query.get("oauth_token", "")
        if (
            token not in p.consumer.request_tokens
            or i.query.get("oauth_consumer_key") != p.consumer_key
        ):
            return 400, {"Content-Type": "text/html"}, "The request token is not valid."
        user = p.consenting(i.query)
        if user is None:
            return 200, {"Content-Type": "text/html"}, login_form(i.query, p.people)
        if user is False:  # as on the wiki: no redirect, the consumer is never told
            p.consumer.request_tokens.pop(token, None)
            return (
                200,
                {"Content-Type": "text/html"},
                (
                    '<p>You have chosen not to allow "DevOAuth consumer" to access your account. '
                    '"DevOAuth consumer" will not work unless you allow it access.</p>'
                ),
            )
        p.consumer.request_tokens[token]["user"] = user
        h, _, s = p.authorize.create_authorization_response(
            f"{p.url}/index.php?{urlencode({'oauth_token': token})}"
        )
        return redirect(s, h["Location"])
    if step == "token":
        h, b, s = p.token.create_access_token_response(i.uri, i.method, i.body, i.headers)
        if s != 200:
            return oauth1_error(p, i, token_step=True)
        # MediaWiki answers the token, its secret and oauth_callback_confirmed.
        fields = [(k, v) for k, v in urldecode(b) if k != "oauth_authorized_realms"]
        b = urlencode([*fields, ("oauth_callback_confirmed", "true")])
        return s, {**h, **form}, b or ""
    if step == "identify":
        valid, request = p.identify.validate_protected_resource_request(
            i.uri, i.method, i.body, i.headers
        )
        if not valid:  # as on the wiki: HTTP 200, JSON
            refusal = {
                "error": "mwoauthdatastore-access-token-not-found",
                "message": "No approved grant was found for that authorization token.",
            }
            return 200, {"Content-Type": "application/json"}, json.dumps(refusal)
        user = p.consumer.access_tokens[request.resource_owner_key]["user"]
        token = p.identify_jwt(user, request.nonce)
        return 200, {"Content-Type": "application/json"}, token
    return NOT_FOUND
