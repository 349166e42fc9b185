"""Tool accounts as on Toolforge, against a real slapd with the sudo schema and the
Unix backend under a throwaway root: the service user and group `tools.NAME`, the
maintainers in the group, the sudo rule that is `become`, the tool's home; converging
when repeated, a suspended maintainer leaving the group, drift reported and fixed, and
`ats provision tool` with its one-line errors."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from pathlib import Path

import ldap3
import pytest

from membership import accounts
from membership.store import Store
from provisioning.backend import ProvisioningError
from provisioning.become import sudoers_text
from provisioning.ldap import LdapBackend
from provisioning.reconcile import reconcile
from provisioning.unix import UnixBackend
from provisioning.worker import provision_person, provision_tool, run_once
from tests import forked_cli
from tests.integration.slapd import Slapd, ats_config
from tests.integration.unixroot import unix_root

ROLE = {
    "sudoUser": ["%tools.mytool"],
    "sudoHost": ["ALL"],
    "sudoRunAsUser": ["tools.mytool"],
    "sudoCommand": ["ALL"],
    "sudoOption": ["!authenticate"],
}


def _ldap(slapd: Slapd) -> LdapBackend:
    return LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password)


def _people(store: Store, backend, *names: str) -> None:
    for name in names:
        provision_person(store, backend, name, [])


def _role(slapd: Slapd) -> dict[str, list[str]]:
    found = slapd.search(f"ou=sudoers,{slapd.base_dn}", "(cn=tools.mytool)")
    assert len(found) == 1
    return {k: v for k, v in found[0].items() if k.startswith("sudo")}


def _members(slapd: Slapd) -> list[str]:
    found = slapd.search(f"ou=groups,{slapd.base_dn}", "(cn=tools.mytool)")
    return sorted(found[0].get("memberUid", []))


def _csns(slapd: Slapd) -> list[str]:
    conn = ldap3.Connection(slapd.url, slapd.root_dn, slapd.password, auto_bind=True)
    conn.search(slapd.base_dn, "(cn=tools.mytool)", attributes=["entryCSN"])
    out = sorted(str(item["attributes"]["entryCSN"]) for item in conn.response)
    conn.unbind()
    return out


def test_a_tool_is_user_group_and_become_rule_and_converges(slapd: Slapd, tmp_path: Path) -> None:
    store = Store(tmp_path / "ats.sqlite")
    ldap = _ldap(slapd)
    _people(store, ldap, "Alice", "Bob")
    alice = store.account_of("Alice")
    bob = store.account_of("Bob")
    assert alice is not None and bob is not None
    tool = provision_tool(store, ldap, "mytool", ["Alice", "bob"], by="test")
    # One allocator for people and tools: the next number, never one reused.
    assert tool.uid == tool.gid and tool.uid > max(alice.uid or 0, bob.uid or 0)
    assert tool.login == "tools.mytool" and tool.home == "/data/project/mytool"
    user = slapd.search(f"ou=tools,{slapd.base_dn}", "(uid=tools.mytool)")[0]
    assert user["uidNumber"] == user["gidNumber"] == [str(tool.uid)]
    assert _members(slapd) == ["alice", "bob"]
    assert _role(slapd) == ROLE
    before = _csns(slapd)
    again = provision_tool(store, ldap, "mytool", ["Alice", "Bob"], by="test")
    assert again == tool and _csns(slapd) == before  # nothing written the second time
    assert store.tool_maintainers_set("mytool") == ("Alice", "Bob")
    assert reconcile(store, ldap) == []
    # A later maintainer list replaces the earlier one.
    provision_tool(store, ldap, "mytool", ["Alice"], by="test")
    assert _members(slapd) == ["alice"]
    store.close()


def test_a_suspended_maintainer_leaves_the_group_and_comes_back(
    slapd: Slapd, tmp_path: Path
) -> None:
    store = Store(tmp_path / "ats.sqlite")
    ldap = _ldap(slapd)
    _people(store, ldap, "Alice", "Bob")
    provision_tool(store, ldap, "mytool", ["Alice", "Bob"], by="test")
    accounts.enqueue_suspend(store, "Bob", "membership lapsed")
    outcome = run_once(store, ldap)
    assert outcome is not None and outcome.ok, outcome
    assert _members(slapd) == ["alice"]  # `become` names the group: Bob's is gone
    assert _role(slapd) == ROLE
    assert reconcile(store, ldap) == []
    accounts.enqueue_restore(store, "Bob")
    outcome = run_once(store, ldap)
    assert outcome is not None and outcome.ok, outcome
    assert _members(slapd) == ["alice", "bob"]
    # A tool made while a maintainer is suspended leaves them out from the start.
    accounts.enqueue_suspend(store, "Bob", "membership lapsed")
    assert run_once(store, ldap) is not None
    other = provision_tool(store, ldap, "other", ["Alice", "Bob"], by="test")
    assert other.members == ("alice",)
    store.close()


def test_drift_in_group_and_become_rule_is_reported_and_fixed(slapd: Slapd, tmp_path: Path) -> None:
    store = Store(tmp_path / "ats.sqlite")
    ldap = _ldap(slapd)
    _people(store, ldap, "Alice", "Bob", "Carol")
    provision_tool(store, ldap, "mytool", ["Alice", "Bob"], by="test")
    conn = ldap3.Connection(slapd.url, slapd.root_dn, slapd.password, auto_bind=True)
    group = f"cn=tools.mytool,ou=groups,{slapd.base_dn}"
    role = f"cn=tools.mytool,ou=sudoers,{slapd.base_dn}"
    assert conn.modify(group, {"memberUid": [(ldap3.MODIFY_ADD, ["carol"])]})
    assert conn.modify(role, {"sudoUser": [(ldap3.MODIFY_REPLACE, ["ALL"])]})
    found = [d.line for d in reconcile(store, ldap)]
    assert found == [
        "tools.mytool: stray group member carol",
        "tools.mytool: become rule sudoUser is ALL, not %tools.mytool",
    ]
    assert conn.delete(role)
    assert [d.line for d in reconcile(store, ldap)][-1] == (
        "tools.mytool: become rule (sudoRole) missing"
    )
    conn.unbind()
    assert all(d.fixed for d in reconcile(store, ldap, fix=True))
    assert reconcile(store, ldap) == []
    assert _role(slapd) == ROLE and _members(slapd) == ["alice", "bob"]
    store.close()


def test_a_directory_without_the_sudo_schema_is_a_clear_permanent_error(
    tmp_path: Path,
) -> None:
    server = Slapd.start(sudo_schema=False)
    try:
        ldap = _ldap(server)
        with pytest.raises(ProvisioningError, match="load the sudo schema") as raised:
            ldap.create_tool("mytool", [])
        assert raised.value.permanent
    finally:
        server.stop()


def test_on_the_unix_backend_home_and_sudoers_drop_in(tmp_path: Path) -> None:
    root = unix_root(tmp_path)
    store = Store(tmp_path / "ats.sqlite")
    unix = UnixBackend(root, tool_home="/srv/tools/{name}")
    _people(store, unix, "Alice", "Bob")
    tool = provision_tool(store, unix, "mytool", ["Alice", "Bob"], by="test")
    assert tool.members == ("alice", "bob") and tool.home == "/srv/tools/mytool"
    home = os.stat(root / "srv" / "tools" / "mytool")
    assert stat.S_IMODE(home.st_mode) == 0o2770  # the group writes; setgid keeps it theirs
    if os.geteuid() == 0:
        assert (home.st_uid, home.st_gid) == (tool.uid, tool.gid)
    drop_in = root / "etc" / "sudoers.d" / "ats-tools-mytool"
    assert drop_in.read_text() == "".join(
        [
            "# Made by American Toolserver: members of the tool's group may become it.\n",
            "%tools.mytool ALL=(tools.mytool) NOPASSWD: ALL\n",
        ]
    )
    assert stat.S_IMODE(drop_in.stat().st_mode) == 0o440
    assert reconcile(store, unix) == []
    drop_in.chmod(0o640)
    drop_in.write_text("%tools.mytool ALL=(ALL) NOPASSWD: ALL\n")
    os.chmod(root / "srv" / "tools" / "mytool", 0o700)  # the setgid bit lost by hand
    assert [d.line for d in reconcile(store, unix)] == [
        "tools.mytool: become rule (sudoers drop-in) altered"
    ]
    assert all(d.fixed for d in reconcile(store, unix, fix=True))
    assert drop_in.read_text() == sudoers_text("tools.mytool")
    assert stat.S_IMODE(os.stat(root / "srv" / "tools" / "mytool").st_mode) == 0o2770
    # A suspended maintainer leaves the group here too.
    accounts.enqueue_suspend(store, "Bob", "membership lapsed")
    assert run_once(store, unix) is not None
    described = unix.describe("mytool")
    assert described is not None and described.members == ("alice",)
    store.close()


def _ats(config: Path, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ATS_LDAP_PASSWORD": password}
    return forked_cli.run(["--config", str(config), *args], env=env, timeout=120)


def test_ats_provision_tool_converges_and_refuses_bad_input(slapd: Slapd, tmp_path: Path) -> None:
    config = ats_config(tmp_path, slapd)
    with contextlib.closing(Store(tmp_path / "ats.sqlite")) as store:
        _people(store, _ldap(slapd), "Alice", "Bob")
    tool = ["provision", "tool"]
    first = _ats(config, *tool, "mytool", "--maintainer", "Alice", password=slapd.password)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("tools.mytool: uid ")
    assert first.stdout.endswith(", home /data/project/mytool, maintainers alice\n")
    both = ("--maintainer", "Alice", "--maintainer", "Bob")
    again = _ats(config, *tool, "mytool", *both, password=slapd.password)
    assert again.returncode == 0 and "maintainers alice, bob" in again.stdout
    assert _members(slapd) == ["alice", "bob"]
    refusals = {
        ("My Tool", "--maintainer", "Alice"): "is not a tool name",
        ("root", "--maintainer", "Alice"): "is reserved",
        ("alice", "--maintainer", "Bob"): "is the shell account of 'Alice'",
        ("newtool", "--maintainer", "Nobody Here"): "'Nobody Here' has no shell account",
        ("newtool", "--maintainer", "a|b"): "ats: ",
    }
    for args, message in refusals.items():
        done = _ats(config, *tool, *args, password=slapd.password)
        assert done.returncode != 0, args
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    missing = _ats(config, *tool, "newtool", password=slapd.password)
    assert missing.returncode == 2 and "--maintainer" in missing.stderr
