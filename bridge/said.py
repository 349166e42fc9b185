"""What the rules said, in the reader's language.

The rules (`membership`, `policies`) refuse in English and attach the message that says
the same: `policies.words.Words`, a `str` with a key and parameters. Here a `Words`
becomes the reader's message, with every parameter that is itself `Words` (a payment or
a fund action named inside a refusal) put into the reader's words first and ISO dates
read as dates; text without a message (an old rule's plain English) is shown as it is.
"""

from __future__ import annotations

from typing import Any

from flask import flash
from markupsafe import Markup

from bridge import dates, i18n
from policies.words import Words

# Something to tell the reader: a message key and its parameters, or the rules' words.
Said = tuple[str, dict[str, Any]] | str


def plain(said: object) -> str:
    """A parameter as plain text in the reader's language (nested `Words` included)."""
    if isinstance(said, Words):
        return str(i18n.text(said.key, **params(said.params)).striptags())
    return str(said)


def params(values: dict[str, Any]) -> dict[str, str | int]:
    out: dict[str, str | int] = {}
    for name, value in values.items():
        if isinstance(value, int) and not isinstance(value, bool):
            out[name] = value
        elif name == "date" and value and not isinstance(value, Words):
            try:
                out[name] = dates.words(str(value))
            except ValueError:  # not a date the bridge can read: as the rules wrote it
                out[name] = str(value)
        else:
            out[name] = plain(value)
    return out


def markup(said: Said) -> Markup:
    """`said` on a page: a message or `Words` in the reader's language, other text
    escaped."""
    if isinstance(said, tuple):
        key, values = said
        return i18n.text(key, **params(values))
    if isinstance(said, Words):
        return i18n.text(said.key, **params(said.params))
    return Markup.escape(said)


def flash_said(said: Said, category: str) -> None:
    """Flash what was said: a (key, parameters) message or `Words` by key, put into the
    reader's words when shown; other text as it is."""
    if isinstance(said, tuple):
        key, values = said
        i18n.flash_message(key, category, **params(values))
    elif isinstance(said, Words):
        i18n.flash_message(said.key, category, **params(said.params))
    elif said:
        flash(said, category)


# Provisioning jobs, as the admins' desk names them; another kind or state shows its code.
JOB_KINDS = ("person", "tool", "keys", "suspend", "restore", "maintainers")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")


def job_kind(kind: str) -> Markup:
    if kind in JOB_KINDS:
        return i18n.text(f"ats-bridge-job-kind-{kind}")
    return Markup.escape(kind)


def job_state(state: str) -> Markup:
    if state in JOB_STATES:
        return i18n.text(f"ats-bridge-job-state-{state}")
    return Markup.escape(state)


class Later:
    """`said`, put into words only when a template shows it: inside the page's `<html
    lang>`, so a message in the page's own language carries no extra `lang` mark."""

    def __init__(self, said: Said) -> None:
        self.said = said

    def __bool__(self) -> bool:
        return bool(self.said)

    def __html__(self) -> str:
        return str(markup(self.said))
