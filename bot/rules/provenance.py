"""Who wrote what on a request page: request identities and token origins, from history.

Pure. The rule (contract §2): a decision template counts only if the revision that
introduced it was made by a user allowed to add it, where "introduced" is its first
appearance in the page's whole history, followed through removals and restores; a
request keeps the identity it got when first seen, whatever happens to its heading or
position. This module applies it the way WikiWho follows a token's origin, at the
granularity of request sections:

- The history is walked forward, every revision, none sampled. The state holds the
  live request sections of the last revision, each with an **identity**
  (``"<revid>.<n>"``: the revision that first held it and its rank among the requests
  new in that revision, so two deployments derive the same ids), the identity's origin
  (revision, user, time) and its **tokens**: each decision template (its wikitext, the
  line around it and its rank among equal ones) and each status line (a
  ``{{ATS status}}`` line, or the ``ats-status``/``ats-decision`` markup a subst leaves),
  each with the revision and user that first showed it in that identity.
- A section of a new revision is matched to a live section of the previous one: the
  same text first (an unchanged request), then an edited one (the same text under a new
  heading; the same heading over at least half the same lines; or 80% of the lines the
  same); else to a section seen before and gone since (a restore: the same text, or the
  same text under another heading); else it is new and belongs to whoever saved the
  revision. The request's fields alone never match: two requests may ask for the same
  thing in the same words. Heading position
  is never an identity: a section inserted above another with the same heading is new.
  A copy of a live section (the same text while the original still lives) is new and
  belongs to the copier.
- A token seen before in an identity keeps its origin. A new one belongs to the
  revision's user, except in a revision that only brings old text back: one whose
  content (sha1) the page held before, or tagged as a rollback, undo or manual revert.
  Such a revision authors nothing; a token first seen there belongs to nobody and
  counts for nobody. So rollback, undo, undo ranges over many edits and restores never
  make the reverting user the author of what they bring back.

Cases this covers: a decision added by one user and later restored by an admin's
rollback, undo or manual restore stays the first user's; an admin's decision removed
by vandalism and restored stays the admin's; a copied request or copied bot line is the
copier's; a renamed or edited request keeps its identity; a same-heading section
inserted above or below a request takes nothing from it. What it cannot tell: two
byte-identical adjacent sections (a copy pasted right beside its original) are the same
page either way, so which of them is "the copy" is arbitrary; and a section rewritten
beyond recognition in one edit (a new heading and most lines changed) is a new request
of whoever rewrote it, the old one counting as removed.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.rules import page

__all__ = ["REVERT_TAGS", "Origin", "PageHistory", "Revision", "facts"]

REVERT_TAGS = frozenset({"mw-rollback", "mw-undo", "mw-manual-revert"})
LAYOUTS_KEPT = 100  # page contents remembered by sha1, so a revert to them needs no fetch
LINES_KEPT = 200  # line digests kept per section text, to compare edited sections
SAME_HEADING = 0.5  # share of lines an edited section keeps under the same heading
RENAMED = 0.8  # ... and under a new heading
PAIRS_COMPARED = 100_000  # at most this many comparisons for renamed-and-edited sections
VERSION = 2  # a new version rebuilds the state from the whole history: ids stay the same

_MARKUP = re.compile(
    r"""\bclass\s*=\s*["']?[^"'>]*\bats-(?:status|decision)\b|\bdata-ats-(?:state|decision)\b""",
    re.I,
)


@dataclass(frozen=True)
class Revision:
    """One revision of the page, as the walk needs it; ``text`` None when hidden."""

    revid: int
    user: str
    sha1: str
    tags: tuple[str, ...]
    text: str | None
    timestamp: str = ""


@dataclass(frozen=True)
class Origin:
    """Who first showed something: ``user`` is "" when nobody can be credited."""

    revid: int
    user: str
    timestamp: str = ""


@dataclass(frozen=True)
class Facts:
    """What a request section's text says for provenance, read once per distinct text."""

    digest: str
    heading: str
    body: str  # digest of the text below the heading: the same after a rename
    shape: tuple[str, ...]  # digests of the distinct non-blank lines below the heading
    tokens: tuple[str, ...]
    decisions: dict[tuple[str, int], str]  # (wikitext, ordinal) -> token
    lines: tuple[tuple[str, str], ...]  # (token, line) of status lines


