"""Provisioning across a directory outage and a killed worker, against a real slapd.

A long-running `ats provision run` meets slapd stopped and started again: it reconnects
by itself, every job ends done, and no job spends its attempts on the outage. A worker
killed mid-job loses its job within one lease (renewed while it lived), and another
worker takes it over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from membership.store import Store
from provisioning.backend import ProvisioningError
from provisioning.ldap import DirectoryUnavailableError, LdapBackend
from provisioning.worker import MAX_ATTEMPTS, enqueue_approved, run_once
from tests.integration.slapd import Slapd, approve, ats_config
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = [f"Outage Member {n}" for n in range(8)]


@pytest.mark.process
def test_a_running_worker_converges_after_the_directory_comes_back(
    slapd: Slapd, tmp_path: Path
) -> None:
    path = ats_config(tmp_path, slapd, outage_retry_seconds=1)
    store = Store(tmp_path / "ats.sqlite")
    out_path = tmp_path / "worker.out"
    worker = subprocess.Popen(
        [sys.executable, "-m", "ats.cli", "--config", str(path), "provision", "run"]
        + ["--poll", "0.2"],
        cwd=ROOT,
        env={**os.environ, "ATS_LDAP_PASSWORD": slapd.password},
        stdout=out_path.open("w"),
        stderr=subprocess.PIPE,
        text=True,
    )

    def told_done(who: str) -> bool:
        return any(f"({who}): done in " in line for line in out_path.read_text().splitlines())

    try:
        approve(store, "Before Outage", "k-before")
        wait_until(lambda: [j.state for j in store.jobs()] == ["done"], 30, interval=0.2)
        slapd.halt()
        for n, who in enumerate(MEMBERS):
            approve(store, who, f"k{n}")
        # The outage lasts long enough for every job to be tried again and again: at
        # the old pace (an attempt per try) they would run out of attempts.
        wait_until(
            lambda: len([j for j in store.jobs() if j.last_error]) == len(MEMBERS), 30, interval=0.2
        )
        time.sleep(MAX_ATTEMPTS * 1.5)
        during = [j for j in store.jobs() if j.last_error]
        assert all(j.state in ("queued", "running") and j.attempts <= 1 for j in during)
        slapd.resume()
        # Done in the store, then said on standard output: wait for both before stopping it.
        wait_until(lambda: all(j.state == "done" for j in store.jobs()), 60, interval=0.2)
        wait_until(lambda: all(told_done(who) for who in MEMBERS), 30, what=out_path.read_text)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    out = out_path.read_text()
    jobs = store.jobs()
    assert len(jobs) == len(MEMBERS) + 1
    assert all(j.state == "done" and j.attempts <= 2 for j in jobs)
    people = slapd.search(f"ou=people,{slapd.base_dn}", "(objectClass=posixAccount)")
    assert sorted(p["cn"][0] for p in people) == sorted(["Before Outage", *MEMBERS])
    lines = out.splitlines()
    unreachable = [
        x for x in lines if "waiting for the directory" in x and "cannot be reached" in x
    ]
    # Several rounds of one line per failed job, then one line per job done.
    assert len(unreachable) >= 2 * len(MEMBERS), out
    assert all(line.startswith("job ") for line in lines), out
    for who in ["Before Outage", *MEMBERS]:
        assert any(" person for request " in x and f"({who}): done in " in x for x in lines), out
    assert "Traceback" not in out + err


def test_a_backend_made_during_an_outage_works_once_the_directory_is_back(
    slapd: Slapd,
) -> None:
    slapd.halt()
    backend = LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password)
    with pytest.raises(DirectoryUnavailableError, match="cannot be reached"):
        backend.describe("jane")
    slapd.resume()
    assert backend.create_person("Jane Doe", "jane", []).owner == "Jane Doe"
    with pytest.raises(ProvisioningError, match="cannot bind"):
        LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, "wrong password")


# A worker in a process of its own that stalls in its job (a long directory write),
# then is killed by the test; its lease is renewed meanwhile.
CHILD = """
import os, sys, time
from membership.store import Store
from provisioning.ldap import LdapBackend
from provisioning.worker import run_once

path, url, base, bind, lease = sys.argv[1:6]
backend = LdapBackend(url, base, bind, os.environ["ATS_LDAP_PASSWORD"])

def stall(stage):
    if stage == "leased":
        print("leased", flush=True)
        time.sleep(600)

run_once(Store(path), backend, worker="doomed", lease_seconds=int(lease), hook=stall)
"""


def test_a_killed_workers_job_is_taken_over_within_its_lease(slapd: Slapd, tmp_path: Path) -> None:
    lease = 6
    store = Store(tmp_path / "ats.sqlite")
    approve(store, "Jane Doe", "k1")
    enqueue_approved(store)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "ats.sqlite"), slapd.url, slapd.base_dn]
        + [slapd.root_dn, str(lease)],
        cwd=ROOT,
        env={**os.environ, "ATS_LDAP_PASSWORD": slapd.password},
        stdout=subprocess.PIPE,
        text=True,
    )
    backend = LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password)
    try:
        assert child.stdout is not None and child.stdout.readline() == "leased\n"
        # Alive, it keeps its job well past one lease: the heartbeat renews it.
        time.sleep(2.5 * lease)
        assert run_once(store, backend, worker="rescuer", lease_seconds=lease) is None
        job = store.jobs()[0]
        assert (job.state, job.leased_by) == ("running", "doomed")
        assert job.lease_until is not None
        assert datetime.fromisoformat(job.lease_until) > datetime.now(UTC)
    finally:
        child.kill()
        child.wait()
    killed = time.monotonic()
    outcome = wait_until(
        lambda: run_once(store, backend, worker="rescuer", lease_seconds=lease),
        60,
        interval=0.2,
        what="the job to be taken over",
    )
    taken_over = time.monotonic() - killed
    assert outcome.ok
    assert taken_over <= lease + 2
    assert (outcome.job.state, outcome.job.leased_by) == ("done", "rescuer")
    people = slapd.search(f"ou=people,{slapd.base_dn}", "(objectClass=posixAccount)")
    assert [p["cn"][0] for p in people] == ["Jane Doe"]
