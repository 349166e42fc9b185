"""The bridge's protections that apply to every page: CSRF, headers, redirects, rate limits.

- CSRF: a random token per session, put in every form by `csrf_field()` in the
  templates, and checked on every POST before any view runs.
- Headers: a strict Content-Security-Policy (no script at all, styles and images from
  the bridge only — plus `data:` images, which is how Codex's CSS draws its icons, such
  as a select's arrow — forms only to the bridge, never framed) and the usual companions.
- Redirects: `safe_next` accepts only a local path, never another host.
- Login rate limit: attempts per client in the store's `login_attempts`, the client
  being a keyed hash of the address (the real one behind a proxy: `bridge.proxy`), so
  the store holds no IP addresses. A sign-in that finishes is uncounted
  (`sign_in_finished`): the limit counts sign-ins started and never finished, so a
  member who is sent to log in from `/me` or `/admin` spends nothing by signing in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, request, session
from markupsafe import Markup, escape

from bridge import i18n
from membership.store import Store

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(csrf_token()))


def check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = session.get("csrf", "")
    given = request.form.get("csrf_token", "")
    if not expected or not given or not hmac.compare_digest(expected, given):
        abort(400, description=i18n.text("ats-bridge-error-csrf"))


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def safe_next(target: str | None, default: str = "/me") -> str:
    """`target` if it is a path on this site, else `default` (no open redirects)."""
    if not target:
        return default
    target = target.strip()
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 for c in target)
    ):
        return default
    return target


def client_key(secret: str) -> str:
    """A keyed hash of the client's address: enough to count, useless to identify."""
    address = request.remote_addr or "unknown"
    return hmac.new(secret.encode(), address.encode(), hashlib.sha256).hexdigest()[:32]


def rate_limited(store: Store, key: str, limit: int, window_seconds: int) -> bool:
    """Count this attempt; True when `key` made more than `limit` in the window."""
    since = datetime.now(UTC) - timedelta(seconds=window_seconds)
    if store.count_login_attempts(key, since) >= limit:
        return True
    store.record_login_attempt(key)
    return False


def sign_in_finished(store: Store, key: str) -> None:
    """The sign-in `key` started came back verified: it no longer counts against it."""
    store.withdraw_login_attempt(key)


def install(app: Flask) -> None:
    app.before_request(check_csrf)
    app.after_request(add_headers)
    app.jinja_env.globals["csrf_field"] = csrf_field
