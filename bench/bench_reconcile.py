"""Reconcile time for N members (1,000 by default) against a real slapd: the report
when nothing drifted, the report and `--fix` with drift planted in 5% of the members,
and the LDAP operations each run made.

Run from the project root: ``.venv/bin/python bench/bench_reconcile.py [--members N]``
(needs Debian's slapd: ``apt-get install -y --no-install-recommends slapd ldap-utils``).
It starts its own throwaway slapd on a free port of 127.0.0.1 and a store in a
temporary folder, and removes both at the end.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ldap3  # noqa: E402

from bench.timing import measured  # noqa: E402
from membership.store import Store  # noqa: E402
from provisioning.ldap import LdapBackend  # noqa: E402
from provisioning.reconcile import Drift, reconcile  # noqa: E402
from tests.integration.slapd import Slapd  # noqa: E402

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq7wDgO5m3m0n8rHj1bQ2pQ1pC2yq1zQ0S6c1VfQ9x1"
HAND = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHandAddedKeyHandAddedKeyHandAddedKey0001 hand"


class Counting(LdapBackend):
    """The LDAP backend, counting the searches and modifies it sends."""

    searches = modifies = 0

    def _read(self, dn: str):  # type: ignore[no-untyped-def]
        Counting.searches += 1
        return super()._read(dn)

    def _entries(self, base: str, expression: str):  # type: ignore[no-untyped-def]
        Counting.searches += 1
        return super()._entries(base, expression)

    def _converge_entry(self, dn, changes_for, require=False):  # type: ignore[no-untyped-def]
        Counting.modifies += 1
        return super()._converge_entry(dn, changes_for, require)


def timed(label: str, members: int, work: Callable[[], list[Drift]]) -> None:
    Counting.searches = Counting.modifies = 0
    drifts, cost = measured(work)
    print(
        f"| {label} | {members:,} | {len(drifts):,} | {cost.wall:.2f} s | {cost.per(members)} | "
        f"{Counting.searches:,} | {Counting.modifies:,} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    args = parser.parse_args()
    n = args.members
    folder = Path(tempfile.mkdtemp(prefix="ats-bench-reconcile-"))
    slapd = Slapd.start()
    try:
        store = Store(folder / "ats.sqlite")
        ldap = Counting(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password)
        for i in range(n):
            user = f"Bench User {i}"
            store.add_ssh_key(user, type="ssh-ed25519", bits=256, key=KEY, fingerprint="a")
            account = ldap.create_person(user, f"bench-{i}", [KEY])
            store.record_account(account.name, "person", user, account.uid)
        print(
            "| run | members | drift found | wall | wall per member | client CPU per member "
            "| LDAP searches | guarded modifies |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        timed("report, no drift", n, lambda: reconcile(store, ldap))

        hand = ldap3.Connection(slapd.url, slapd.root_dn, slapd.password, auto_bind=True)
        people = f"ou=people,{slapd.base_dn}"
        for i in range(0, n, 20):  # 5%: a key, a shell, a lifted suspension in turn
            dn = f"uid=bench-{i},{people}"
            if i % 60 == 0:
                hand.modify(dn, {"sshPublicKey": [(ldap3.MODIFY_ADD, [HAND])]})
            elif i % 60 == 20:
                hand.modify(dn, {"loginShell": [(ldap3.MODIFY_REPLACE, ["/bin/zsh"])]})
            else:
                hand.modify(dn, {"loginShell": [(ldap3.MODIFY_REPLACE, ["/usr/sbin/nologin"])]})
        hand.unbind()
        timed("report, 5% drifted", n, lambda: reconcile(store, ldap))
        timed("--fix, 5% drifted", n, lambda: reconcile(store, ldap, fix=True))
        timed("report after --fix", n, lambda: reconcile(store, ldap))
        ldap.close()
        store.close()
    finally:
        slapd.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
