"""Accounts per second in a real slapd: 1,000 people created through the LDAP backend,
then the idempotent re-run (every account already there), then two workers at once.

Run from the project root: ``.venv/bin/python bench/bench_provision.py [--accounts N]``
(needs Debian's slapd: ``apt-get install -y --no-install-recommends slapd ldap-utils``).
It starts its own throwaway slapd on a free port of 127.0.0.1 and stops it at the end.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import measured  # noqa: E402
from provisioning.ldap import LdapBackend  # noqa: E402
from tests.integration.slapd import Slapd  # noqa: E402

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq7wDgO5m3m0n8rHj1bQ2pQ1pC2yq1zQ0S6c1VfQ9x1"


def backend(slapd: Slapd) -> LdapBackend:
    return LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password)


def timed(label: str, count: int, work: Callable[[], None]) -> None:
    _, cost = measured(work)
    rate = count / cost.wall
    print(f"| {label} | {count:,} | {cost.wall:.2f} s | {rate:,.0f} | {cost.per(count)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    args = parser.parse_args()
    n = args.accounts
    slapd = Slapd.start()
    try:
        ldap = backend(slapd)
        print("| run | accounts | wall | accounts/s | wall per account | client CPU per account |")
        print("|---|---:|---:|---:|---:|---:|")

        def create() -> None:
            for i in range(n):
                ldap.create_person(f"Bench User {i}", f"bench-{i}", [KEY])

        timed("create (1 worker)", n, create)
        timed("idempotent re-run", n, create)

        def race() -> None:
            def work(index: int) -> None:
                own = backend(slapd)
                for i in range(n // 2):
                    own.create_person(f"Race {index} {i}", f"race-{index}-{i}", [KEY])
                own.close()

            threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        timed("create (2 workers at once)", 2 * (n // 2), race)
        people = slapd.search(f"ou=people,{slapd.base_dn}", "(objectClass=posixAccount)")
        numbers = [p["uidNumber"][0] for p in people]
        print(
            f"\n{len(people):,} people in the directory, {len(set(numbers)):,} distinct uids "
            f"({'no' if len(numbers) == len(set(numbers)) else 'SOME'} collisions)"
        )
    finally:
        slapd.stop()


if __name__ == "__main__":
    main()
