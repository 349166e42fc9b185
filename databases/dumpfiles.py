"""The tool databases' backup files by name (pure): one compressed dump per database,
named for the account, the database and the moment it was taken
(`mytool.s51234__data.20250301T031500Z.sql.gz`), and which of them a backup prunes.

A database's name may hold any character its account chose (MariaDB takes almost
anything between backticks), so in a file name every byte but ASCII letters, digits, `_`
and `-` of its UTF-8 is written `%XX`: a name never holds a `/` or a `.` of its own,
never starts with a dot, and reads back exactly. A name too long for a file (over 255
bytes, from a 64-character name of emoji) is written as its account's prefix and a hash
(`s51234__~3f2a…`); such a file restores only with `--into`. A file is made under a
hidden staging name (`.NAME.partial`) and renamed once whole, so every file under a
final name is a whole dump.

Pruning keeps, for each database, the `keep` newest files (0: no count), and takes away
those older than `max_age` (None: no age), except the newest of a database that still
exists: a backup that failed for days never leaves a database without one. The
backups of a database that was dropped go by age alone.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from databases.naming import SEPARATOR, owner_of_database

SUFFIX = ".sql.gz"
STAGING = ".partial"
STAMP = "%Y%m%dT%H%M%SZ"
MAX_NAME_BYTES = 255  # what a file name may hold on Linux's file systems
HASHED = "~"  # marks a database written as a hash (never made by the encoding: `%7E`)
PLAIN = re.compile(rb"[A-Za-z0-9_-]")
ACCOUNT = re.compile(r"[a-z0-9][-a-z0-9]*")
NAME = re.compile(r"^([a-z0-9][-a-z0-9]*)\.([A-Za-z0-9_%~-]+)\.([0-9]{8}T[0-9]{6}Z)\.sql\.gz$")


@dataclass(frozen=True)
class DumpFile:
    """A backup file, as its name says."""

    account: str  # the tool's or member's name (the database user for one the store lost)
    key: str  # the database as its name is written (what pruning groups by)
    at: datetime  # when the dump began, UTC, to the second

    @property
    def name(self) -> str:
        return f"{self.account}.{self.key}.{self.at.strftime(STAMP)}{SUFFIX}"

    @property
    def database(self) -> str:
        """The database's name; "" when only its hash is written (give `--into`)."""
        return "" if HASHED in self.key else decode(self.key)

    @property
    def owner(self) -> str:
        """The database user whose database it is (`s51234`)."""
        return self.key.split(SEPARATOR, 1)[0]


def dump_file(account: str, database: str, at: datetime) -> DumpFile:
    """The file a dump of `database` (of `account`) begun at `at` is written to."""
    owner = owner_of_database(database)
    if owner is None:
        raise ValueError(f"{database!r} is not a database of a tool or member")
    if not ACCOUNT.fullmatch(account):
        account = owner  # a name of another shape than provisioning gives: the user's
    made = DumpFile(account, key_of(database), at.astimezone(UTC).replace(microsecond=0))
    if len(made.name.encode()) > MAX_NAME_BYTES:
        return DumpFile(made.account, hashed_key(database), made.at)
    return made


def key_of(database: str) -> str:
    """`database` as a file name writes it (see the module's docstring)."""
    return "".join(
        chr(byte) if PLAIN.fullmatch(bytes([byte])) else f"%{byte:02X}"
        for byte in database.encode()
    )


def hashed_key(database: str) -> str:
    owner = owner_of_database(database) or ""
    digest = hashlib.sha256(database.encode()).hexdigest()[:24]
    return f"{owner}{SEPARATOR}{HASHED}{digest}"


def decode(key: str) -> str:
    raw = bytearray()
    index = 0
    while index < len(key):
        if key[index] == "%":
            raw.append(int(key[index + 1 : index + 3], 16))
            index += 3
        else:
            raw.append(ord(key[index]))
            index += 1
    return raw.decode()


def parse(name: str) -> DumpFile | None:
    """The backup file `name` stands for; None for any other name (never ours to touch)."""
    found = NAME.match(name)
    if not found:
        return None
    account, key, stamp = found.groups()
    try:
        at = datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)
        if HASHED not in key and key_of(decode(key)) != key:
            return None  # not as this module writes it
    except (ValueError, UnicodeDecodeError):
        return None
    if owner_of_database(key.replace(HASHED, "x")) is None:
        return None
    return DumpFile(account, key, at)


def staging_name(name: str) -> str:
    """Where a dump is written before it is whole: hidden, never a backup's name."""
    return f".{name}{STAGING}"


def is_staging(name: str) -> bool:
    return name.startswith(".") and name.endswith(SUFFIX + STAGING)


def to_prune(
    files: Iterable[DumpFile],
    *,
    keep: int,
    max_age: timedelta | None,
    now: datetime,
    existing: Collection[str],
) -> list[DumpFile]:
    """The files a backup takes away (see the module's docstring); `existing` holds the
    keys (`key_of`) of the databases the server has now."""
    by_key: dict[str, list[DumpFile]] = defaultdict(list)
    for item in files:
        by_key[item.key].append(item)
    pruned = []
    for key, group in sorted(by_key.items()):
        group.sort(key=lambda item: item.at, reverse=True)
        for index, item in enumerate(group):
            beyond_count = keep > 0 and index >= keep
            too_old = max_age is not None and now - item.at > max_age
            kept_last = index == 0 and key in existing
            if beyond_count or (too_old and not kept_last):
                pruned.append(item)
    return pruned
