"""Requests as tests write them: the wikitext a requester saves (contract §2), the row the
clerk records in the store, and the SSH key a member adds.

One place for each shape, so a test says only what matters to it (`username=` for a
request on someone's behalf, `state=` for a row) and a change to the template or to
`Store.add_request` is made once.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from membership.records import RequestRecord
from membership.store import Store

PAGE = "Toolserver/Requests"
SIGNATURE = "~~~~"


def request_wikitext(
    type: str = "account",  # noqa: A002 - the template's own field name
    *,
    purpose: str = "Running maintenance scripts.",
    signature: str = SIGNATURE,
    **fields: str,
) -> str:
    """The body of a request section: `{{ATS request}}` with one field a line, aligned
    as the preload writes them, then the signature (`signature=""`: unsigned).

    Fields are written in contract §2's order; `username=` files on someone's behalf; a
    field given as "" is left out.
    """
    order = ("type", "username", "purpose", "tool", "license", "source", "maintainers")
    given = {"type": type, "purpose": purpose, **fields}
    names = [n for n in order if given.get(n)] + [n for n in given if n not in order]
    width = max(len(n) for n in names)
    lines = ["{{ATS request", *(f" | {n.ljust(width)} = {given[n]}" for n in names), "}}"]
    if signature:
        lines.append(signature)
    return "\n".join(lines)


def request_section(heading: str, body: str | None = None, *after: str) -> str:
    """A level-2 section: the heading, the body (`request_wikitext()` unless given) and
    any lines after it (replies, decisions), ending in a newline."""
    text = request_wikitext() if body is None else body
    return "\n".join([f"== {heading} ==", text, *after]) + "\n"


def add_request(store: Store, who: str = "Example", /, **values: Any) -> RequestRecord:
    """A request row as the clerk records it: for `who`, filed by `who` on `PAGE`, state
    `received`; any argument of `Store.add_request` may be given."""
    kind = values.get("type", "account")
    fields = values.get("fields", {"type": kind, "purpose": "bots"})
    if kind == "tool":
        heading = f"Tool request: {fields.get('tool', who)}"
    else:
        heading = f"Account request: {who}"
    row: dict[str, Any] = {
        "page": PAGE,
        "key": f"key-{who}",
        "heading": heading,
        "requester": who,
        "subject": who,
        "type": kind,
        "fields": fields,
        "content_hash": "h",
        "intro_revid": 1,
        "intro_timestamp": "2025-01-01T00:00:00Z",
        "state": "received",
        "detail": {},
    }
    row.update(values)
    return store.add_request(**row)


def ssh_public_key(comment: str = "") -> str:
    """A new Ed25519 public key in OpenSSH's one-line form, with `comment` if given."""
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{line.decode()} {comment}" if comment else line.decode()
