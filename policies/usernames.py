"""Which strings can be a MediaWiki username: the rule every hand-typed name must pass.

Pure. It follows MediaWiki's own checks (`UserNameUtils::getCanonical`, `isValid`
and the default `$wgInvalidUsernameCharacters` of `isCreatable`, as of 1.39): a name is
first normalised the way a title is (underscores and MediaWiki's whitespace characters
become one space, none at either end, the first letter upper-case), then refused when
it is empty, an IP address, longer than 255 bytes, holds a character no title may hold
(`# < > [ ] | { }`, control characters), a `/` (it would name a subpage of another
user's page, and `..` path tricks come through it), `:` or `@` (a namespace or
interwiki prefix, a BotPassword login name), a percent-encoded byte, an HTML entity,
`~~~`, or an invisible or private-use character. Names in any script, right-to-left
ones included, are valid. `valid_username` returns the canonical form or raises
`UsernameError` saying why.
"""

from __future__ import annotations

import re
import unicodedata

from policies.errors import Refusal

MAX_BYTES = 255  # $wgMaxNameChars: MediaWiki compares it with strlen(), so UTF-8 bytes

# Characters a title never holds (outside $wgLegalTitleChars), named for the message.
_ILLEGAL = {
    "#": "'#' (it starts a section link)",
    "<": "'<'",
    ">": "'>'",
    "[": "'['",
    "]": "']'",
    "{": "'{'",
    "}": "'}'",
    "|": "'|' (it separates a link's target from its text)",
    "/": "'/' (it would name a subpage of another user's page)",
    ":": "':' (it reads as a namespace or interwiki prefix)",
    "@": "'@' (MediaWiki refuses it in new names; a BotPassword login is Name@appid)",
}
# Title normalisation turns these into a single space (MediaWikiTitleCodec).
_SPACES = re.compile(r"[ _\u00a0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
# Stripped by title parsing (bidi marks and overrides), so the name would not survive it.
_BIDI = re.compile(r"[\u200e\u200f\u202a-\u202e]")
# isValid's "troublemaker" characters, beyond those normalised to spaces above.
_TROUBLE = re.compile(r"[\u0080-\u009f\u2000-\u200f\u2028-\u202f\ue000-\uf8ff]")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_ENTITY = re.compile(r"&[A-Za-z0-9\u0080-\U0010ffff]+;")
_BYTE = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|0?[0-9]?[0-9])"  # IPUtils' RE_IP_BYTE
_IPV4 = re.compile(rf"^{_BYTE}(?:\.{_BYTE}){{3}}$")
_IPV4_XXX = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.xxx$", re.IGNORECASE)  # isCreatable


class UsernameError(Refusal, ValueError):
    """Not a name MediaWiki can give an account; the message says why."""


def canonical_username(name: str) -> str:
    """MediaWiki's form of a username: underscores as spaces, first letter upper-case."""
    name = " ".join(name.replace("_", " ").split())
    return name[:1].upper() + name[1:]


def valid_username(name: str) -> str:
    """The canonical form of `name` (as MediaWiki stores it), or UsernameError."""
    problem = username_problem(name)
    if problem:
        raise UsernameError(f"{_shown(name)} is not a valid wiki username: {problem}")
    return _canonical(name)


def username_problem(name: str) -> str | None:
    """Why `name` cannot be a MediaWiki username, or None when it can."""
    if "\ufffd" in name or any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        return "it is not valid Unicode text"
    for char in name:
        if unicodedata.category(char) == "Cc":
            return f"it contains the control character U+{ord(char):04X}"
        if char in _ILLEGAL:
            return f"it contains {_ILLEGAL[char]}"
    if _BIDI.search(name):
        char = _BIDI.search(name).group()  # type: ignore[union-attr]
        return f"it contains the invisible formatting character U+{ord(char):04X}"
    canonical = _canonical(name)
    if not canonical:
        return "it is empty"
    if _TROUBLE.search(canonical):
        char = _TROUBLE.search(canonical).group()  # type: ignore[union-attr]
        return f"it contains the invisible or private-use character U+{ord(char):04X}"
    if len(canonical.encode("utf-8")) > MAX_BYTES:
        return f"it is longer than {MAX_BYTES} bytes"
    if _IPV4.match(canonical) or _IPV4_XXX.match(canonical):
        return "it is an IP address (edits from an IP address have no account)"
    if canonical in (".", ".."):
        return "it is a relative path, not a name"
    if _PERCENT.search(canonical):
        return "it contains a percent-encoded byte (write the character itself)"
    if _ENTITY.search(canonical):
        return "it contains an HTML entity (write the character itself)"
    if "~~~" in canonical:
        return "it contains '~~~', which the wiki turns into a signature"
    return None


def _canonical(name: str) -> str:
    name = _SPACES.sub(" ", name).strip(" ")
    return name[:1].upper() + name[1:]


def _shown(name: str) -> str:
    text = name if len(name) <= 60 else name[:60] + "…"
    return repr(text)
