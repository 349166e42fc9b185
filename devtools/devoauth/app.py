"""The stand-in provider's web side: a Flask app with MediaWiki's OAuth routes, each handing
the request to its answer in ``devtools.devoauth.answers``.

OAuth 2.0 lives under ``/rest.php/oauth2/``; the consent page and OAuth 1.0a share
``/index.php``, told apart by ``title`` as on the wiki.  A route asked with the wrong method
and an unknown path are both "Not found", like the wiki's own 404; an OAuth error is a 400
naming it, and a bug here a 500 naming its type (never a reset connection).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from flask import Flask, Response, request
from oauthlib import oauth1, oauth2

from devtools.devoauth import answers
from devtools.devoauth.answers import NOT_FOUND, Answer, Incoming
from devtools.devoauth.provider import Provider


def create_app(provider: Provider) -> Flask:
    """The Flask app that serves ``provider``."""
    app = Flask(__name__)

    def serve(answer: Callable[[Incoming], Answer]) -> Response:
        incoming = _incoming()
        with provider.lock:
            try:
                status, headers, text = answer(incoming)
            except (oauth2.OAuth2Error, oauth1.OAuth1Error) as error:
                status, headers, text = 400, {"Content-Type": "text/plain"}, f"error={error.error}"
            except Exception as error:  # noqa: BLE001 - a bug must show as a 500, not a reset
                status, headers, text = 500, {"Content-Type": "text/plain"}, type(error).__name__
        return Response(text, status=status, headers=headers)

    @app.before_request
    def record() -> None:
        with provider.lock:
            provider.requests.append((request.method, urlsplit(_raw_uri()).path))

    @app.route("/rest.php/oauth2/authorize", methods=["GET", "POST"])
    def authorize() -> Response:
        if request.method != "GET":
            return serve(lambda i: NOT_FOUND)
        return serve(lambda i: answers.authorize(provider, i))

    @app.route("/rest.php/oauth2/access_token", methods=["GET", "POST"])
    def access_token() -> Response:
        if request.method != "POST":
            return serve(lambda i: NOT_FOUND)
        return serve(lambda i: answers.access_token(provider, i))

    @app.route("/rest.php/oauth2/resource/profile", methods=["GET", "POST"])
    def profile() -> Response:
        if request.method != "GET":
            return serve(lambda i: NOT_FOUND)
        return serve(lambda i: answers.profile(provider, i))

    @app.route("/index.php", methods=["GET", "POST"])
    def special_oauth() -> Response:
        title = _incoming().query.get("title", "")
        if title == "Special:OAuth/approve":
            return serve(lambda i: answers.approve(provider, i))
        if title.startswith("Special:OAuth/"):
            step = title.removeprefix("Special:OAuth/")
            return serve(lambda i: answers.oauth1_step(provider, step, i))
        return serve(lambda i: NOT_FOUND)

    @app.errorhandler(404)
    @app.errorhandler(405)
    def not_found(error: Exception) -> Response:
        status, headers, text = NOT_FOUND
        return Response(text, status=status, headers=headers)

    return app


def _raw_uri() -> str:
    """The path and query exactly as the client sent them (the server's REQUEST_URI)."""
    query = request.query_string.decode()
    return request.environ.get("REQUEST_URI") or request.path + (f"?{query}" if query else "")


def _incoming() -> Incoming:
    raw = _raw_uri()
    return Incoming(
        method=request.method,
        uri=f"http://{request.host}{raw}",
        body=request.get_data(as_text=True),
        headers=dict(request.headers.items()),
        query=dict(parse_qsl(urlsplit(raw).query)),
    )
