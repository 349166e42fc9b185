"""Copying a built wiki: its folder and address are written anew where the wiki names
them, its logs stay behind, its object cache is emptied, and nothing of the old folder
or address is left in its settings."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from devtools.devwiki.copying import copy_tree
from devtools.devwiki.php import DevWikiError


def built(root: Path, port: int) -> Path:
    (root / "conf").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "conf" / "LocalSettings.php").write_text(
        f'$wgServer = "http://127.0.0.1:{port}";\n'
        f'$wgSQLiteDataDir = "{root}/data";\n'
        f"$wgCookiePrefix = 'metawiki{port}';\n"
    )
    (root / "devwiki.json").write_text(f'{{"keys": "{root}/oauth2.key"}}\n')
    (root / "server.log").write_text("GET /api.php\n")
    with contextlib.closing(sqlite3.connect(root / "data" / "devwiki.sqlite")) as db, db:
        db.execute("CREATE TABLE objectcache (keyname TEXT, value BLOB)")
        db.execute("INSERT INTO objectcache VALUES ('page', 'http://127.0.0.1:1')")
        db.execute("CREATE TABLE page (title TEXT)")
        db.execute("INSERT INTO page VALUES ('Main Page')")
    return root


def test_the_copy_names_its_own_folder_and_address(tmp_path: Path) -> None:
    source = built(tmp_path / "built", 21001)
    target = tmp_path / "copy"
    copy_tree(
        source,
        target,
        [("127.0.0.1:21001", "127.0.0.1:22002"), ("'metawiki21001'", "'metawiki22002'")],
    )
    settings = (target / "conf" / "LocalSettings.php").read_text()
    assert "127.0.0.1:22002" in settings and f"{target.resolve()}/data" in settings
    assert "'metawiki22002'" in settings
    assert str(source) not in settings and "21001" not in settings
    assert f"{target.resolve()}/oauth2.key" in (target / "devwiki.json").read_text()
    assert not (target / "server.log").exists()
    with contextlib.closing(sqlite3.connect(target / "data" / "devwiki.sqlite")) as db:
        assert db.execute("SELECT count(*) FROM objectcache").fetchone() == (0,)
        assert db.execute("SELECT title FROM page").fetchall() == [("Main Page",)]
    assert "21001" in (source / "conf" / "LocalSettings.php").read_text()  # untouched


def test_a_value_left_behind_refuses_the_copy(tmp_path: Path) -> None:
    source = built(tmp_path / "built", 21001)
    # A "new" value that still holds the old one cannot give the copy an address of its own.
    with pytest.raises(DevWikiError, match="still names"):
        copy_tree(source, tmp_path / "copy", [("127.0.0.1:21001", "127.0.0.1:21001")])


def test_a_copy_goes_into_a_new_folder(tmp_path: Path) -> None:
    source = built(tmp_path / "built", 21001)
    target = tmp_path / "copy"
    target.mkdir()
    (target / "something").write_text("kept")
    with pytest.raises(DevWikiError, match="not empty"):
        copy_tree(source, target, [])
    assert (target / "something").read_text() == "kept"
