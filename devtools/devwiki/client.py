"""Driving a dev wiki over HTTP as its users would: logging in, rolling back, undoing,
reading a page; and counting the API requests its logs recorded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import requests

from devtools.devwiki.php import DevWikiError

_API_REQUEST_RE = re.compile(rb"\] \S+:\d+ \[\d{3}\]: [A-Z]+ /api\.php(?:[?/\s]|$)", re.MULTILINE)


def login(api_url: str, user: str, password: str, *, return_url: str) -> requests.Session:
    """An HTTP session logged in to the API as ``user`` (clientlogin)."""
    session = requests.Session()
    token = session.get(
        api_url,
        params={"action": "query", "meta": "tokens", "type": "login", "format": "json"},
        timeout=30,
    ).json()["query"]["tokens"]["logintoken"]
    result = session.post(
        api_url,
        data={
            "action": "clientlogin",
            "username": user,
            "password": password,
            "logintoken": token,
            "loginreturnurl": return_url,
            "format": "json",
        },
        timeout=30,
    ).json()
    if result.get("clientlogin", {}).get("status") != "PASS":
        raise DevWikiError(f"login as {user} failed: {result}")
    return session


def token(session: requests.Session, api_url: str, kind: str) -> str:
    """A token of ``kind`` (csrf, rollback, ...) for ``session``."""
    data = session.get(
        api_url,
        params={"action": "query", "meta": "tokens", "type": kind, "format": "json"},
        timeout=30,
    ).json()
    return data["query"]["tokens"][f"{kind}token"]


def rollback(session: requests.Session, api_url: str, title: str, last_editor: str) -> int:
    """Roll back ``last_editor``'s latest edits to ``title``; the new revision id."""
    result = session.post(
        api_url,
        data={
            "action": "rollback",
            "title": title,
            "user": last_editor,
            "token": token(session, api_url, "rollback"),
            "format": "json",
        },
        timeout=30,
    ).json()
    if "rollback" not in result:
        raise DevWikiError(f"rollback of {title} failed: {result}")
    return int(result["rollback"]["revid"])


def undo(
    session: requests.Session, api_url: str, title: str, undo: int, undoafter: int | None
) -> int:
    """Undo revision ``undo`` of ``title`` (or every revision after ``undoafter`` up to
    ``undo``); the new revision id."""
    data: dict[str, Any] = {
        "action": "edit",
        "title": title,
        "undo": undo,
        "token": token(session, api_url, "csrf"),
        "format": "json",
    }
    if undoafter is not None:
        data["undoafter"] = undoafter
    result = session.post(api_url, data=data, timeout=30).json()
    if result.get("edit", {}).get("result") != "Success":
        raise DevWikiError(f"undo on {title} failed: {result}")
    return int(result["edit"]["newrevid"])


def page_text(api_url: str, title: str) -> str:
    """The current wikitext of ``title`` ("" if the page does not exist), anonymously."""
    response = requests.get(
        api_url,
        params={  # type: ignore[arg-type]  # str and int values only
            "action": "query",
            "prop": "revisions",
            "titles": title,
            "rvprop": "content",
            "rvslots": "main",
            "format": "json",
            "formatversion": 2,
        },
        timeout=30,
    )
    response.raise_for_status()
    page = response.json()["query"]["pages"][0]
    if page.get("missing"):
        return ""
    return page["revisions"][0]["slots"]["main"]["content"]


def file_size(path: Path) -> int:
    """The size of ``path`` in bytes (0 if it does not exist yet): an offset in a log."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read()
    except FileNotFoundError:
        return b""


def api_requests_in_server_log(path: Path, offset: int) -> int:
    """How many api.php requests the server logged in ``path`` after byte ``offset``."""
    return len(_API_REQUEST_RE.findall(_read_from(path, offset)))


def api_calls_in_api_log(path: Path, offset: int) -> list[str]:
    """The API requests MediaWiki logged in ``path`` after byte ``offset``, one line each."""
    text = _read_from(path, offset).decode("utf-8", errors="replace")
    return [line for line in text.splitlines() if " API " in f" {line}"]