def _digest(*parts: object) -> str:
    data = "\x1f".join(map(str, parts))
    return hashlib.sha1(data.encode()).hexdigest()[:16]  # noqa: S324 - a fingerprint


_FACTS: dict[tuple[int, str], Facts] = {}
_FACTS_LIMIT = 20_000


def facts(text: str, section: page.RequestSection, vocab: page.Vocabulary) -> Facts:
    """The provenance facts of one section of a parsed text (cached by its exact text)."""
    raw = text[section.start : section.end]
    key = (id(vocab), raw)
    found = _FACTS.get(key)
    if found is None:
        found = _read(raw, section, vocab)
        if len(_FACTS) >= _FACTS_LIMIT:
            _FACTS.clear()
        _FACTS[key] = found
    return found


_SECTIONS: dict[tuple[int, str, int | None], Facts | None] = {}


def request_facts(text: str, vocab: page.Vocabulary) -> list[Facts]:
    """The facts of each request section of `text`, in page order (as ``page.parse``
    orders them); a section text met before in this process costs a dictionary look-up."""
    masked, unclosed = page.mask(text)
    found = []
    for section in page._sections(text, masked):
        hidden = None
        if unclosed is not None and section.end == len(text):
            hidden = unclosed - section.start
        key = (id(vocab), text[section.start : section.end], hidden)
        if key in _SECTIONS:
            known = _SECTIONS[key]
        else:
            parsed = page._cached_request(text, masked, section, vocab, unclosed)
            request = parsed.template_count or page._prefixed(section.heading, vocab)
            known = facts(text, parsed, vocab) if request else None
            if len(_SECTIONS) >= _FACTS_LIMIT:
                _SECTIONS.clear()
            _SECTIONS[key] = known
        if known is not None:
            found.append(known)
    return found


def _read(raw: str, section: page.RequestSection, vocab: page.Vocabulary) -> Facts:
    masked, _ = page.mask(raw)
    body = raw.find("\n") + 1 if "\n" in raw else len(raw)
    tokens: list[str] = []
    lines: list[tuple[str, str]] = []
    status_spans: list[tuple[int, int]] = []
    seen: dict[str, int] = {}
    pos = body
    while pos < len(raw):
        end = raw.find("\n", pos)
        end = len(raw) if end < 0 else end
        shown = masked[pos:end]
        if vocab._status_re.search(shown) or _MARKUP.search(shown):
            line = raw[pos:end].rstrip()
            seen[line] = seen.get(line, 0) + 1
            token = _digest("s", line, seen[line])
            tokens.append(token)
            lines.append((token, line))
            status_spans.append((pos, end))
        pos = end + 1
    decisions: dict[tuple[str, int], str] = {}
    counts: dict[tuple[str, str], int] = {}
    searched: dict[str, int] = {}
    for decision in section.decisions:
        context = _context(raw, masked, decision.wikitext, searched, status_spans)
        counts[(decision.wikitext, context)] = counts.get((decision.wikitext, context), 0) + 1
        token = _digest("d", decision.wikitext, context, counts[(decision.wikitext, context)])
        tokens.append(token)
        decisions[(decision.wikitext, decision.ordinal)] = token
    below = raw[body:].strip()
    shape = sorted(
        {f"{zlib.crc32(x.strip().encode()):08x}" for x in below.splitlines() if x.strip()}
    )
    return Facts(
        _digest(raw.rstrip()),
        section.heading,
        _digest(below) if below else "",
        tuple(shape[:LINES_KEPT]),
        tuple(tokens),
        decisions,
        tuple(lines),
    )


