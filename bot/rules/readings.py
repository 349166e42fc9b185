"""What people wrote in a request section, read once: fields, decisions, signature.

A section's own text (without the bot's reply lines) is parsed with mwparserfromhell
into the request template's fields, how many request templates it holds, its decision
templates (`Decision`) and whether it is signed. Readings are kept by the digest of
that text: a revision that only adds replies needs no parse, and the clerk keeps the
readings in its store (`known_readings` / `new_readings`), so a cycle in a fresh process
parses only the sections that changed since the last one. Pure but for that memo.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import mwparserfromhell
from mwparserfromhell.nodes import (
    Tag,
    Template,
    Wikilink,
)
from mwparserfromhell.parser import ParserError
from mwparserfromhell.wikicode import Wikicode

from bot.rules.vocabulary import Vocabulary
from policies.errors import Refusal


class ParseError(Refusal, ValueError):
    """The page text could not be read at all (malformed requests are not errors)."""


@dataclass(frozen=True)
class Decision:
    """A live decision template in a request section (outside status reply lines)."""

    kind: str
    params: Mapping[str, str]
    wikitext: str
    ordinal: int


def clean(code: Wikicode | str) -> str:
    """A parameter name or value: comments removed (not in nowiki), stripped."""
    text = str(code)
    if "<!--" in text:
        copy = mwparserfromhell.parse(text)
        for comment in copy.filter_comments(recursive=True):
            copy.remove(comment)
        text = str(copy)
    return text.strip()


def _params(template: Template) -> dict[str, str]:
    return {clean(p.name): clean(p.value) for p in template.params}


def templates(code: Wikicode, vocab: Vocabulary) -> Iterator[tuple[str, Template]]:
    for template in code.filter_templates(recursive=True):
        role = vocab.role(template)
        if role is not None:
            yield role, template


def _is_user_link(link: Wikilink) -> bool:
    title = " ".join(str(link.title).replace("_", " ").split()).lstrip(":").lower()
    ns, _, rest = title.partition(":")
    return ns.strip() in ("user", "user talk") or (
        ns.strip() == "special" and rest.strip().startswith("contributions/")
    )


def _signed(code: Wikicode) -> bool:
    """A user link outside templates (a signature may sit in <small> or <span>)."""
    for node in code.nodes:
        if isinstance(node, Wikilink) and _is_user_link(node):
            return True
        if isinstance(node, Tag) and node.contents is not None and _signed(node.contents):
            return True
    return False


_LIMIT = 20_000

_Own = tuple[Mapping[str, str] | None, int, tuple[Decision, ...], bool]
# What the people wrote in a section (its text without the bot's reply lines), read once
# and kept by the digest of that text: a revision that only adds replies needs no parse,
# and the clerk keeps the readings in its store (`known_readings` / `new_readings`), so
# a cycle in a fresh process parses only the sections that changed since the last one.
_BY_DIGEST: dict[str, _Own] = {}
_NEW: dict[str, _Own] = {}


def read_own(own: str, heading: str, vocab: Vocabulary) -> _Own:
    """Fields, request template count, decisions and whether signed, of a section body."""
    digest = _reading_digest(own, vocab)
    found = _BY_DIGEST.get(digest)
    if found is None:
        found = _NEW[digest] = _parse_own(own, heading, vocab)
        if len(_BY_DIGEST) >= _LIMIT:
            _BY_DIGEST.clear()
        _BY_DIGEST[digest] = found
    return found


def _parse_own(own: str, heading: str, vocab: Vocabulary) -> _Own:
    try:
        code = mwparserfromhell.parse(own)
    except ParserError as exc:
        raise ParseError(f"cannot read section {heading!r}: {exc}") from exc
    fields: Mapping[str, str] | None = None
    count = 0
    decisions: list[Decision] = []
    seen: dict[str, int] = {}
    for role, template in templates(code, vocab):
        if role == "request":
            count += 1
            if fields is None:
                fields = MappingProxyType(
                    {name.lower(): value for name, value in _params(template).items()}
                )
        elif role != "status":
            wikitext = str(template)
            seen[wikitext] = seen.get(wikitext, 0) + 1
            params = MappingProxyType(_params(template))
            decisions.append(Decision(role, params, wikitext, seen[wikitext]))
    return fields, count, tuple(decisions), _signed(code)


def _reading_digest(own: str, vocab: Vocabulary) -> str:
    return hashlib.sha256(f"{vocab._tag}\x1f{own}".encode()).hexdigest()


def forget() -> None:
    """Forget every reading kept in this process (benchmarks time a first reading)."""
    _BY_DIGEST.clear()
    _NEW.clear()


def known_readings(readings: Mapping[str, str]) -> None:
    """Take section readings saved by an earlier process (digest -> JSON from
    `new_readings`); a section whose text matches one is not parsed again."""
    for digest, data in readings.items():
        if digest in _BY_DIGEST:
            continue
        try:
            fields, count, decisions, signed = json.loads(data)
            _BY_DIGEST[digest] = (
                None if fields is None else MappingProxyType(dict(fields)),
                int(count),
                tuple(
                    Decision(k, MappingProxyType(dict(p)), w, int(n)) for k, p, w, n in decisions
                ),
                bool(signed),
            )
        except (ValueError, TypeError):
            continue  # a damaged entry is read again from the text


def new_readings() -> dict[str, str]:
    """The section readings parsed in this process since the last call, as JSON by digest."""
    found = {
        digest: json.dumps(
            [
                None if fields is None else dict(fields),
                count,
                [[d.kind, dict(d.params), d.wikitext, d.ordinal] for d in decisions],
                signed,
            ],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for digest, (fields, count, decisions, signed) in _NEW.items()
    }
    _NEW.clear()
    return found
