"""Server-side sessions kept in the store: the cookie holds only a random token.

The browser gets a 256-bit random token; the store keeps the session's data under
the token's SHA-256, so a copy of the database does not hand out live sessions.
Sessions expire after `session_hours` without use and are never extended past a
day from their creation. A session is written only when its data changed or its
expiry is due to move (`StoreSessionInterface.REFRESH`): a page view changing nothing
writes nothing, so reading pages never waits for the store's write lock.
`regenerate()` gives the session a new token (on login and logout), so a token planted
before login is worth nothing after it. When the store cannot be opened because
another process holds it locked past its busy timeout, the request gets an empty
session marked `busy` (the bridge answers it with its busy page) and the member's
cookie and stored session are left as they were.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import secrets
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, current_app, g
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from membership.store import Store, StoreBusy

ABSOLUTE_LIFETIME = timedelta(hours=24)


class ServerSession(CallbackDict, SessionMixin):
    def __init__(
        self,
        data: dict[str, Any] | None = None,
        token: str | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        def on_update(session: ServerSession) -> None:
            session.modified = True

        super().__init__(data or {}, on_update)
        self.token = token
        self.old_token: str | None = None
        self.modified = False
        self.busy = False
        # What the store holds, to tell a change from a view (a change to a nested value
        # does not set `modified`); None for a session the store does not hold yet.
        self.stored = copy.deepcopy(data) if token else None
        self.expires_at = expires_at

    def changed(self) -> bool:
        """Whether the data differ from what the store holds (or it holds none)."""
        return dict(self) != self.stored

    def regenerate(self) -> None:
        """Drop the current token; the next response carries a new one."""
        if self.token:
            self.old_token = self.token
        self.token = None
        self.modified = True


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class StoreSessionInterface(SessionInterface):
    # An unchanged session's expiry is moved only once a quarter of its lifetime has
    # passed since it was written: the session then ends between three quarters of
    # `session_hours` and all of it after the last view, never later than configured,
    # and a member reading pages costs at most four writes a lifetime, not one a view.
    REFRESH = 0.25

    def __init__(self, store_opener: Any, lifetime: timedelta) -> None:
        self.open_store = store_opener
        self.lifetime = lifetime

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        token = request.cookies.get(self.get_cookie_name(app), "")
        if request.path.startswith(f"{app.static_url_path}/"):
            token = ""  # a stylesheet needs no session: the store is not opened for it
        if token and len(token) < 100:
            try:
                live = self.open_store().live_session(session_id(token))
            except StoreBusy:
                busy = ServerSession()
                busy.busy = True
                return busy
            if live is not None:
                data, expires_at = live
                return ServerSession(data, token, expires_at)
        return ServerSession()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if session.busy:
            return  # the member's session was never read: nothing to save or forget
        # The store is opened only to change something (not for a stylesheet's request).
        store = self.open_store
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        if session.token or session.old_token:
            response.vary.add("Cookie")  # the page was made for this cookie, written or not
        if session.old_token:
            store().delete_session(session_id(session.old_token))
        if not session:
            if session.token:
                store().delete_session(session_id(session.token))
            if session.token or session.old_token:
                response.delete_cookie(name, domain=domain, path=path)
            return
        now = datetime.now(UTC)
        created = datetime.fromisoformat(session.setdefault("_created", now.isoformat()))
        expires = min(now + self.lifetime, created + ABSOLUTE_LIFETIME)
        if expires <= now:
            store().delete_session(session_id(session.token or ""))
            response.delete_cookie(name, domain=domain, path=path)
            return
        token = session.token
        if token is None or session.changed():
            token = session.token = token or secrets.token_urlsafe(32)
            store().save_session(session_id(token), dict(session), expires)
        elif self._due(session.expires_at, expires):
            store().extend_session(session_id(token), expires)
        else:
            return  # a view: the store and the cookie keep the expiry they have
        response.set_cookie(
            name,
            token,
            expires=expires,
            httponly=True,
            secure=self.get_cookie_secure(app),
            samesite="Lax",
            domain=domain,
            path=path,
        )

    def _due(self, stored: datetime | None, expires: datetime) -> bool:
        return stored is None or expires - stored >= self.lifetime * self.REFRESH


class _Kept(threading.local):
    """The store connection a server thread keeps from one request to the next, and the
    process that opened it."""

    store: Store | None = None
    pid: int = 0


_kept = _Kept()


def current_store() -> Store:
    """The request's store connection, opened on first use and given back at teardown
    (`release_store`). A server thread keeps its connection from one request to the
    next: opening one (connecting, its pragmas, the schema check, the file's mode) was a
    quarter of a small page's time. Every statement outside a transaction reads what is
    committed at that moment, so a kept connection sees the other processes' writes as
    a new one would; `ats restore` writes into the store through SQLite (and refuses
    while the bridge holds it open, unless forced). A fork opens its own."""
    if "store" not in g:
        g.store = _thread_store(Path(current_app.extensions["ats_bridge"].store_path))
    return g.store


def release_store(store: Store, error: BaseException | None) -> None:
    """The request is done with `store`: a transaction left open is rolled back, and
    after an error the connection is closed, so the next request starts afresh."""
    if error is not None or _kept.store is not store:
        _forget(store)
        return
    try:
        if store.db.conn.in_transaction:
            store.db.conn.execute("ROLLBACK")
    except sqlite3.Error:
        _forget(store)


def _thread_store(path: Path) -> Store:
    kept = _kept.store
    if kept is not None:
        if kept.path == path and _kept.pid == os.getpid():
            return kept
        _forget(kept)
    store = Store(path)
    _kept.store, _kept.pid = store, os.getpid()
    return store


def _forget(store: Store) -> None:
    """Close `store` and keep it no longer; a connection a parent process opened is only
    dropped (closing it in a fork could disturb the parent's)."""
    mine = _kept.store is not store or _kept.pid == os.getpid()
    if _kept.store is store:
        _kept.store, _kept.pid = None, 0
    if mine:
        with contextlib.suppress(sqlite3.Error):
            store.close()
