"""The real bridge for tests: `ats bridge serve` (waitress) in a subprocess on 127.0.0.1.

`BridgeServer` writes the configuration a chapter would — `[wiki] api` the session's
local wiki, `[bridge] url` a free port of 127.0.0.1, the consumer key of a `DevOAuth`
provider and its `index.php`/`rest.php` in `[bridge] oauth_index_url`/`oauth_rest_url`,
`[policy] admins`, and any more sections a test gives (`extra_config`) — into the folder
of a test's `WikiBot`, so the bot and the bridge share one configuration file and one
store, as they do in production. The secrets
(`ATS_SESSION_KEY`, `ATS_OAUTH_SECRET` = the provider's consumer secret) and
`OAUTHLIB_INSECURE_TRANSPORT=1` (the provider speaks plain http) go in the server's
environment only. The session cookie is not Secure, because `[bridge] url` is http.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import requests

from devtools.devoauth import DevOAuth
from devtools.ports import free_port
from devtools.sample import ADMIN, write_config
from tests import forked_cli

if TYPE_CHECKING:
    from tests.integration.conftest import WikiBot


class Provider(Protocol):
    """Where the bridge's users sign in: ``url`` serves ``index.php`` and ``rest.php``."""

    url: str
    consumer_key: str
    consumer_secret: str

    def stop(self) -> None: ...


class BridgeServer:
    """`ats bridge serve` for one test: its URL, its OAuth provider, its store."""

    def __init__(
        self,
        wikibot: WikiBot,
        *,
        oauth_version: int = 2,
        admins: tuple[str, ...] = (ADMIN,),
        provider: Callable[[int, str], Provider] | None = None,
        oauth_secret: str | None = None,
        extra_config: str = "",
    ) -> None:
        self.wikibot = wikibot
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        callback = self.url + "/oauth/callback"
        # Another provider (the real OAuth extension) registers a consumer for this callback.
        self.provider: Provider = (
            provider(oauth_version, callback)
            if provider is not None
            else DevOAuth(callback_url=callback).start()
        )
        self.oauth_secret = oauth_secret or self.provider.consumer_secret
        self.session_key = secrets.token_urlsafe(32)
        self.oauth_version = oauth_version
        self.log_path = wikibot.root / "bridge.log"
        self.config = write_config(
            wikibot.wiki,
            wikibot.root,
            admins=admins,
            request_page=wikibot.page,
            extra=f"""
[bridge]
url = "{self.url}"
oauth_version = {oauth_version}
consumer_key = "{self.provider.consumer_key}"
oauth_index_url = "{self.provider.url}/index.php"
oauth_rest_url = "{self.provider.url}/rest.php"
{extra_config}""",
        )
        wikibot.config = self.config  # the bot's cycles read the same file
        self._process: forked_cli.Child | None = None

    @property
    def oauth(self) -> DevOAuth:
        """The stand-in provider (when no other was given)."""
        assert isinstance(self.provider, DevOAuth), "this bridge signs in elsewhere"
        return self.provider

    @property
    def store_path(self) -> Path:
        return self.wikibot.root / "ats.sqlite"

    def start(self, timeout: float = 30) -> BridgeServer:
        env = {
            **os.environ,
            "ATS_SESSION_KEY": self.session_key,
            "ATS_OAUTH_SECRET": self.oauth_secret,
            "OAUTHLIB_INSECURE_TRANSPORT": "1",
        }
        self._process = forked_cli.start(
            ["--config", str(self.config), "bridge", "serve", "--threads", "4"],
            env=env,
            output=self.log_path,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the bridge exited at start:\n{self.log()}")
            try:
                if requests.get(self.url + "/status.json", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the bridge did not answer within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
        self.provider.stop()

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace") if self.log_path.exists() else ""
