"""Takeover time after `kill -9`: how long a killed worker's job stays out of reach.

A worker (its own process, the default lease of `provisioning.worker.LEASE_SECONDS`)
leases a person job and stalls in it — a directory write that never returns — while
its heartbeat renews the lease; after `--hold` seconds it is killed with SIGKILL and a
second worker polls every `--poll` seconds until it has taken the job over and made
the account. Prints the time from the kill to the takeover and to the job's end.

Run from the project root: ``.venv/bin/python bench/bench_takeover.py [--runs N]``
(needs Debian's slapd; it starts its own throwaway slapd on a free port).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from membership.store import Store  # noqa: E402
from provisioning.ldap import LdapBackend  # noqa: E402
from provisioning.worker import LEASE_SECONDS, enqueue_approved, run_once  # noqa: E402
from tests.integration.slapd import Slapd, approve  # noqa: E402

CHILD = """
import os, sys, time
from membership.store import Store
from provisioning.ldap import LdapBackend
from provisioning.worker import run_once

path, url, base, bind = sys.argv[1:5]
backend = LdapBackend(url, base, bind, os.environ["ATS_LDAP_PASSWORD"])

def stall(stage):
    if stage == "leased":
        print("leased", flush=True)
        time.sleep(3600)

run_once(Store(path), backend, worker="doomed", hook=stall)
"""


def one_run(slapd: Slapd, folder: Path, n: int, hold: float, poll: float) -> tuple[float, float]:
    path = folder / f"run{n}.sqlite"
    store = Store(path)
    who = f"Takeover Member {n}"
    approve(store, who, f"k{n}")
    enqueue_approved(store)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), slapd.url, slapd.base_dn, slapd.root_dn],
        cwd=ROOT,
        env={**os.environ, "ATS_LDAP_PASSWORD": slapd.password},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "leased\n"
    time.sleep(hold)
    child.kill()
    child.wait()
    killed = time.monotonic()
    backend = LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password)
    while True:
        outcome = run_once(store, backend, worker="rescuer")
        if outcome is not None:
            break
        time.sleep(poll)
    done = time.monotonic() - killed
    backend.close()
    return done - outcome.seconds, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--hold", type=float, default=70, help="seconds alive in the job")
    parser.add_argument("--poll", type=float, default=1.0, help="the rescuer's idle wait")
    args = parser.parse_args()
    slapd = Slapd.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            print(f"lease {LEASE_SECONDS} s, held {args.hold:.0f} s before the kill")
            print("| run | kill → taken over | kill → done |")
            print("|---|---|---|")
            for n in range(args.runs):
                taken, done = one_run(slapd, Path(folder), n, args.hold, args.poll)
                print(f"| {n + 1} | {taken:.1f} s | {done:.1f} s |", flush=True)
    finally:
        slapd.stop()


if __name__ == "__main__":
    main()
