"""The bridge behind reverse proxies: which client, scheme and host a request really has.

A TLS proxy in front of the bridge makes every request come from the proxy's address
over plain http to an internal host. `[bridge] trusted_proxies` says how many proxies
stand in front; `install` then wraps the app in Werkzeug's `ProxyFix`, which believes
that many entries (from the right) of `X-Forwarded-For`, `-Proto`, `-Host` and
`-Port`, so `request.remote_addr` (the login rate limit's key), `request.scheme`
(Secure cookies, redirects) and `request.host` are the client's. With 0 nothing is
believed: a bridge reached directly must not let a client choose its own address.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def install(app: Flask, trusted_proxies: int) -> None:
    if trusted_proxies <= 0:
        return
    app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
        app.wsgi_app,
        x_for=trusted_proxies,
        x_proto=trusted_proxies,
        x_host=trusted_proxies,
        x_port=trusted_proxies,
    )
