"""``DevOAuth``: the stand-in provider served on 127.0.0.1 by Werkzeug's threaded server,
from a background thread, for as long as a test or the demo needs it.  Werkzeug closes each
connection after its answer; a client opens another for its next request.
"""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from devtools.devoauth.app import create_app
from devtools.devoauth.provider import Provider

if TYPE_CHECKING:
    from bridge.oauth import OAuthSettings


class _Handler(WSGIRequestHandler):
    def setup(self) -> None:
        # Headers and body go out in two writes; without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every keep-alive request.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass


class DevOAuth(Provider):
    """One OAuth consumer on a pretend wiki, served on 127.0.0.1; see ``devtools.devoauth``."""

    _http: BaseWSGIServer | None = None

    def start(self) -> DevOAuth:
        if self._http is None:
            self._http = make_server(
                "127.0.0.1", 0, create_app(self), threaded=True, request_handler=_Handler
            )
            self._url = f"http://127.0.0.1:{self._http.server_port}"
            threading.Thread(
                target=self._http.serve_forever,
                kwargs={"poll_interval": 0.05},  # stop() waits at most this long
                name="devoauth",
                daemon=True,
            ).start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
            self._url = None

    def __enter__(self) -> DevOAuth:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

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
