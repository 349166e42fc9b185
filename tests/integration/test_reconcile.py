"""`ats provision reconcile` against a real slapd with drift planted by hand in the
directory (a key added, a shell changed, a member deleted, a stray group member, a
suspension lifted), then `--fix`, then nothing left; and the same reconcile on the
Unix backend under a throwaway root."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import ldap3

from membership import accounts
from membership.store import Store
from provisioning.backend import NOLOGIN
from provisioning.ldap import LdapBackend
from provisioning.reconcile import reconcile
from provisioning.unix import UnixBackend
from provisioning.worker import provision_person, run_forever
from tests.integration.slapd import Slapd, ats, ats_config
from tests.integration.test_converge import K1, K2
from tests.integration.unixroot import unix_root

HAND = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHandAddedKeyHandAddedKeyHandAddedKey0001 hand"


def _members(store: Store, backend) -> None:
    for name in ("Alice", "Bob", "Carol", "Dave"):
        store.add_ssh_key(name, type="ssh-ed25519", bits=256, key=K1, fingerprint="SHA256:k1")
        provision_person(store, backend, name, [K1])
    store.add_request(
        page="Toolserver/Requests",
        key="t1",
        heading="Tool request: mytool",
        requester="Alice",
        subject="Alice",
        type="tool",
        fields={"type": "tool", "tool": "mytool", "license": "MIT", "maintainers": "Bob"},
        content_hash="h",
        intro_revid=1,
        intro_timestamp="2026-11-01T00:00:00Z",
        state="done",
        detail={},
    )
    tool = backend.create_tool("mytool", ["alice", "bob"])
    store.record_account("mytool", "tool", "mytool", tool.uid)
    accounts.enqueue_suspend(store, "Dave", "membership lapsed")
    backend.suspend("dave")


def test_reconcile_reports_and_fixes_drift_planted_in_the_directory(
    slapd: Slapd, tmp_path: Path
) -> None:
    store = Store(tmp_path / "ats.sqlite")
    ldap = LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password)
    _members(store, ldap)
    config = ats_config(tmp_path, slapd)
    clean = ats(config, "provision", "reconcile", password=slapd.password)
    assert (clean.returncode, clean.stdout) == (0, "no drift: the directory matches the store\n")

    base = slapd.base_dn
    hand = ldap3.Connection(slapd.url, slapd.root_dn, slapd.password, auto_bind=True)
    hand.modify(f"uid=alice,ou=people,{base}", {"sshPublicKey": [(ldap3.MODIFY_ADD, [HAND])]})
    hand.modify(f"uid=bob,ou=people,{base}", {"loginShell": [(ldap3.MODIFY_REPLACE, ["/bin/zsh"])]})
    hand.delete(f"uid=carol,ou=people,{base}")
    hand.modify(f"cn=tools.mytool,ou=groups,{base}", {"memberUid": [(ldap3.MODIFY_ADD, ["eve"])]})
    hand.modify(
        f"uid=dave,ou=people,{base}",
        {
            "loginShell": [(ldap3.MODIFY_REPLACE, ["/bin/bash"])],
            "shadowExpire": [(ldap3.MODIFY_DELETE, [])],
        },
    )
    hand.unbind()

    found = ats(config, "provision", "reconcile", password=slapd.password)
    assert found.returncode == 1, found.stderr
    lines = found.stdout.splitlines()
    assert lines == [
        "alice: key added by hand: ssh-ed25519 …AddedKey0001 hand",
        "bob: login shell is /bin/zsh, not /bin/bash",
        "carol: member missing from the directory",
        "dave: suspended in the store but not in the directory",
        "tools.mytool: stray group member eve",
    ]
    assert found.stderr == ""

    fixed = ats(config, "provision", "reconcile", "--fix", password=slapd.password)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.splitlines() == [f"{line} (fixed)" for line in lines] + [
        "5 drift(s), 5 fixed"
    ]
    again = ats(config, "provision", "reconcile", password=slapd.password)
    assert (again.returncode, again.stdout) == (0, "no drift: the directory matches the store\n")

    [alice] = slapd.search(f"ou=people,{base}", "(uid=alice)")
    assert alice["sshPublicKey"] == [K1]
    assert slapd.search(f"ou=people,{base}", "(uid=bob)")[0]["loginShell"] == ["/bin/bash"]
    assert slapd.search(f"ou=people,{base}", "(uid=carol)")[0]["sshPublicKey"] == [K1]
    [dave] = slapd.search(f"ou=people,{base}", "(uid=dave)")
    assert dave["loginShell"] == [NOLOGIN] and "sshPublicKey" not in dave
    [group] = slapd.search(f"ou=groups,{base}", "(cn=tools.mytool)")
    assert sorted(group["memberUid"]) == ["alice", "bob"]
    assert sum(e.action == "drift-fixed" for e in store.audit_log()) == 5
    store.close()


def test_reconcile_on_the_unix_backend(tmp_path: Path) -> None:
    root = unix_root(tmp_path)
    store = Store(tmp_path / "ats.sqlite")
    unix = UnixBackend(root)
    _members(store, unix)
    assert reconcile(store, unix) == []
    keys = root / "home" / "alice" / ".ssh" / "authorized_keys"
    keys.write_text(f"{K1}\n{HAND}\n")
    subprocess.run(["usermod", "--prefix", str(root), "-s", "/bin/sh", "bob"], check=True)
    (root / "home" / "dave" / ".ssh" / "authorized_keys").write_text(K2 + "\n")
    found = [d.line for d in reconcile(store, unix)]
    assert found == [
        "alice: key added by hand: ssh-ed25519 …AddedKey0001 hand",
        "bob: login shell is /bin/sh, not /bin/bash",
        "dave: key opens a login while suspended: ssh-ed25519 …v8ZpYk3wTnqz k2",
    ]
    assert all(d.fixed for d in reconcile(store, unix, fix=True))
    assert reconcile(store, unix) == []
    assert keys.read_text() == K1 + "\n"
    assert not (root / "home" / "dave" / ".ssh" / "authorized_keys").exists()
    store.close()


def test_the_long_running_worker_reconciles(tmp_path: Path) -> None:
    root = unix_root(tmp_path)
    store = Store(tmp_path / "ats.sqlite")
    unix = UnixBackend(root)
    _members(store, unix)
    keys = root / "home" / "alice" / ".ssh" / "authorized_keys"
    keys.write_text(f"{K1}\n{HAND}\n")
    lines: list[str] = []
    stop = threading.Event()

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("reconcile: 1 drift"):
            stop.set()

    def work() -> None:
        own = Store(store.path)  # a store connection belongs to its thread
        try:
            run_forever(own, unix, poll=0.05, stop=stop, log=log, reconcile_seconds=3600)
        finally:
            own.close()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive()
    assert [line for line in lines if line.startswith("reconcile:")] == [
        "reconcile: alice: key added by hand: ssh-ed25519 …AddedKey0001 hand (fixed)",
        "reconcile: 1 drift(s), 1 fixed",
    ]
    assert keys.read_text() == K1 + "\n"
    store.close()
