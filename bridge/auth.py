"""Who is logged in: the verified identity in the session, and the guards on views.

A session holds the identity only after the OAuth callback verified it (or, in tests,
after `bridge.testing.log_in` put one there directly). `sign_in` records the identity
in the store, rotates the session token and moves the member's requests forward (a
proven identity is a gate); `sign_out` forgets the session. `login_required` and
`admin_required` guard views: anonymous visitors are sent to log in (back to the
same local page afterwards), non-admins get 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g, redirect, request, session, url_for

from bridge import i18n
from bridge.sessions import ServerSession, current_store
from bridge.settings import BridgeSettings
from membership import progress
from policies.usernames import canonical_username

View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class Member:
    """The logged-in wiki account, as the session remembers it."""

    username: str
    central_id: str
    groups: tuple[str, ...]
    oauth_version: int


def settings() -> BridgeSettings:
    return current_app.extensions["ats_bridge"]


def current_member() -> Member | None:
    if "member" not in g:
        data = session.get("identity")
        g.member = (
            Member(
                data["username"],
                str(data["central_id"]),
                tuple(data.get("groups") or ()),
                int(data.get("oauth_version", 2)),
            )
            if data
            else None
        )
    return g.member


def is_admin(member: Member | None) -> bool:
    return member is not None and settings().policy.is_admin(member.username, member.groups)


def sign_in(username: str, central_id: str, groups: tuple[str, ...], oauth_version: int) -> None:
    """Start a logged-in session for an identity the OAuth exchange verified."""
    username = canonical_username(username)
    assert isinstance(session, ServerSession)
    session.clear()
    session.regenerate()
    session.permanent = True
    session["identity"] = {
        "username": username,
        "central_id": str(central_id),
        "groups": list(groups),
        "oauth_version": int(oauth_version),
    }
    g.pop("member", None)
    store = current_store()
    with store.transaction():  # the login, its audit entry and what it unlocks, or nothing
        store.record_identity(username, str(central_id), int(oauth_version))
        store.audit(username, "bridge-login", oauth_version=int(oauth_version))
        advance(username, username)


def sign_out() -> None:
    assert isinstance(session, ServerSession)
    session.clear()
    session.regenerate()
    g.pop("member", None)


def advance(username: str, actor: str) -> None:
    """Re-evaluate `username`'s requests after a fact about them was recorded."""
    config = settings()
    progress.advance(
        current_store(),
        username,
        actor,
        terms_version=config.terms.version,
        fees=config.fees,
    )


def login_required(view: View) -> View:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if current_member() is None:
            return redirect(url_for("requester.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def admin_required(view: View) -> View:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        member = current_member()
        if member is None:
            return redirect(url_for("requester.login", next=request.full_path.rstrip("?")))
        if not is_admin(member):
            abort(403, description=i18n.text("ats-bridge-error-admins-only"))
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]
