"""Co-maintainers changed by a maintainer reach the tool's group through the worker's
"maintainers" job, against a real slapd (the group's memberUid, which the sudoRole that
is `become` names) and the Unix backend under a throwaway root: the job makes the group
what the store says, a repeated job changes nothing (not one entry's entryCSN), and a
job runs with the set of the moment it runs, not the one it was queued with."""

from __future__ import annotations

from pathlib import Path

import ldap3

from membership import maintainers
from membership.store import Store
from provisioning.ldap import LdapBackend
from provisioning.unix import UnixBackend
from provisioning.worker import provision_person, provision_tool, run_once
from tests.integration.slapd import Slapd
from tests.integration.unixroot import unix_root

ROLE = {
    "sudoUser": ["%tools.mytool"],
    "sudoHost": ["ALL"],
    "sudoRunAsUser": ["tools.mytool"],
    "sudoCommand": ["ALL"],
    "sudoOption": ["!authenticate"],
}


def _members(slapd: Slapd) -> list[str]:
    found = slapd.search(f"ou=groups,{slapd.base_dn}", "(cn=tools.mytool)")
    return sorted(found[0].get("memberUid", []))


def _role(slapd: Slapd) -> dict[str, list[str]]:
    [found] = slapd.search(f"ou=sudoers,{slapd.base_dn}", "(cn=tools.mytool)")
    return {k: v for k, v in found.items() if k.startswith("sudo")}


def _csns(slapd: Slapd) -> list[str]:
    conn = ldap3.Connection(slapd.url, slapd.root_dn, slapd.password, auto_bind=True)
    conn.search(slapd.base_dn, "(objectClass=*)", attributes=["entryCSN"])
    out = sorted(f"{item['dn']} {item['attributes']['entryCSN']}" for item in conn.response)
    conn.unbind()
    return out


def _run(store: Store, backend) -> None:
    outcome = run_once(store, backend)
    assert outcome is not None and outcome.ok, outcome
    assert outcome.job.kind == "maintainers" and outcome.job.member == "tools.mytool"


def test_the_job_makes_the_group_and_a_repeated_job_changes_nothing(
    slapd: Slapd, tmp_path: Path
) -> None:
    store = Store(tmp_path / "ats.sqlite")
    ldap = LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password)
    for name in ("Alice", "Bob", "Carol"):
        provision_person(store, ldap, name, [])
    provision_tool(store, ldap, "mytool", ["Alice"], by="test")
    assert _members(slapd) == ["alice"]

    change = maintainers.add(store, "mytool", "Alice", "Bob")
    assert change.job.state == "queued" and _members(slapd) == ["alice"]  # the worker's to do
    _run(store, ldap)
    assert _members(slapd) == ["alice", "bob"] and _role(slapd) == ROLE
    [done] = [e for e in store.audit_log() if e.action == "tool-maintainers-set"]
    assert done.evidence["tool"] == "mytool" and done.evidence["members"] == ["alice", "bob"]

    # The same job run again (a worker killed after the change, say): nothing is written.
    before = _csns(slapd)
    store.enqueue_member_job("tools.mytool", "maintainers", {"tool": "mytool"})
    _run(store, ldap)
    assert _csns(slapd) == before
    assert run_once(store, ldap) is None  # and nothing else was queued

    # Two changes before the worker runs: one job, and it applies the newest set.
    maintainers.add(store, "mytool", "Bob", "Carol")
    maintainers.remove(store, "mytool", "Carol", "Alice")
    _run(store, ldap)
    assert run_once(store, ldap) is None
    assert _members(slapd) == ["bob", "carol"] and _role(slapd) == ROLE

    # A maintainer suspended since they were added is not in the group.
    store.set_account_suspended("carol", "membership lapsed")
    store.enqueue_member_job("tools.mytool", "maintainers", {"tool": "mytool"})
    _run(store, ldap)
    assert _members(slapd) == ["bob"]
    store.close()


def test_on_the_unix_backend_the_job_makes_the_group(tmp_path: Path) -> None:
    root = unix_root(tmp_path)
    store = Store(tmp_path / "ats.sqlite")
    unix = UnixBackend(root, tool_home="/srv/tools/{name}")
    for name in ("Alice", "Bob"):
        provision_person(store, unix, name, [])
    provision_tool(store, unix, "mytool", ["Alice"], by="test")

    maintainers.add(store, "mytool", "Alice", "Bob")
    _run(store, unix)
    described = unix.describe("mytool")
    assert described is not None and described.members == ("alice", "bob")
    group = (root / "etc" / "group").read_text()
    assert "tools.mytool:x:" in group and group.split("tools.mytool:x:")[1].split("\n")[0].endswith(
        ":alice,bob"
    )
    files = {p: p.read_bytes() for p in sorted((root / "etc").rglob("*")) if p.is_file()}
    store.enqueue_member_job("tools.mytool", "maintainers", {"tool": "mytool"})
    _run(store, unix)
    assert {p: p.read_bytes() for p in sorted((root / "etc").rglob("*")) if p.is_file()} == files

    maintainers.remove(store, "mytool", "Bob", "Bob")  # removing oneself, another remains
    _run(store, unix)
    described = unix.describe("mytool")
    assert described is not None and described.members == ("alice",)
    store.close()
