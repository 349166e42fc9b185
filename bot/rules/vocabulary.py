"""The names the request-page contract uses, and how templates are recognised.

`Vocabulary` holds the localisable names (the request, status and decision templates,
the request headings' prefixes, the template namespace) and answers which role a
template plays; `bot.rules.page` and `bot.rules.readings` read the page with it. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from mwparserfromhell.nodes import (
    Template,
)

_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)


def drop_comments(text: str) -> str:
    return _COMMENT.sub("", text) if "<!--" in text else text


_DECISIONS = {
    "approve": "ATS approve",
    "decline": "ATS decline",
    "hold": "ATS hold",
    "withdraw": "ATS withdraw",
    "recheck": "ATS recheck",
}


def _template_key(name: str) -> str:
    """How a template name is compared: ``_`` is a space, runs collapse, case is ignored.

    MediaWiki ignores the case of the first letter only; ignoring all of it also
    accepts the lower-case redirects wikis usually create (``{{ats request}}``).
    """
    return " ".join(name.replace("_", " ").split()).casefold()


def _name_pattern(name: str, namespaces: Sequence[str]) -> str:
    """A regex (case-insensitive) matching ``{{NAME|`` or ``{{NAME}}`` as ``role`` does."""
    sep = r"[\s_]+"
    body = sep.join(map(re.escape, name.replace("_", " ").split()))
    ns = "|".join(sep.join(map(re.escape, n.split())) for n in namespaces)
    return rf"\{{\{{[\s_]*(?:(?:{ns})[\s_]*:[\s_]*)?{body}[\s_]*(?:\||\}}\}})"


READING_VERSION = 1  # bump when bot.rules.readings reads anything differently


@dataclass(frozen=True)
class Vocabulary:
    """The localisable names the page contract uses."""

    request_template: str = "ATS request"
    status_template: str = "ATS status"
    decision_templates: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType(dict(_DECISIONS))
    )
    request_prefixes: tuple[str, ...] = ("Account request:", "Tool request:")
    template_namespaces: tuple[str, ...] = ("Template",)
    _roles: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _namespaces: frozenset[str] = field(init=False, repr=False, compare=False)
    _prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _request_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _status_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _tag: str = field(init=False, repr=False, compare=False)  # keys cached section readings

    def __post_init__(self) -> None:
        roles = {_template_key(v): k for k, v in self.decision_templates.items()}
        roles[_template_key(self.status_template)] = "status"
        roles[_template_key(self.request_template)] = "request"
        setattr_ = object.__setattr__
        setattr_(self, "decision_templates", MappingProxyType(dict(self.decision_templates)))
        setattr_(self, "_roles", MappingProxyType(roles))
        setattr_(self, "_namespaces", frozenset(map(_template_key, self.template_namespaces)))
        setattr_(self, "_prefixes", tuple(p.lower() for p in self.request_prefixes))
        names = (
            self.request_template,
            self.status_template,
            sorted(self.decision_templates.items()),
            self.request_prefixes,
            self.template_namespaces,
            READING_VERSION,
        )
        setattr_(self, "_tag", repr(names))
        for attr, name in (
            ("_request_re", self.request_template),
            ("_status_re", self.status_template),
        ):
            pattern = _name_pattern(name, self.template_namespaces)
            setattr_(self, attr, re.compile(pattern, re.I))

    def role(self, template: Template) -> str | None:
        """``request``, ``status``, a decision kind, or None for any other template."""
        name = _template_key(drop_comments(str(template.name)))
        ns, colon, rest = name.partition(":")
        if colon and ns.strip() in self._namespaces:
            name = rest.strip()
        return self._roles.get(name)


DEFAULT_VOCABULARY = Vocabulary()