def _context(
    raw: str,
    masked: str,
    wikitext: str,
    searched: dict[str, int],
    status_spans: Sequence[tuple[int, int]],
) -> str:
    """The line(s) holding the next live occurrence of `wikitext`: a decision's place.

    The line (with its signature) is what tells an admin's re-added approve from an old
    one brought back: a restore brings back the whole line, a new decision writes a new
    one. Occurrences in comments, nowiki or status lines are not decisions.
    """
    for haystack in (masked, raw):
        at = searched.get(wikitext, 0)
        while (found := haystack.find(wikitext, at)) >= 0:
            at = found + 1
            if any(s <= found < e for s, e in status_spans):
                continue
            searched[wikitext] = at
            start = raw.rfind("\n", 0, found) + 1
            end = raw.find("\n", found + len(wikitext))
            return raw[start : len(raw) if end < 0 else end].strip()
    return ""


class PageHistory:
    """The walk's state for one page: JSON-serialisable, advanced revision by revision."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        data = data if data and data.get("v") == VERSION else {}
        self.cursor: int = int(data.get("cursor", 0))
        # live sections of the last revision, in page order: [identity, digest]
        self.live: list[list[str]] = data.get("live", [])
        # every request-section text seen:
        # digest -> [first identity, heading, body digest, tokens, line digests]
        self.versions: dict[str, list[Any]] = data.get("versions", {})
        # the first identity seen with a given text below the heading
        self.by_body: dict[str, str] = data.get("by_body", {})
        # identity -> {"o": [revid, user, timestamp], "t": {token: [revid, user]}}
        self.identities: dict[str, dict[str, Any]] = data.get("identities", {})
        self.sha1s: set[str] = set(data.get("sha1s", []))
        self.layouts: dict[str, list[str]] = data.get("layouts", {})

    def to_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "cursor": self.cursor,
            "live": self.live,
            "versions": self.versions,
            "by_body": self.by_body,
            "identities": self.identities,
            "sha1s": sorted(self.sha1s),
            "layouts": self.layouts,
        }

    # -- reading the answer --------------------------------------------------------

    def current(self) -> list[str]:
        """The identities of the last revision's request sections, in page order."""
        return [identity for identity, _ in self.live]

    def origin(self, identity: str) -> Origin | None:
        entry = self.identities.get(identity)
        if entry is None:
            return None
        revid, user, timestamp = entry["o"]
        return Origin(revid, user, timestamp)

    def token_origin(self, identity: str, token: str) -> Origin | None:
        entry = self.identities.get(identity)
        found = entry["t"].get(token) if entry else None
        return Origin(found[0], found[1]) if found else None

    # -- walking -------------------------------------------------------------------

    def needs_text(self, sha1: str) -> bool:
        """Whether a revision's text must be fetched (its content is not remembered)."""
        return not sha1 or _short(sha1) not in self.layouts

    def advance(
        self,
        revision: Revision,
        vocab: page.Vocabulary = page.DEFAULT_VOCABULARY,
        *,
        clerk: str = "",
    ) -> None:
        """Take one revision (newer than the cursor) into the state.

        `clerk` is the bot's own account: it never reverts, so its revisions author what
        is new in them even when MediaWiki tags one as a revert (the same replies saved
        again within a minute give a text the page had before).
        """
        if revision.revid <= self.cursor:
            return
        sha1 = _short(revision.sha1) if revision.sha1 else ""
        restoring = bool(sha1 and sha1 in self.sha1s) or bool(REVERT_TAGS & set(revision.tags))
        author = "" if restoring and revision.user != clerk else revision.user
        if revision.text is not None:
            sections = request_facts(revision.text, vocab)
            for found in sections:
                if found.digest not in self.versions:
                    self.versions[found.digest] = [
                        "",
                        found.heading,
                        found.body,
                        list(found.tokens),
                        list(found.shape),
                    ]
            layout = [f.digest for f in sections]
        elif sha1 in self.layouts:
            layout = self.layouts[sha1]
        else:  # hidden text: nothing can be said about this revision
            self.cursor = revision.revid
            return
        matched = self._match(layout)
        live: list[list[str]] = []
        fresh = 0
        for digest, identity in zip(layout, matched, strict=True):
            version = self.versions[digest]
            if identity is None:
                fresh += 1
                identity = f"{revision.revid}.{fresh}"
                self.identities[identity] = {
                    "o": [revision.revid, author, revision.timestamp],
                    "t": {},
                }
            if not version[0]:
                version[0] = identity
            if version[2]:
                self.by_body.setdefault(version[2], identity)
            tokens = self.identities[identity]["t"]
            for token in version[3]:
                if token not in tokens:
                    tokens[token] = [revision.revid, author]
            live.append([identity, digest])
        self.live = live
        self.cursor = revision.revid
        if sha1:
            self.sha1s.add(sha1)
            self.layouts.pop(sha1, None)
            self.layouts[sha1] = layout
            while len(self.layouts) > LAYOUTS_KEPT:
                del self.layouts[next(iter(self.layouts))]

    def _match(self, layout: Sequence[str]) -> list[str | None]:
        """The identity of each section of a new revision, None for a new request."""
        matched: list[str | None] = [None] * len(layout)
        free = {identity: digest for identity, digest in self.live}

        def take(index: int, identity: str) -> None:
            matched[index] = identity
            free.pop(identity, None)
            taken.add(identity)

        taken: set[str] = set()
        # 1. the same text, in page order (a copy finds its original already taken)
        by_digest: dict[str, list[str]] = {}
        for identity, digest in self.live:
            by_digest.setdefault(digest, []).append(identity)
        for index, digest in enumerate(layout):
            if by_digest.get(digest):
                take(index, by_digest[digest].pop(0))
        # 2. an edited live request: the same text under a new heading; the same heading
        # over mostly the same lines; or most lines the same. Request fields alone say
        # nothing: two requests may well ask for the same thing in the same words.
        # Candidates are looked up by body and by heading; comparing every pair is kept
        # for the few sections left (a bot's save touches every section, under the same
        # headings: that must not cost a million comparisons).
        by_body: dict[str, list[str]] = {}
        by_heading: dict[str, list[str]] = {}
        for identity, old_digest in free.items():
            old = self.versions[old_digest]
            if old[2]:
                by_body.setdefault(old[2], []).append(identity)
            by_heading.setdefault(old[1], []).append(identity)
        shapes: dict[str, frozenset[str]] = {}

        def shape(digest: str) -> frozenset[str]:
            if digest not in shapes:
                shapes[digest] = frozenset(self.versions[digest][4])
            return shapes[digest]

        def best_of(index: int, candidates: Iterable[str], threshold: float) -> bool:
            mine = shape(layout[index])
            best, score = "", 0.0
            for identity in candidates:
                if identity not in free:
                    continue
                alike = _similarity(mine, shape(free[identity]))
                if alike >= threshold and alike > score:
                    best, score = identity, alike
            if best:
                take(index, best)
            return bool(best)

        left = []
        for index, digest in enumerate(layout):
            if matched[index] is not None:
                continue
            new = self.versions[digest]
            same_body = [i for i in by_body.get(new[2], ()) if i in free] if new[2] else []
            if same_body:
                take(index, same_body[0])
            elif not best_of(index, by_heading.get(new[1], ()), SAME_HEADING):
                left.append(index)
        if left and len(left) * len(free) <= PAIRS_COMPARED:
            for index in left:
                best_of(index, list(free), RENAMED)
        # 3. a request seen before and gone (a restore): the same text, or the same text
        # under another heading
        live_now = {identity for identity, _ in self.live}
        for index, digest in enumerate(layout):
            if matched[index] is not None:
                continue
            version = self.versions[digest]
            for identity in (version[0], self.by_body.get(version[2], "") if version[2] else ""):
                if identity and identity not in live_now and identity not in taken:
                    take(index, identity)
                    break
        return matched


def walk(
    state: PageHistory,
    revisions: Iterable[Revision],
    vocab: page.Vocabulary = page.DEFAULT_VOCABULARY,
) -> PageHistory:
    """Advance `state` through `revisions` (oldest first); returns it for convenience."""
    for revision in revisions:
        state.advance(revision, vocab)
    return state


def _similarity(one: frozenset[str], other: frozenset[str]) -> float:
    """The share of distinct lines two section texts have in common (Jaccard)."""
    if not one or not other:
        return 0.0
    return len(one & other) / len(one | other)


def _short(sha1: str) -> str:
    return sha1[:16]


def sha1_of(text: str) -> str:
    """The sha1 MediaWiki reports for a revision's text (hex)."""
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - MediaWiki's own digest
