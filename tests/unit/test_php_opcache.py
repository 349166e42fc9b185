"""The dev wiki's maintenance scripts keep compiled PHP in the user's own cache, and in no
folder another user could write to."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools.devwiki.php import opcache_options


def test_the_cache_is_a_private_folder_of_the_users_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    options = opcache_options()
    folder = tmp_path / "american-toolserver" / "php-opcache"
    assert f"opcache.file_cache={folder}" in options
    assert "opcache.enable_cli=1" in options
    assert folder.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("mode", [0o777, 0o770])
def test_a_folder_others_can_write_to_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "american-toolserver" / "php-opcache"
    folder.mkdir(parents=True)
    folder.chmod(mode)
    assert opcache_options() == []


def test_a_folder_of_another_user_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.getuid() != 0:
        pytest.fail("this check gives the folder to another user: run the tests as root")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "american-toolserver" / "php-opcache"
    folder.mkdir(parents=True, mode=0o700)
    os.chown(folder, 65534, 65534)
    assert opcache_options() == []


def test_a_link_in_its_place_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (tmp_path / "american-toolserver").mkdir()
    (tmp_path / "american-toolserver" / "php-opcache").symlink_to(elsewhere)
    assert opcache_options() == []
