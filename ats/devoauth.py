"""A stand-in for MediaWiki's OAuth extension, for tests, the demo and development.

The real extension cannot be installed here, so ``DevOAuth`` answers as it was observed to
on a 1.39 wiki (LOCALWIKI.md): OAuth 2.0 at ``/rest.php/oauth2/authorize`` (307 to
``/index.php?title=Special:OAuth/approve&…``, then 302 to the callback with ``code`` and
``state``), ``/rest.php/oauth2/access_token`` (an RS256 JWT access token with float
``iat``/``nbf``/``exp``) and ``/rest.php/oauth2/resource/profile``; OAuth 1.0a at
``/index.php?title=Special:OAuth/initiate|authorize|token|identify`` (an HS256 identify
JWT signed with the consumer secret, echoing the request's ``oauth_nonce``).  The protocol
work is oauthlib's server classes; this module holds one consumer, its tokens and the
users, and serves them over HTTP on 127.0.0.1 from a background thread.

Who consents is chosen in advance with ``login_as()`` (or ``decline_next()``), or on the
approve page's small form (``devoauth_user=NAME`` / ``devoauth_decline=1``) when nobody is
logged in.  ``issue_jwt_with()`` makes the next identify JWT misbehave so tests can prove
the client refuses it.  On a real wiki these endpoints live beside ``api.php``; pointing a
client's ``index_url``/``rest_url`` here, with ``server`` (the JWT ``iss``) equal to
``url``, is what ``oauth_settings()`` does.  It speaks plain http, so the process whose
client talks to it must set ``OAUTHLIB_INSECURE_TRANSPORT=1`` (tests and the demo only).
"""

from __future__ import annotations

import html
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from oauthlib import oauth1, oauth2
from oauthlib.common import urldecode

if TYPE_CHECKING:
    from bridge.oauth import OAuthSettings

__all__ = ["DevOAuth", "DevUser"]

ACCESS_TOKEN_SECONDS = 14400  # $wgOAuth2GrantExpirationInterval, PT4H
IDENTIFY_SECONDS = 100  # MediaWiki's identify JWT: exp = iat + 100
# The consumer's grants; the identify JWT lists them minus the auth-only grant, keeping the
# array keys, hence an object with gaps like {"0":"basic","2":"editpage"}.
CONSUMER_GRANTS = ("basic", "mwoauth-authonlyprivate", "editpage")
_RIGHTS = {
    "*": ("read", "createaccount", "edit", "createpage", "createtalk", "writeapi"),
    "user": ("move", "upload", "reupload", "minoredit", "editmyoptions", "sendemail"),
    "autoconfirmed": ("autoconfirmed", "editsemiprotected"),
    "sysop": ("block", "delete", "protect", "editinterface", "undelete"),
    "bot": ("bot", "highlimits", "noratelimit"),
}


@dataclass(frozen=True)
class DevUser:
    username: str
    central_id: int
    editcount: int = 0
    groups: tuple[str, ...] = ("*", "user")
    blocked: bool = False
    confirmed_email: bool = False
    registered: str = field(
        default_factory=lambda: (datetime.now(UTC) - timedelta(days=400)).strftime("%Y%m%d%H%M%S")
    )

    def rights(self) -> list[str]:
        return [right for group in self.groups for right in _RIGHTS.get(group, ())]

    def profile(self) -> dict[str, Any]:
        return {
            "sub": str(self.central_id),
            "username": self.username,
            "editcount": self.editcount,
            "confirmed_email": self.confirmed_email,
            "blocked": self.blocked,
            "registered": self.registered,
            "groups": list(self.groups),
            "rights": self.rights(),
        }


