"""`ats bridge serve`: the bridge on waitress, and the bridge's settings from the
configuration."""

from __future__ import annotations

import argparse
import logging
from typing import Any
from urllib.parse import urlsplit

from ats.config import Config, ConfigError
from ats.failures import UsageError


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bridge = commands.add_parser("bridge", help="the web bridge for requesters and admins")
    bridge_commands = bridge.add_subparsers(
        dest="bridge_command", metavar="BRIDGE_COMMAND", required=True
    )
    serve = bridge_commands.add_parser(
        "serve",
        help="serve the bridge on waitress (default address from [bridge] url)",
        description="Serve the bridge (requesters' gates, the admins' desk, the public "
        "status page) on the waitress WSGI server. Needs ATS_SESSION_KEY and "
        "ATS_OAUTH_SECRET in the environment. Put it behind a TLS-terminating proxy in "
        "production; cookies are marked Secure when [bridge] url is https.",
    )
    serve.add_argument("--host", help="address to listen on (default: the host of [bridge] url)")
    serve.add_argument(
        "--port", type=int, help="port to listen on (default: the port of [bridge] url)"
    )
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    serve.set_defaults(run=_bridge_serve, needs_config=True)


def bridge_settings(config: Config) -> dict[str, Any]:
    """The bridge's settings mapping (see `bridge.settings.BridgeSettings.load`)."""
    return {
        "url": config.bridge.url,
        "oauth_version": config.bridge.oauth_version,
        "consumer_key": config.bridge.consumer_key,
        "oauth_index_url": config.bridge.oauth_index_url,
        "oauth_rest_url": config.bridge.oauth_rest_url,
        "trusted_proxies": config.bridge.trusted_proxies,
        "login_limit": config.bridge.login_limit,
        "login_window_seconds": config.bridge.login_window,
        "wiki_api": config.wiki.api,
        "store_path": str(config.store_path),
        "policy": config.policy,
        # Where each tool answers behind the front door; "" when the chapter runs none.
        "web_url": config.web.url("{tool}") if config.web.domain else "",
    }


def _bridge_serve(args: argparse.Namespace, config: Config) -> int:
    from waitress.server import create_server

    from bridge import create_app
    from bridge.settings import BridgeConfigError

    try:
        app = create_app(bridge_settings(config))
    except BridgeConfigError as error:
        raise ConfigError(str(error)) from None
    from membership.store import Store

    Store(config.store_path).close()  # a broken store is told now, in one line, not per page
    address = urlsplit(config.bridge.url)
    host = args.host or address.hostname or "127.0.0.1"
    port = args.port or address.port or (443 if address.scheme == "https" else 80)
    try:
        server = create_server(
            app,
            host=host,
            port=port,
            threads=args.threads,
            ident="ats-bridge",
            # Behind [bridge] trusted_proxies the app's ProxyFix reads X-Forwarded-*:
            # waitress must pass them on instead of dropping them as untrusted.
            clear_untrusted_proxy_headers=config.bridge.trusted_proxies == 0,
        )
    except OSError as error:
        raise UsageError(
            f"cannot listen on {host}:{port}: {error.strerror or error} (is another bridge "
            "running there? choose another --port or [bridge] url)"
        ) from None
    print(f"bridge serving on http://{host}:{port} (public URL {config.bridge.url})", flush=True)
    # One line per request and per refused sign-in, on stderr (journald under systemd).
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    server.run()
    return 0
