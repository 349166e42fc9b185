"""An admin's suspension reaches a real slapd: `ats members suspend`, then the worker
(`ats provision run --once`), locks the member's entry exactly as renewal's suspension
of a lapsed member does, and takes them out of their tool's group (no `become`);
`ats members restore` and the worker give back the shell, the keys and the group. Every
step is the command an admin runs, each its own process."""

from __future__ import annotations

import contextlib
from pathlib import Path

from membership import accounts
from membership.store import Store
from provisioning.backend import NOLOGIN
from tests.builders import ssh_public_key
from tests.integration.slapd import Slapd, ats, ats_config

# What a suspension changes on the entry; the rest (uid, home, names) is the member's own.
LOCK = ("loginShell", "sshPublicKey")


def _person(slapd: Slapd, uid: str) -> dict[str, list[str]]:
    [entry] = slapd.search(f"ou=people,{slapd.base_dn}", f"(uid={uid})")
    return entry


def _group(slapd: Slapd) -> list[str]:
    """The members of the tool group `tools.bots`: who may `become bots`."""
    [entry] = slapd.search(slapd.base_dn, "(&(objectClass=posixGroup)(cn=tools.bots))")
    return entry.get("memberUid", [])


def test_an_admin_suspension_locks_the_directory_entry_as_renewal_does(
    slapd: Slapd, tmp_path: Path
) -> None:
    config = ats_config(tmp_path, slapd)

    def run(*args: str) -> str:
        done = ats(config, *args, password=slapd.password)
        assert done.returncode == 0, done.stderr
        return done.stdout

    keys = {}
    for member in ("Jane Doe", "Old Member"):
        keys[member] = ssh_public_key()
        # `ats provision account` keeps the key in the store too: what a restore puts back.
        (tmp_path / "id.pub").write_text(keys[member] + "\n")
        run("provision", "account", member, "--key", str(tmp_path / "id.pub"))
    run("provision", "tool", "bots", "--maintainer", "Jane Doe")
    assert _group(slapd) == ["jane-doe"]
    before = _person(slapd, "jane-doe")
    assert before["sshPublicKey"] == [keys["Jane Doe"]] and before["loginShell"] != [NOLOGIN]

    assert run("members", "suspend", "Jane Doe", "--reason", "abuse", "--by", "Admin One")
    twice = ats(
        config, "members", "suspend", "Jane Doe", "--reason", "again", "--by", "Admin One",
        password=slapd.password,
    )  # fmt: skip
    assert twice.returncode == 1 and "already suspended" in twice.stderr
    assert "Traceback" not in twice.stderr
    assert _person(slapd, "jane-doe") == before  # the directory follows when the worker runs
    with contextlib.closing(Store(tmp_path / "ats.sqlite")) as store:
        accounts.enqueue_suspend(store, "Old Member", "membership lapsed")  # as renewal does
    run("provision", "run", "--once")

    jane, lapsed = _person(slapd, "jane-doe"), _person(slapd, "old-member")
    assert jane["loginShell"] == [NOLOGIN] and "sshPublicKey" not in jane
    assert {k: jane.get(k) for k in LOCK} == {k: lapsed.get(k) for k in LOCK}
    assert set(jane) == set(lapsed)  # no attribute more or less than renewal's suspension
    assert _group(slapd) == []  # no `become bots` while suspended
    with contextlib.closing(Store(tmp_path / "ats.sqlite")) as store:
        suspends = [j for j in store.member_jobs("Jane Doe") if j.kind == "suspend"]
        assert [j.state for j in suspends] == ["done"]  # queued once, run once

    assert "restored by Admin Two" in run("members", "restore", "Jane Doe", "--by", "Admin Two")
    run("provision", "run", "--once")
    assert _person(slapd, "jane-doe") == before
    assert _group(slapd) == ["jane-doe"]
    assert _person(slapd, "old-member")["loginShell"] == [NOLOGIN]  # renewal's, untouched