class _OAuth2Validator(oauth2.RequestValidator):
    def __init__(self, provider: DevOAuth) -> None:
        self.p = provider

    def _redirect_ok(self, redirect_uri: str | None) -> bool:
        cb = self.p.callback_url
        return redirect_uri == cb or bool(
            self.p.callback_is_prefix and redirect_uri and redirect_uri.startswith(cb)
        )

    def validate_client_id(self, client_id, request, *args, **kwargs):
        return client_id == self.p.consumer_key

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs):
        return self._redirect_ok(redirect_uri)

    def get_default_redirect_uri(self, client_id, request, *args, **kwargs):
        return self.p.callback_url

    def validate_response_type(self, client_id, response_type, client, request, *args, **kw):
        return response_type == "code"

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        return set(scopes) <= set(CONSUMER_GRANTS)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        return ["basic"]

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        self.p._codes[code["code"]] = {
            "client_id": client_id,
            "user": request.user,
            "scopes": list(request.scopes),
            "redirect_uri": request.redirect_uri,
            "challenge": request.code_challenge,
            "method": request.code_challenge_method,
        }

    def client_authentication_required(self, request, *args, **kwargs):
        return True

    def authenticate_client(self, request, *args, **kwargs):
        ok = request.client_id == self.p.consumer_key and secrets.compare_digest(
            str(request.client_secret or ""), self.p.consumer_secret
        )
        request.client = SimpleNamespace(client_id=request.client_id) if ok else None
        return ok

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        grant = self.p._codes.get(code)
        if grant is None or grant["client_id"] != client_id:
            return False
        request.user, request.scopes = grant["user"], grant["scopes"]
        return True

    def get_code_challenge(self, code, request):
        return self.p._codes.get(code, {}).get("challenge")

    def get_code_challenge_method(self, code, request):
        return self.p._codes.get(code, {}).get("method")

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, request, *a, **kw):
        return self.p._codes.get(code, {}).get("redirect_uri") == redirect_uri

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        return grant_type == "authorization_code"

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        self.p._codes.pop(code, None)

    def save_bearer_token(self, token, request, *args, **kwargs):
        expires = time.time() + ACCESS_TOKEN_SECONDS
        self.p._bearer[token["access_token"]] = (request.user, expires)

    def validate_bearer_token(self, token, scopes, request):
        user, expires = self.p._bearer.get(token or "", (None, 0.0))
        request.user = user
        return user is not None and expires > time.time()


class _OAuth1Validator(oauth1.RequestValidator):
    enforce_ssl = False
    client_key_length = request_token_length = access_token_length = (16, 64)
    nonce_length = verifier_length = (8, 64)
    dummy_client = "0" * 32
    dummy_request_token = dummy_access_token = "0" * 32

    def __init__(self, provider: DevOAuth) -> None:
        super().__init__()
        self.p = provider
        self._nonces: set[tuple[str, ...]] = set()

    @property
    def allowed_signature_methods(self):
        return (oauth1.SIGNATURE_HMAC_SHA1,)

    def get_client_secret(self, client_key, request):
        return self.p.consumer_secret if client_key == self.p.consumer_key else "dummy"

    def get_request_token_secret(self, client_key, token, request):
        return self.p._request_tokens.get(token, {}).get("secret", "dummy")

    def get_access_token_secret(self, client_key, token, request):
        return self.p._access_tokens.get(token, {}).get("secret", "dummy")

    def get_default_realms(self, client_key, request):
        return []

    def get_realms(self, token, request):
        return []

    def get_redirect_uri(self, token, request):
        callback = self.p._request_tokens[token]["callback"]
        return self.p.callback_url if callback == "oob" else callback

    def invalidate_request_token(self, client_key, request_token, request):
        self.p._request_tokens.pop(request_token, None)

    def validate_client_key(self, client_key, request):
        return client_key == self.p.consumer_key

    def validate_request_token(self, client_key, token, request):
        return token in self.p._request_tokens

    def validate_access_token(self, client_key, token, request):
        return token in self.p._access_tokens

    def validate_timestamp_and_nonce(
        self, client_key, timestamp, nonce, request, request_token=None, access_token=None
    ):
        key = (client_key, timestamp, nonce, request_token or "", access_token or "")
        if key in self._nonces:
            return False
        self._nonces.add(key)
        return True

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        # MediaWiki: "oob", or a URL under the registered callback when the consumer
        # allows callbacks as a prefix.
        cb = self.p.callback_url
        return redirect_uri == "oob" or bool(
            self.p.callback_is_prefix and redirect_uri.startswith(cb)
        )

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def validate_realms(self, client_key, token, request, uri=None, realms=None):
        return True

    def validate_verifier(self, client_key, token, verifier, request):
        record = self.p._request_tokens.get(token, {})
        return bool(record.get("verifier")) and secrets.compare_digest(record["verifier"], verifier)

    def verify_request_token(self, token, request):
        return token in self.p._request_tokens

    def verify_realms(self, token, realms, request):
        return True

    def save_request_token(self, token, request):
        self.p._request_tokens[token["oauth_token"]] = {
            "secret": token["oauth_token_secret"],
            "callback": request.redirect_uri,
        }

    def save_verifier(self, token, verifier, request):
        self.p._request_tokens[token]["verifier"] = verifier["oauth_verifier"]

    def save_access_token(self, token, request):
        user = self.p._request_tokens[request.resource_owner_key]["user"]
        self.p._access_tokens[token["oauth_token"]] = {
            "secret": token["oauth_token_secret"],
            "user": user,
        }


