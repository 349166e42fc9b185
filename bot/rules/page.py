"""Request-page wikitext <-> request sections: parsing and rendering, pure.

This module owns the on-wiki contract of contract §2 as far as text goes: it splits a
request page into level-2 sections, decides which are requests (a live
``{{ATS request}}`` or a request-prefixed heading) and which are discussion, and
reads from each request its fields, its bot status replies and its decision
templates; ``render`` appends reply lines to request sections and changes no other
byte. It does no I/O: who added a section or a template (the revision history), what
a field means (validation) and what to reply (the lifecycle) belong elsewhere.
Section boundaries are found with a fast scan that masks comments and ``<nowiki>``
-like tags the way MediaWiki does (``hidden_spans`` and ``mask``, the one such scan,
also used by the queue, the archive and provenance); each section is then read with
mwparserfromhell, so a 1,000-request page costs 1,000 small parses rather than one huge
one. The names the contract uses live in ``bot.rules.vocabulary``; reading what people wrote
in a section (fields, decisions, signature, remembered by digest) is ``bot.rules.readings``'.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import mwparserfromhell
from mwparserfromhell.definitions import PARSER_BLACKLIST
from mwparserfromhell.nodes import (
    Comment,
    ExternalLink,
    HTMLEntity,
    Tag,
    Text,
    Wikilink,
)
from mwparserfromhell.parser import ParserError
from mwparserfromhell.wikicode import Wikicode

from bot.rules.readings import (
    Decision,
    ParseError,
    clean,
    forget,
    known_readings,
    new_readings,
    read_own,
    templates,
)
from bot.rules.vocabulary import DEFAULT_VOCABULARY, Vocabulary

__all__ = [
    "DEFAULT_VOCABULARY",
    "Decision",
    "ParseError",
    "Reply",
    "RequestPage",
    "RequestSection",
    "Vocabulary",
    "parse",
    "hidden_spans",
    "known_readings",
    "mask",
    "new_readings",
    "render",
    "request_keys",
]


@dataclass(frozen=True)
class Reply:
    """An existing ``{{ATS status}}`` reply line in a request section."""

    state: str
    line: str


@dataclass(frozen=True)
class RequestSection:
    """One level-2 section that is a request; offsets index ``RequestPage.text``."""

    key: str
    heading: str
    start: int
    end: int
    fields: Mapping[str, str] | None
    template_count: int
    replies: tuple[Reply, ...]
    decisions: tuple[Decision, ...]
    content_hash: str
    signed: bool
    append_at: int


@dataclass(frozen=True)
class RequestPage:
    """A parsed request page: its text, its requests in page order, other headings."""

    text: str
    requests: tuple[RequestSection, ...]
    discussions: tuple[str, ...]
    _by_key: Mapping[str, RequestSection] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key = MappingProxyType({r.key: r for r in self.requests})
        object.__setattr__(self, "_by_key", by_key)

    def get(self, key: str) -> RequestSection | None:
        return self._by_key.get(key)


# --- stage 1: section boundaries -------------------------------------------------------

# The tags whose content mwparserfromhell leaves unparsed (nowiki, pre, syntaxhighlight,
# math...): masking exactly these keeps the boundary scan and the parser in agreement.
_OPENER = re.compile(r"<!--|<(" + "|".join(PARSER_BLACKLIST) + r")(?=[\s/>])[^>]*>", re.I)
_CLOSER = {t: re.compile(rf"</{t}\s*>", re.I) for t in PARSER_BLACKLIST}
_HEADING_LINE = re.compile(r"^=[^\n]*", re.M)
_REPLY_LINE = re.compile(r"^[:*]+[^\n]*\{\{[^\n]*", re.M)

_QUOTES = re.compile(r"'{2,}")
_PLAIN_STATE = re.compile(r"([^|{}\[\]<>=\n]*)(?:\||\}\})")


def hidden_spans(text: str, pos: int = 0) -> Iterator[tuple[int, int, bool]]:
    """(start, end, unclosed) of each stretch MediaWiki hides, in order from `pos`.

    The stretches are comments and unparsed tags (``<nowiki>``, ``<pre>``...). A comment
    nobody closed runs to the end of the page and is ``unclosed``; an unclosed unparsed
    tag is plain text to MediaWiki and hides nothing. Lazy, so a caller that only needs
    the top of a page (the queue's preamble) stops scanning there.
    """
    while match := _OPENER.search(text, pos):
        tag = match.group(1)
        if tag is None:
            close = text.find("-->", match.end())
            end = len(text) if close < 0 else close + 3
            yield match.start(), end, close < 0
        elif match.group(0).endswith("/>"):
            pos = match.end()
            continue
        elif closer := _CLOSER[tag.lower()].search(text, match.end()):
            end = closer.end()
            yield match.start(), end, False
        else:
            pos = match.end()
            continue
        pos = end


def mask(text: str) -> tuple[str, int | None]:
    """Blank out comments and unparsed tags (same length, no newlines inside them).

    Returns the masked text and where an unclosed comment starts, if there is one:
    MediaWiki hides it to the end of the page (mwparserfromhell would show it).
    """
    pieces: list[str] = []
    done = 0
    unclosed = None
    for start, end, open_ended in hidden_spans(text):
        unclosed = start if open_ended else None
        pieces += (text[done:start], " " * (end - start))
        done = end
    if not pieces:
        return text, None
    pieces.append(text[done:])
    return "".join(pieces), unclosed


def _headings(masked: str) -> Iterator[tuple[int, int, int, int]]:
    """Yield (line start, line end, title start, title end) of level-1/2 headings."""
    for match in _HEADING_LINE.finditer(masked):
        line = match.group().rstrip()
        if not line.endswith("="):
            continue
        lead = len(line) - len(line.lstrip("="))
        if lead == len(line):  # a line of only '=': MediaWiki reads (n-1)//2 of them
            if lead < 3:
                continue
            level = min(6, (lead - 1) // 2)
        else:
            level = min(lead, len(line) - len(line.rstrip("=")), 6)
        if level <= 2:
            start = match.start()
            yield start, match.end(), start + level, start + len(line) - level


def _heading_text(raw: str) -> str:
    """Plain text of a heading: links and markup stripped, whitespace collapsed."""
    if any(c in raw for c in "[{'<&"):
        try:
            raw = _QUOTES.sub("", _plain(mwparserfromhell.parse(raw)))
        except ParserError as exc:
            raise ParseError(f"cannot read heading {raw!r}: {exc}") from exc
    return " ".join(raw.split())


def _plain(code: Wikicode) -> str:
    out: list[str] = []
    for node in code.nodes:
        if isinstance(node, Text):
            out.append(node.value)
        elif isinstance(node, Wikilink):
            out.append(_plain(node.text) if node.text else str(node.title).lstrip(":"))
        elif isinstance(node, ExternalLink):
            out.append(_plain(node.title) if node.title else str(node.url))
        elif isinstance(node, HTMLEntity):
            out.append(node.normalize())
        elif isinstance(node, Tag):
            out.append(_plain(node.contents) if node.contents is not None else " ")
        elif not isinstance(node, Comment):  # templates can't be expanded: keep their text
            out.append(str(node))
    return "".join(out)


@dataclass(frozen=True)
class _Section:
    heading: str
    start: int
    body: int
    end: int


def _sections(text: str, masked: str) -> list[_Section]:
    found = list(_headings(masked))
    sections = []
    for i, (start, line_end, t_start, t_end) in enumerate(found):
        end = found[i + 1][0] if i + 1 < len(found) else len(text)
        heading = _heading_text(text[t_start:t_end])
        sections.append(_Section(heading, start, min(line_end + 1, end), end))
    return sections


def _keyed(names: Iterator[str]) -> Iterator[str]:
    """Headings made unique: the second "X" is "X #2" (or #3... if "X #2" is taken)."""
    used: set[str] = set()
    for name in names:
        key, n = name, 1
        while key in used:
            n += 1
            key = f"{name} #{n}"
        used.add(key)
        yield key


# --- stage 2: one section ---------------------------------------------------------------


def _replies(masked: str, body: int, end: int, vocab: Vocabulary) -> list[tuple[int, int, str]]:
    """(line start, line end, state) of each status reply line between body and end."""
    found = []
    for match in _REPLY_LINE.finditer(masked, body, end):
        line = match.group()
        if not (name := vocab._status_re.search(line)):
            continue
        state = _simple_state(line, name)
        if state is None:
            for role, template in templates(mwparserfromhell.parse(line), vocab):
                if role == "status":
                    state = clean(template.get(1).value) if template.has(1) else ""
                    break
        if state is not None:
            found.append((match.start(), match.end(), state.strip().lower()))
    return found


def _simple_state(line: str, name: re.Match[str]) -> str | None:
    """The state of ``{{ATS status|word...`` read without a parser, or None if unsure."""
    if line[name.start() - 1 : name.start()] == "{":  # {{{...}}} is a parameter, not a call
        return None
    if name.group().endswith("}"):
        return ""
    state = _PLAIN_STATE.match(line, name.end())
    return state.group(1) if state else None


def _request(
    text: str,
    masked: str,
    section: _Section,
    vocab: Vocabulary,
    unclosed_comment: int | None,
) -> RequestSection:
    start, end = section.start, section.end
    replies = _replies(masked, section.body, end, vocab)
    # The section without its reply lines: what the requester and admins wrote.
    kept, pos = [], section.body
    for r_start, r_end, _ in replies:
        kept.append(text[pos:r_start])
        pos = min(r_end + 1, end)
    kept.append(text[pos:end])
    own = "".join(kept)
    visible_end = end
    if unclosed_comment is not None and end == len(text):
        # MediaWiki hides an unclosed comment to the end of the page: make the parser agree.
        own = ("<!--" if unclosed_comment < section.body else "") + own + "-->"
        visible_end = unclosed_comment
    # Replies go after the last visible character and the blanks that end its line, so
    # that line keeps its bytes and the reply line holds only what render() was given.
    append_at = start + len(text[start:visible_end].rstrip())
    while append_at < visible_end and text[append_at] in " \t":
        append_at += 1
    fields, count, decisions, signed = read_own(own, section.heading, vocab)

    # Whitespace-only edits and the bot's own insertions must not look like new content.
    head = text[start : section.body]
    lines = (head + "".join(kept)).split("\n")
    digest = hashlib.sha256("\n".join(x.rstrip() for x in lines).strip().encode()).hexdigest()
    return RequestSection(
        key=section.heading,  # parse() adds the duplicate suffix
        heading=section.heading,
        start=start,
        end=end,
        fields=fields,
        template_count=count,
        replies=tuple(Reply(state, text[s:e]) for s, e, state in replies),
        decisions=decisions,
        content_hash=digest,
        signed=signed,
        append_at=append_at,
    )


# Sections already read in this process, by their exact text: walking a page's history
# (bot.rules.provenance) reads the same sections revision after revision, and the clerk then
# reads the current revision once more. Offsets are stored relative to the section.
_CACHE: dict[tuple[int, str, int | None], RequestSection] = {}
_CACHE_LIMIT = 20_000


def forget_readings() -> None:
    """Forget every section read in this process (benchmarks time a first reading)."""
    _CACHE.clear()
    forget()


def _cached_request(
    text: str,
    masked: str,
    section: _Section,
    vocab: Vocabulary,
    unclosed_comment: int | None,
) -> RequestSection:
    start, end = section.start, section.end
    # An unclosed comment changes the reading of the last section only.
    hidden = None
    if unclosed_comment is not None and end == len(text):
        hidden = unclosed_comment - start
    key = (id(vocab), text[start:end], hidden)
    cached = _CACHE.get(key)
    if cached is None:
        found = _request(text, masked, section, vocab, unclosed_comment)
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = replace(found, start=0, end=end - start, append_at=found.append_at - start)
        return found
    return replace(
        cached, start=start, end=end, append_at=cached.append_at + start, key=section.heading
    )


def _prefixed(heading: str, vocab: Vocabulary) -> bool:
    return heading.lower().startswith(vocab._prefixes)


# --- facade -----------------------------------------------------------------------------


def parse(text: str, vocab: Vocabulary = DEFAULT_VOCABULARY) -> RequestPage:
    """Read every level-2 section of a request page."""
    masked, unclosed = mask(text)
    requests: list[RequestSection] = []
    discussions = []
    for section in _sections(text, masked):
        parsed = _cached_request(text, masked, section, vocab, unclosed)
        # A template quoted in a reply line does not make a request: hence the full read.
        if parsed.template_count or _prefixed(section.heading, vocab):
            requests.append(parsed)
        else:
            discussions.append(section.heading)
    keys = _keyed(r.heading for r in requests)
    keyed = tuple(replace(r, key=k) for r, k in zip(requests, keys, strict=True))
    return RequestPage(text, keyed, tuple(discussions))


def request_keys(text: str, vocab: Vocabulary = DEFAULT_VOCABULARY) -> frozenset[str]:
    """The keys ``parse`` would give, without reading section bodies where avoidable."""
    masked, unclosed = mask(text)
    names = []
    for section in _sections(text, masked):
        if _prefixed(section.heading, vocab) or (
            vocab._request_re.search(masked, section.body, section.end)
            and _request(text, masked, section, vocab, unclosed).template_count
        ):
            names.append(section.heading)
    return frozenset(_keyed(iter(names)))


def sections_for(
    text: str, keys: Collection[str], vocab: Vocabulary = DEFAULT_VOCABULARY
) -> dict[str, RequestSection]:
    """The request sections with the given keys, reading no other section's body.

    Used on old revisions to see which decision templates a section held then.
    """
    masked, unclosed = mask(text)
    names: list[str] = []
    candidates: list[_Section] = []
    for section in _sections(text, masked):
        if _prefixed(section.heading, vocab) or (
            vocab._request_re.search(masked, section.body, section.end)
            and _request(text, masked, section, vocab, unclosed).template_count
        ):
            names.append(section.heading)
            candidates.append(section)
    found = {}
    for key, section in zip(_keyed(iter(names)), candidates, strict=True):
        if key in keys:
            found[key] = replace(_request(text, masked, section, vocab, unclosed), key=key)
    return found


def render(page: RequestPage, replies: Mapping[str, Sequence[str]]) -> str:
    """``page.text`` with reply lines appended to the named requests; nothing else changes.

    Each line goes on its own line right after the section's last visible character
    (and the spaces ending that line), so the whitespace that separated it from the next
    heading is kept; a comment left open at the end of the page stays after the replies.
    """
    inserts: list[tuple[int, str]] = []
    for key, lines in replies.items():
        section = page.get(key)
        if section is None:
            raise KeyError(key)
        for line in lines:
            if "\n" in line:
                raise ValueError(f"a reply must be one line, got {line!r}")
        if lines:
            inserts.append((section.append_at, "".join("\n" + line for line in lines)))
    if not inserts:
        return page.text
    inserts.sort()
    out: list[str] = []
    pos = 0
    for at, added in inserts:
        out += (page.text[pos:at], added)
        pos = at
    out.append(page.text[pos:])
    return "".join(out)
