"""Copying a built wiki (or a farm) to another folder and other ports, instead of building
it again: installing, loading an extension and seeding take a minute of PHP; a copy takes
a second. The test suite builds each kind once per run and gives every worker a copy.

A wiki knows its folder and its address in a few places only: its settings
(``conf/LocalSettings.php``: the SQLite folder, the cache, the logs, the OAuth keys,
``$wgServer``, a farm's cookie prefixes) and its state file (the port). The copy writes
them anew; the databases hold no path and no address, but their object cache (parsed
pages, sessions) is emptied, so nothing rendered for the old address is served. Logs
and the server's pid are not copied. A copy must come from a stopped wiki: SQLite files
are only consistent at rest.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from devtools.devwiki.php import DevWikiError

# Files that name the wiki's folder or address and are rewritten; the rest are copied.
SETTINGS_SUFFIXES = (".php", ".json")
NOT_COPIED = ("*.log", "*.tmp", "*.pid")


def copy_tree(source: Path, target: Path, replacements: Sequence[tuple[str, str]]) -> None:
    """Copy the stopped wiki or farm in ``source`` to ``target`` (which must not exist),
    replacing each ``old`` by its ``new`` in the settings and state files; raises
    ``DevWikiError`` if an old value is still in one of them afterwards."""
    source, target = source.resolve(), target.resolve()
    if target.exists() and any(target.iterdir()):
        raise DevWikiError(f"{target} is not empty: a wiki is copied into a new folder")
    if target.exists():
        target.rmdir()
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(*NOT_COPIED))
    changes = [(str(source), str(target)), *replacements]
    for path in sorted(target.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.suffix not in SETTINGS_SUFFIXES:
            continue
        text = path.read_text(encoding="utf-8")
        for old, new in changes:
            text = text.replace(old, new)
        left = [old for old, _ in changes if old in text]
        if left:
            raise DevWikiError(f"{path} still names {left[0]!r} after the copy")
        path.write_text(text, encoding="utf-8")
    for database in sorted(target.rglob("*.sqlite")):
        _forget_cache(database)


def _forget_cache(database: Path) -> None:
    with contextlib.closing(sqlite3.connect(database, timeout=30)) as db, db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "objectcache" in tables:
            db.execute("DELETE FROM objectcache")
