"""The bridge's settings: what it needs to run, checked once at start.

`BridgeSettings.load` takes the mapping the composition root builds from the ats
configuration (`ats.commands.bridge.bridge_settings`: `[bridge] url`, `oauth_version`,
`consumer_key`, `oauth_index_url`, `oauth_rest_url`, `[wiki] api`, `[store] path`, the
policy, and `web_url`, the tools' address behind the `[web]` front door) or a test's,
and reads the two secrets from the environment — `ATS_SESSION_KEY` and
`ATS_OAUTH_SECRET` — raising `BridgeConfigError` naming the missing one. There is no
default for either: a bridge that started without them would sign sessions with a
guessable key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from policies.eligibility import EligibilityPolicy
from policies.fees import FeePolicy, load_fees
from policies.terms import Terms, load_terms

SECRETS = {
    "ATS_SESSION_KEY": "the bridge's session key (a long random string)",
    "ATS_OAUTH_SECRET": "the OAuth consumer secret",
}
MIN_SESSION_KEY = 16


class BridgeConfigError(RuntimeError):
    """The bridge cannot start; the message names what to set."""


@dataclass(frozen=True)
class BridgeSettings:
    url: str
    wiki_api: str
    store_path: Path
    oauth_version: int
    consumer_key: str
    session_key: str = field(repr=False)
    oauth_secret: str = field(repr=False)
    policy: EligibilityPolicy
    fees: FeePolicy
    terms: Terms
    secure_cookies: bool = True
    session_hours: float = 8.0
    login_limit: int = 10  # attempts per client and window
    login_window_seconds: int = 600
    trusted_proxies: int = 0  # proxies in front whose X-Forwarded-* headers are believed
    # The wiki's index.php and rest.php for OAuth; empty means beside `wiki_api`.
    oauth_index_url: str = ""
    oauth_rest_url: str = ""
    # A tool's web address with `{tool}` for its name (`https://{tool}.DOMAIN/`), from
    # `[web]`; empty when the chapter runs no front door.
    web_url: str = ""

    @classmethod
    def load(
        cls, values: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> BridgeSettings:
        env = os.environ if environ is None else environ
        secrets = {}
        for name, meaning in SECRETS.items():
            value = env.get(name, "")
            if not value:
                raise BridgeConfigError(f"{name} is not set: it must hold {meaning}")
            secrets[name] = value
        if len(secrets["ATS_SESSION_KEY"]) < MIN_SESSION_KEY:
            raise BridgeConfigError(
                f"ATS_SESSION_KEY is too short: use at least {MIN_SESSION_KEY} random characters"
            )
        url = str(values.get("url", "http://127.0.0.1:5000")).rstrip("/")
        secure = values.get("secure_cookies")
        if secure is None:
            # Browsers drop Secure cookies on plain http, except that localhost is
            # a secure context only for some: be explicit instead of guessing.
            secure = urlsplit(url).scheme == "https"
        return cls(
            url=url,
            wiki_api=str(values["wiki_api"]),
            store_path=Path(values["store_path"]),
            oauth_version=int(values.get("oauth_version", 2)),
            consumer_key=str(values.get("consumer_key", "")),
            session_key=secrets["ATS_SESSION_KEY"],
            oauth_secret=secrets["ATS_OAUTH_SECRET"],
            policy=values.get("policy") or EligibilityPolicy(),
            fees=values.get("fees") or load_fees(),
            terms=values.get("terms") or load_terms(),
            secure_cookies=bool(secure),
            session_hours=float(values.get("session_hours", 8.0)),
            login_limit=int(values.get("login_limit", 10)),
            login_window_seconds=int(values.get("login_window_seconds", 600)),
            trusted_proxies=int(values.get("trusted_proxies", 0)),
            oauth_index_url=str(values.get("oauth_index_url") or ""),
            oauth_rest_url=str(values.get("oauth_rest_url") or ""),
            web_url=_web_url(values.get("web_url")),
        )

    @property
    def callback_url(self) -> str:
        return self.url + "/oauth/callback"


def _web_url(value: Any) -> str:
    template = str(value or "")
    if template and (
        "{tool}" not in template or urlsplit(template).scheme not in ("https", "http")
    ):
        raise BridgeConfigError(
            f"web_url {template!r}: give a tool's address with {{tool}} for its name, "
            "e.g. https://{tool}.tools.example.org/ (or nothing without a front door)"
        )
    return template