class DevOAuth:
    """One OAuth consumer on a pretend wiki, served on 127.0.0.1; see the module docstring."""

    def __init__(
        self,
        *,
        server: str | None = None,
        consumer_key: str | None = None,
        consumer_secret: str | None = None,
        callback_url: str,
        callback_is_prefix: bool = False,
    ) -> None:
        self._server = server
        self.consumer_key = consumer_key or secrets.token_hex(16)
        self.consumer_secret = consumer_secret or secrets.token_hex(20)
        self.callback_url = callback_url
        self.callback_is_prefix = callback_is_prefix
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request served
        self._lock = threading.RLock()
        self._user: DevUser | None = None
        self._users: dict[str, DevUser] = {}
        self._decline = False
        self._jwt_overrides: dict[str, Any] | None = None
        self._last_identify: str | None = None
        self._codes: dict[str, dict[str, Any]] = {}
        self._bearer: dict[str, tuple[DevUser, float]] = {}
        self._request_tokens: dict[str, dict[str, Any]] = {}
        self._access_tokens: dict[str, dict[str, Any]] = {}
        self._rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.oauth2 = oauth2.WebApplicationServer(
            _OAuth2Validator(self),
            token_generator=self._access_token_jwt,
            token_expires_in=ACCESS_TOKEN_SECONDS,
            refresh_token_generator=lambda request: "def50200" + secrets.token_hex(64),
        )
        v1 = _OAuth1Validator(self)
        token = lambda: secrets.token_hex(16)  # noqa: E731 - MediaWiki's tokens: 32 hex digits
        self._initiate = oauth1.RequestTokenEndpoint(v1, token_generator=token)
        self._authorize = oauth1.AuthorizationEndpoint(v1, token_generator=token)
        self._token = oauth1.AccessTokenEndpoint(v1, token_generator=token)
        self._identify = oauth1.ResourceEndpoint(v1, token_generator=token)
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> DevOAuth:
        if self._http is None:
            self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
            self._http.daemon_threads = True
            self._thread = threading.Thread(
                target=self._http.serve_forever,
                kwargs={"poll_interval": 0.05},  # stop() waits at most this long
                name="devoauth",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def __enter__(self) -> DevOAuth:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("DevOAuth is not started")
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def server(self) -> str:
        """The pretend wiki's $wgServer: the identify JWT's ``iss``."""
        return self._server or self.url

    def oauth_settings(self, version: int, *, leeway: int = 10) -> OAuthSettings:
        """Client settings for this provider (index.php and rest.php both served here)."""
        from bridge.oauth import OAuthSettings

        return OAuthSettings(
            version=version,
            consumer_key=self.consumer_key,
            consumer_secret=self.consumer_secret,
            server=self.server,
            index_url=self.url + "/index.php",
            rest_url=self.url + "/rest.php",
            callback_url=self.callback_url,
            leeway=leeway,
        )

    # test hooks

    def login_as(
        self,
        username: str,
        central_id: int,
        *,
        editcount: int = 0,
        groups: tuple[str, ...] = ("*", "user"),
        blocked: bool = False,
        confirmed_email: bool = False,
        registered: str | None = None,
    ) -> None:
        """Make ``username`` the logged-in user who consents on the next approve page."""
        user = DevUser(username, central_id, editcount, tuple(groups), blocked, confirmed_email)
        if registered:
            user = replace(user, registered=registered)
        with self._lock:
            self._user = self._users[username] = user
            self._decline = False

    def decline_next(self) -> None:
        """The next consent page is answered with Cancel."""
        with self._lock:
            self._decline = True

    def issue_jwt_with(
        self,
        *,
        key: str | None = None,
        algorithm: str | None = None,
        replay: bool = False,
        **claims: Any,
    ) -> None:
        """Make the next identify JWT misbehave: another signing ``key`` or ``algorithm``,
        claims overridden (a value of None removes the claim; ``exp``/``iat`` may be given
        as offsets with ``exp_offset``/``iat_offset``), or ``replay`` the previous JWT."""
        with self._lock:
            self._jwt_overrides = {"key": key, "algorithm": algorithm, "replay": replay, **claims}

    # tokens

    def _access_token_jwt(self, request: Any) -> str:
        now = time.time()
        claims = {
            "aud": request.client_id,
            "jti": secrets.token_hex(40),
            "iat": now,
            "nbf": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
            "sub": str(request.user.central_id),
            "iss": self.server,
            "scopes": list(request.scopes or ["basic"]),
        }
        return jwt.encode(claims, self._rsa, algorithm="RS256", headers={"typ": "JWT"})

    def _identify_jwt(self, user: DevUser, nonce: str) -> str:
        overrides, self._jwt_overrides = self._jwt_overrides or {}, None
        if overrides.get("replay") and self._last_identify:
            return self._last_identify
        now = int(time.time())
        profile = user.profile()
        claims: dict[str, Any] = {
            "iss": self.server,
            "aud": self.consumer_key,
            "exp": now + IDENTIFY_SECONDS,
            "iat": now,
            **profile,
            "grants": {
                str(i): grant
                for i, grant in enumerate(CONSUMER_GRANTS)
                if not grant.startswith("mwoauth-authonly")
            },
            "nonce": nonce,
        }
        claims["exp"] += overrides.pop("exp_offset", 0)
        claims["iat"] += overrides.pop("iat_offset", 0)
        for name, value in overrides.items():
            if name in ("key", "algorithm", "replay"):
                continue
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        algorithm = overrides.get("algorithm") or "HS256"
        key: Any = overrides.get("key") or self.consumer_secret
        if algorithm.startswith("RS") and not overrides.get("key"):
            key = self._rsa
        token = jwt.encode(
            claims,
            None if algorithm == "none" else key,  # type: ignore[arg-type]  # None only with the 'none' algorithm
            algorithm=algorithm,
            headers={"typ": "JWT", "alg": algorithm},
        )
        self._last_identify = token
        return token

    def _consenting(self, query: dict[str, str]) -> DevUser | None | bool:
        """The user who consents now; False for a refusal; None when nobody is logged in."""
        if query.get("devoauth_decline") or self._decline:
            self._decline = False
            return False
        name = query.get("devoauth_user", "").strip()
        if name:
            known = self._users.get(name)
            user = known or DevUser(name, len(self._users) + 1)
            self._users[name] = self._user = user
        return self._user


def _login_form(query: dict[str, str]) -> str:
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
        "</form>"
    )


