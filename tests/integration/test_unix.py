"""The Unix backend under a throwaway root (`useradd --prefix`): the machine's /etc is
never touched; keys are written without following links a member could plant."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from provisioning.backend import NameTakenError, ProvisioningError
from provisioning.names import NamingError
from provisioning.unix import UnixBackend
from tests.integration.unixroot import unix_root

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq7wDgO5m3m0n8rHj1bQ2pQ1pC2yq1zQ0S6c1VfQ9x1"
KEY2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB2dFh0eKJb3yQb2m9o2fWn8i0pXc5Q0v8ZpYk3wTnqz"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return unix_root(tmp_path)


def passwd(root: Path) -> list[list[str]]:
    return [line.split(":") for line in (root / "etc" / "passwd").read_text().splitlines()]


def test_a_person_gets_a_user_group_home_and_keys(root: Path) -> None:
    host_passwd = Path("/etc/passwd").read_bytes()
    unix = UnixBackend(root)
    account = unix.create_person("Jürgen Müller", "jurgen-muller", [KEY])
    assert (account.uid, account.gid, account.owner) == (10000, 10000, "Jürgen Müller")
    assert passwd(root)[-1][:4] == ["jurgen-muller", "x", "10000", "10000"]
    home = root / "home" / "jurgen-muller"
    ssh, keys = home / ".ssh", home / ".ssh" / "authorized_keys"
    assert keys.read_text() == KEY + "\n"
    assert stat.S_IMODE(ssh.stat().st_mode) == 0o700
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    if os.geteuid() == 0:
        assert (keys.stat().st_uid, ssh.stat().st_uid, home.stat().st_uid) == (10000,) * 3
    assert Path("/etc/passwd").read_bytes() == host_passwd  # the machine is untouched

    assert unix.create_person("Jürgen Müller", "jurgen-muller", [KEY]) == account
    assert [u[0] for u in passwd(root)].count("jurgen-muller") == 1
    unix.set_keys("jurgen-muller", [KEY, KEY2])
    assert keys.read_text() == f"{KEY}\n{KEY2}\n"


def test_homes_are_not_readable_by_other_members(root: Path) -> None:
    UnixBackend(root).create_person("Jane Doe", "jane", [KEY])
    assert stat.S_IMODE((root / "home" / "jane").stat().st_mode) == 0o750
    UnixBackend(root, home_mode=0o700).create_person("John Roe", "john", [])
    assert stat.S_IMODE((root / "home" / "john").stat().st_mode) == 0o700


def test_suspend_and_restore(root: Path) -> None:
    unix = UnixBackend(root)
    unix.create_person("Jane", "jane", [KEY])
    unix.suspend("jane")
    unix.suspend("jane")
    ssh = root / "home" / "jane" / ".ssh"
    assert not (ssh / "authorized_keys").exists()
    assert (ssh / "authorized_keys.ats-suspended").read_text() == KEY + "\n"
    assert passwd(root)[-1][6] == "/usr/sbin/nologin"
    shadow = (root / "etc" / "shadow").read_text().splitlines()[-1].split(":")
    assert shadow[7] == "1"  # expired on 1970-01-02
    assert unix.describe("jane").suspended  # type: ignore[union-attr]
    unix.restore("jane")
    unix.restore("jane")
    assert (ssh / "authorized_keys").read_text() == KEY + "\n"
    assert not (ssh / "authorized_keys.ats-suspended").exists()
    assert passwd(root)[-1][6] == "/bin/bash"
    assert (root / "etc" / "shadow").read_text().splitlines()[-1].split(":")[7] == ""


def test_a_tool_user_and_group_with_its_maintainers(root: Path) -> None:
    unix = UnixBackend(root)
    unix.create_person("Jane", "jane", [KEY])
    unix.create_person("Bob", "bob", [KEY2])
    tool = unix.create_tool("citation-bot", ["jane"])
    assert tool.members == ("jane",) and tool.home == "/data/project/citation-bot"
    groups = (root / "etc" / "group").read_text()
    assert f"tools.citation-bot:x:{tool.gid}:jane\n" in groups
    assert unix.create_tool("citation-bot", ["jane", "bob"]).members == ("bob", "jane")
    assert [u[0] for u in passwd(root)].count("tools.citation-bot") == 1


def test_collisions_and_names_not_ours(root: Path) -> None:
    unix = UnixBackend(root)
    unix.create_person("Jürgen", "jurgen", [KEY])
    with pytest.raises(NameTakenError, match="already held by 'Jürgen'"):
        unix.create_person("Jurgen", "jurgen", [])
    with pytest.raises(NameTakenError, match="already has the shell account"):
        unix.create_person("Jürgen", "jurgen2", [])
    with (root / "etc" / "passwd").open("a") as handle:
        handle.write("alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n")
    with pytest.raises(NameTakenError, match="not made by this system"):
        unix.create_person("Alice", "alice", [KEY])


@pytest.mark.parametrize("name", ["../../etc", "../x", "a/b", "x/../../y", ".", "Root", "root"])
def test_names_that_could_escape_the_root_are_refused(root: Path, name: str) -> None:
    unix = UnixBackend(root)
    before = (root / "etc" / "passwd").read_text()
    with pytest.raises(NamingError):
        unix.create_person("Someone", name, [KEY])
    with pytest.raises(NamingError):
        unix.set_keys(name, [KEY])
    assert (root / "etc" / "passwd").read_text() == before


def test_a_symlinked_ssh_directory_is_not_followed(root: Path, tmp_path: Path) -> None:
    unix = UnixBackend(root)
    unix.create_person("Mallory", "mallory", [KEY])
    outside = tmp_path / "outside"
    outside.mkdir()
    ssh = root / "home" / "mallory" / ".ssh"
    shutil.rmtree(ssh)
    ssh.symlink_to(outside)  # the member points .ssh somewhere else
    with pytest.raises(ProvisioningError, match="symbolic link"):
        unix.set_keys("mallory", [KEY2])
    assert list(outside.iterdir()) == []


def test_a_symlinked_authorized_keys_is_replaced_not_followed(root: Path, tmp_path: Path) -> None:
    unix = UnixBackend(root)
    unix.create_person("Mallory", "mallory", [KEY])
    target = tmp_path / "precious"
    target.write_text("do not overwrite\n")
    keys = root / "home" / "mallory" / ".ssh" / "authorized_keys"
    keys.unlink()
    keys.symlink_to(target)
    unix.set_keys("mallory", [KEY2])
    assert target.read_text() == "do not overwrite\n"
    assert not keys.is_symlink() and keys.read_text() == KEY2 + "\n"


def test_a_symlinked_home_is_not_followed(root: Path, tmp_path: Path) -> None:
    unix = UnixBackend(root)
    unix.create_person("Mallory", "mallory", [KEY])
    home = root / "home" / "mallory"
    shutil.rmtree(home)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    home.symlink_to(outside)
    with pytest.raises(ProvisioningError, match="symbolic link"):
        unix.set_keys("mallory", [KEY2])
    assert list(outside.iterdir()) == []


def test_a_root_without_etc_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProvisioningError, match="etc does not exist"):
        UnixBackend(tmp_path / "nowhere")
