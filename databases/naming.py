"""Names and secrets of the tool databases, as Wikimedia's ToolsDB makes them (pure).

An account's database user is `s` and its uid for a tool (ToolsDB's service users) and
`u` and its uid for a member; it may use every database whose name starts with the
user and two underscores (`s51234__wikidata`), which in a grant is the pattern
`s51234\\_\\_%` (the backslashes make `_` plain, not a wildcard). Only names of this
shape are ever put in an SQL statement, so nothing a member chose reaches one.

A password is 32 random characters (`secrets`); the server keeps only its
`mysql_native_password` hash (`*` and the upper-case hex of SHA-1 of SHA-1), which is
computed here: the password itself never travels to the server, so no statement, log
or binary log holds it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string

TOOL, PERSON = "tool", "person"
PREFIX = {TOOL: "s", PERSON: "u"}
USER = re.compile(r"[su][0-9]{1,10}")
NATIVE_HASH = re.compile(r"\*[0-9A-F]{40}")
PASSWORD_ALPHABET = string.ascii_letters + string.digits  # no quoting needed in an option file
PASSWORD_LENGTH = 32
SEPARATOR = "__"  # between the user and the database's own name


class NamingError(ValueError):
    """Not a name of the tool databases' shape (a bug: names come from the store)."""


def user_name(kind: str, uid: int) -> str:
    """The database user of an account: `s<uid>` for a tool, `u<uid>` for a member."""
    if kind not in PREFIX or uid < 0:
        raise NamingError(f"no database user for a {kind} with uid {uid}")
    return f"{PREFIX[kind]}{uid}"


def checked_user(user: str) -> str:
    """`user` when it has the shape of one of ours, else NamingError."""
    if not USER.fullmatch(user):
        raise NamingError(f"{user!r} is not a tool database user (s<uid> or u<uid>)")
    return user


def database_prefix(user: str) -> str:
    """What the names of the user's databases start with: `s51234__`."""
    return checked_user(user) + SEPARATOR


def grant_pattern(user: str) -> str:
    """The database pattern of the user's grant, as mysql.db keeps it: `s51234\\_\\_%`."""
    return checked_user(user) + "\\_\\_%"


def owner_of_database(name: str) -> str | None:
    """The user whose database this is (`s51234__x` → `s51234`), None for any other."""
    user, separator, rest = name.partition(SEPARATOR)
    return user if separator and rest and USER.fullmatch(user) else None


def new_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def native_hash(password: str) -> str:
    """The server's `mysql_native_password` hash of `password` (what PASSWORD() gives)."""
    inner = hashlib.sha1(password.encode()).digest()  # noqa: S324 - MariaDB's own scheme
    return "*" + hashlib.sha1(inner).hexdigest().upper()  # noqa: S324


def checked_hash(value: str) -> str:
    if not NATIVE_HASH.fullmatch(value):
        raise NamingError("not a mysql_native_password hash")
    return value


def quoted_identifier(name: str) -> str:
    """`name` between backticks (a backtick in it doubled)."""
    return "`" + name.replace("`", "``") + "`"