def _handler(provider: DevOAuth) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            # Headers and body go out in two writes; without this, Nagle's algorithm and
            # delayed ACKs add ~40 ms to every keep-alive request.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().setup()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            pass

        def do_GET(self) -> None:  # noqa: N802
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            uri = f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}"
            headers = dict(self.headers.items())
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            with provider._lock:
                provider.requests.append((method, parts.path))
                route = (parts.path, query.get("title", ""))
                try:
                    answer = _route(provider, route, method, uri, body, headers, query)
                except (oauth2.OAuth2Error, oauth1.OAuth1Error) as error:
                    answer = (400, {"Content-Type": "text/plain"}, f"error={error.error}")
                except Exception as error:  # a bug here must show as a 500, not a reset
                    answer = (500, {"Content-Type": "text/plain"}, f"{type(error).__name__}")
            status, out_headers, text = answer
            data = text.encode()
            self.send_response(status)
            for name, value in out_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


_Answer = tuple[int, dict[str, str], str]


def _route(
    p: DevOAuth,
    route: tuple[str, str],
    method: str,
    uri: str,
    body: str,
    headers: dict[str, str],
    query: dict[str, str],
) -> _Answer:
    path, title = route
    if path == "/rest.php/oauth2/authorize" and method == "GET":
        return _authorize2(p, uri, headers, query)
    if path == "/index.php" and title == "Special:OAuth/approve":
        return _approve2(p, uri, headers, query)
    if path == "/rest.php/oauth2/access_token" and method == "POST":
        h, b, s = p.oauth2.create_token_response(uri, "POST", body, headers)
        if s == 200:  # MediaWiki's (league/oauth2-server's) fields, in its order
            token = json.loads(b)
            b = json.dumps(
                {k: token[k] for k in ("token_type", "expires_in", "access_token", "refresh_token")}
            )
        return s, {**h, "Content-Type": "application/json"}, b
    if path == "/rest.php/oauth2/resource/profile" and method == "GET":
        valid, request = p.oauth2.verify_request(uri, "GET", None, headers)
        if not valid:
            error = {
                "error": "access_denied",
                "message": "The resource owner or authorization server denied the request.",
            }
            return 401, {"Content-Type": "application/json"}, json.dumps(error)
        profile = {**request.user.profile(), "grants": ["basic", "editpage"]}  # type: ignore[union-attr]  # validated above: a token has a user
        return 200, {"Content-Type": "application/json"}, json.dumps(profile)
    if path == "/index.php" and title.startswith("Special:OAuth/"):
        return _oauth1(p, title.removeprefix("Special:OAuth/"), method, uri, body, headers, query)
    return 404, {"Content-Type": "text/plain"}, "Not found"


