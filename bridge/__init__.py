"""The bridge: the Flask app where requesters pass their off-wiki gates and admins do
the private parts.

`create_app(settings)` builds the app from the mapping the composition root makes of
the ats configuration (`ats.commands.bridge.bridge_settings`) or a test's, plus the secrets
`ATS_SESSION_KEY` and `ATS_OAUTH_SECRET` from the environment; it refuses to start
without either. One blueprint per audience: `public` (landing, status), `requester`
(login, the member's page and forms), `admin` (the chapter admins' desk), `funds`
(their refunds, expenses and transfers into the waiver fund), `tools` (a tool's page
and its co-maintainers) and `metrics` (`/metrics`, for the operators); `language`
(`/language`, the reader's choice kept in the session) comes with the messages,
`bridge/i18n.py`. Sessions
live in the store; every POST carries a CSRF token; every response carries a strict
Content-Security-Policy. The bridge never writes wikitext: it records facts and
moves requests between states in the store, and the bot says so on-wiki. A refusal
of the rules (`policies.errors.Refusal`) raised in any view becomes the reader's page or
notice in one place, `bridge/refusals.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, g, request, session

from bridge import (
    admin,
    funds,
    i18n,
    kept,
    metrics,
    proxy,
    public,
    refusals,
    requester,
    security,
    tools,
    views,
)
from bridge.oauth import OAuthClient, OAuthSettings
from bridge.sessions import StoreSessionInterface, current_store, release_store
from bridge.settings import BridgeConfigError, BridgeSettings
from membership.store import StoreBusy

__all__ = ["BridgeConfigError", "create_app"]

log = logging.getLogger(__name__)
# One line per request: method, path (never the query string, which may carry an OAuth
# code), status and who was signed in. `ats bridge serve` sends it to stderr (journald).
access_log = logging.getLogger("bridge.access")
QUIET_PATHS = ("/metrics", "/static/")  # scraped or fetched too often to be events


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The bridge app; `test_config` is the settings mapping (see `BridgeSettings.load`)."""
    if test_config is None:
        raise BridgeConfigError(
            "the bridge needs its settings: start it with `ats bridge serve --config FILE`"
        )
    settings = BridgeSettings.load(test_config)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.session_key,
        SESSION_COOKIE_NAME="ats_session",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        MAX_CONTENT_LENGTH=64 * 1024,
        TESTING=bool(test_config.get("testing", False)),
    )
    app.extensions["ats_bridge"] = settings
    app.extensions["ats_oauth"] = _oauth_client(settings)
    kept.install(app, settings.store_path)  # what pages keep until the store changes
    app.session_interface = StoreSessionInterface(
        current_store, timedelta(hours=settings.session_hours)
    )

    # Before the security checks: a page refusing a request speaks the reader's language.
    i18n.install(app)  # messages and the reader's language (bridge/i18n.py)

    @app.before_request
    def _store_busy() -> None:
        # The session could not be read (the store is locked past its busy timeout):
        # answer with the busy page before any check reads the empty session.
        if getattr(session, "busy", False):
            raise StoreBusy("the store was locked when the session was read")

    security.install(app)
    proxy.install(app, settings.trusted_proxies)  # [bridge] trusted_proxies

    @app.teardown_appcontext
    def _release_store(error: BaseException | None) -> None:
        store = g.pop("store", None)
        if store is not None:
            release_store(store, error)

    @app.after_request
    def _log_request(response: Response) -> Response:
        if not request.path.startswith(QUIET_PATHS):
            identity = session.get("identity") or {}
            who = identity.get("username") or "-"
            access_log.info("%s %s %s %s", request.method, request.path, response.status_code, who)
        return response

    refusals.install(app)  # any refusal, and the error pages (bridge/refusals.py)
    views.install(app)
    app.register_blueprint(public.blueprint)
    app.register_blueprint(requester.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(funds.blueprint)
    app.register_blueprint(tools.blueprint)  # /tool/NAME: a tool's maintainers
    app.register_blueprint(metrics.blueprint)  # /metrics (bridge/metrics.py)
    return app


def _oauth_client(settings: BridgeSettings) -> OAuthClient:
    try:
        oauth = OAuthSettings.from_api_url(
            settings.wiki_api,
            version=settings.oauth_version,
            consumer_key=settings.consumer_key,
            consumer_secret=settings.oauth_secret,
            callback_url=settings.callback_url,
        )
        if settings.oauth_index_url:
            # The consumer lives on another wiki than the one the bot reads (in tests, a
            # stand-in provider): that wiki signs the identities, so it is their `iss`.
            parts = urlsplit(settings.oauth_index_url)
            oauth = replace(
                oauth, server=f"{parts.scheme}://{parts.netloc}", index_url=settings.oauth_index_url
            )
        if settings.oauth_rest_url:
            oauth = replace(oauth, rest_url=settings.oauth_rest_url)
        return OAuthClient(oauth)
    except ValueError as error:
        raise BridgeConfigError(f"[bridge] OAuth settings: {error}") from None
