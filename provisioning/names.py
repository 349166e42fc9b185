"""Shell names: the Unix login a wiki username gets, and the rules every name obeys.

Pure. `shell_name` derives a name from a wiki username: NFKC, lower case, spaces and
underscores as '-', Latin letters with accents reduced to their base letter (plus a
few letters that do not decompose, such as ß and ø), punctuation and symbols dropped.
A letter or digit of any other script makes the name impossible to derive — it is
never dropped silently — so a username written with a look-alike (a Cyrillic 'а' in
place of a Latin 'a') cannot turn into someone else's name; the admin is asked to
give the name explicitly instead. `check_name` validates a name given explicitly.
Collisions between two wiki users who derive the same name are found by the backend,
which knows who holds each name.
"""

from __future__ import annotations

import re
import unicodedata

from policies.errors import Refusal
from policies.requests import RESERVED_NAMES

SHELL_NAME = re.compile(r"^[a-z][-a-z0-9]{0,30}[a-z0-9]$")
MAX_LENGTH = 32

# Latin letters that have no decomposition into a base letter and an accent.
_LATIN_EXTRA = {
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ı": "i",
    "ħ": "h",
    "ŧ": "t",
    "ŋ": "n",
}


class NamingError(Refusal, ValueError):
    """No valid shell name can be used; the message says what the admin should do."""


def shell_name(wiki_user: str) -> str:
    """The shell name for `wiki_user`, or NamingError saying how to give one explicitly."""
    text = unicodedata.normalize("NFKC", wiki_user).strip().lower()
    out: list[str] = []
    for char in text:
        out.append(_ascii(char, wiki_user))
    name = re.sub(r"-{2,}", "-", "".join(out)).strip("-")
    if not name:
        raise NamingError(
            f"no shell name can be made from the wiki username {wiki_user!r}; "
            "give one explicitly (lower-case ASCII letters, digits and '-')"
        )
    return check_name(name, wiki_user=wiki_user)


def check_name(name: str, *, wiki_user: str | None = None) -> str:
    """`name` itself if it is a valid, unreserved shell name; NamingError otherwise."""
    origin = f" (made from the wiki username {wiki_user!r})" if wiki_user is not None else ""
    explicit = "; give a shell name explicitly" if wiki_user is not None else ""
    if len(name) > MAX_LENGTH:
        raise NamingError(
            f"the shell name {name[:40]!r}…{origin} is longer than {MAX_LENGTH} characters"
            f"{explicit or '; choose a shorter one'}"
        )
    # fullmatch: with match, '$' would also accept the name followed by a newline.
    if not SHELL_NAME.fullmatch(name):
        raise NamingError(
            f"{name!r}{origin} is not a valid shell name: it must be 2 to {MAX_LENGTH} "
            "characters, lower-case ASCII letters, digits and '-', start with a letter "
            f"and not end with '-'{explicit}"
        )
    if name in RESERVED_NAMES:
        raise NamingError(f"the shell name {name!r}{origin} is reserved{explicit}")
    return name


def _ascii(char: str, wiki_user: str) -> str:
    if "a" <= char <= "z" or "0" <= char <= "9" or char == "-":
        return char
    if char in " _\t":
        return "-"
    if char in _LATIN_EXTRA:
        return _LATIN_EXTRA[char]
    category = unicodedata.category(char)
    if category[0] in "LN":
        base = [c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)]
        if base and all("a" <= c <= "z" or "0" <= c <= "9" for c in base) and _is_latin(char):
            return "".join(base)
        raise NamingError(
            f"the wiki username {wiki_user!r} contains {char!r} "
            f"({unicodedata.name(char, f'U+{ord(char):04X}')}), which has no ASCII "
            "spelling; give a shell name explicitly (lower-case ASCII letters, digits "
            "and '-')"
        )
    if category[0] == "M":
        return ""  # a combining mark left by NFKC on an ASCII letter
    return "-"  # punctuation, symbols and other separators


def _is_latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN ")