def _redirect(status: int, location: str) -> _Answer:
    return status, {"Location": location, "Content-Type": "text/html"}, ""


def _authorize2(p: DevOAuth, uri: str, headers: dict[str, str], query: dict[str, str]) -> _Answer:
    try:
        p.oauth2.validate_authorization_request(uri, "GET", None, headers)
    except oauth2.FatalClientError as error:
        payload = {"error": error.error, "message": error.description}
        return 400, {"Content-Type": "application/json"}, json.dumps(payload)
    except oauth2.OAuth2Error as error:
        return _redirect(302, error.in_uri(error.redirect_uri))  # type: ignore[arg-type]  # set for every redirecting error
    approve = {"title": "Special:OAuth/approve", **query}
    return _redirect(307, f"{p.url}/index.php?{urlencode(approve)}")


def _approve2(p: DevOAuth, uri: str, headers: dict[str, str], query: dict[str, str]) -> _Answer:
    try:
        scopes, credentials = p.oauth2.validate_authorization_request(uri, "GET", None, headers)
    except oauth2.FatalClientError as error:
        return 400, {"Content-Type": "text/html"}, html.escape(error.description or error.error)  # type: ignore[arg-type]  # error names a description or an error
    except oauth2.OAuth2Error as error:
        return _redirect(302, error.in_uri(error.redirect_uri))  # type: ignore[arg-type]  # set for every redirecting error
    user = p._consenting(query)
    if user is None:
        return 200, {"Content-Type": "text/html"}, _login_form(query)
    if user is False:
        refusal = oauth2.AccessDeniedError(
            description="The resource owner or authorization server denied the request.",
            state=credentials.get("state"),
        )
        return _redirect(302, refusal.in_uri(credentials["redirect_uri"]))
    credentials = {**credentials, "user": user}
    h, _, s = p.oauth2.create_authorization_response(
        f"{p.url}/rest.php/oauth2/authorize?{urlsplit(uri).query}",
        "GET",
        None,
        headers,
        scopes,
        credentials,
    )
    return _redirect(s, h["Location"])


def _oauth1(
    p: DevOAuth,
    step: str,
    method: str,
    uri: str,
    body: str,
    headers: dict[str, str],
    query: dict[str, str],
) -> _Answer:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    if step == "initiate":
        h, b, s = p._initiate.create_request_token_response(uri, method, body, headers)
        return s, {**h, **form}, b or ""
    if step == "authorize" and method == "GET":
        token = query.get("oauth_token", "")
        if token not in p._request_tokens or query.get("oauth_consumer_key") != p.consumer_key:
            return 400, {"Content-Type": "text/html"}, "The request token is not valid."
        user = p._consenting(query)
        if user is None:
            return 200, {"Content-Type": "text/html"}, _login_form(query)
        if user is False:  # as on the wiki: no redirect, the consumer is never told
            p._request_tokens.pop(token, None)
            return 200, {"Content-Type": "text/html"}, "<p>You cancelled the authorization.</p>"
        p._request_tokens[token]["user"] = user
        h, _, s = p._authorize.create_authorization_response(
            f"{p.url}/index.php?{urlencode({'oauth_token': token})}"
        )
        return _redirect(s, h["Location"])
    if step == "token":
        h, b, s = p._token.create_access_token_response(uri, method, body, headers)
        if s == 200:  # MediaWiki answers the token and secret only
            b = urlencode([(k, v) for k, v in urldecode(b) if k != "oauth_authorized_realms"])
        return s, {**h, **form}, b or ""
    if step == "identify":
        valid, request = p._identify.validate_protected_resource_request(uri, method, body, headers)
        if not valid:
            return 401, {"Content-Type": "text/plain"}, "error=mwoauth-invalid-authorization"
        user = p._access_tokens[request.resource_owner_key]["user"]
        token = p._identify_jwt(user, request.nonce)
        return 200, {"Content-Type": "application/jwt"}, token
    return 404, {"Content-Type": "text/plain"}, "Not found"
