"""A worker killed with SIGKILL mid-job, against a real slapd: the next worker takes the
job when the lease lapses and converges — one account, one number, request done. A
worker stopped with SIGTERM (systemd's stop) mid-job finishes the job first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from membership.store import Store
from provisioning.ldap import LdapBackend
from provisioning.worker import enqueue_approved, run_once
from tests.integration.slapd import Slapd, approve, ats_config
from tests.waiting import wait_until

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq7wDgO5m3m0n8rHj1bQ2pQ1pC2yq1zQ0S6c1VfQ9x1"
ROOT = Path(__file__).resolve().parents[2]

# The worker as its own process; it SIGKILLs itself at the stage named in argv.
CHILD = """
import os, signal, sys
from datetime import datetime
from membership.store import Store
from provisioning.ldap import LdapBackend
from provisioning.worker import run_once

path, url, base, bind, stage, now = sys.argv[1:7]
password = os.environ["ATS_LDAP_PASSWORD"]

def die(at):
    if at == stage:
        os.kill(os.getpid(), signal.SIGKILL)

class Dying(LdapBackend):
    def _ensure_group(self, group, number, members):
        die("between-entries")  # the person entry exists, its group does not
        return super()._ensure_group(group, number, members)

run_once(Store(path), Dying(url, base, bind, password), datetime.fromisoformat(now),
         worker="doomed", lease_seconds=60, hook=die)
sys.exit(3)  # never reached: the hook kills the process first
"""


@pytest.mark.parametrize("stage", ["leased", "between-entries", "provisioned", "finished"])
def test_a_killed_worker_is_taken_over_without_duplicates(
    slapd: Slapd, tmp_path: Path, stage: str
) -> None:
    path = tmp_path / "ats.sqlite"
    store = Store(path)
    record = approve(store, "Jane Doe", "k1")
    store.add_ssh_key("Jane Doe", type="ssh-ed25519", bits=256, key=KEY, fingerprint="SHA256:a")
    now = datetime.now(UTC)
    enqueue_approved(store, now)

    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), slapd.url, slapd.base_dn, slapd.root_dn, stage]
        + [now.isoformat()],
        cwd=ROOT,
        env={**os.environ, "ATS_LDAP_PASSWORD": slapd.password},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr

    job = store.jobs()[0]
    assert job.leased_by == "doomed"
    assert job.state == ("done" if stage == "finished" else "running")
    ldap = LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password)
    # While the lease holds, nobody else takes the job.
    assert run_once(store, ldap, now + timedelta(seconds=30), worker="heir") is None
    outcome = run_once(store, ldap, now + timedelta(seconds=61), worker="heir")
    if stage == "finished":
        assert outcome is None  # the dead worker had finished
    else:
        assert outcome is not None and outcome.ok, outcome
        assert outcome.job.attempts == 2
    assert store.jobs()[0].state == "done"
    assert store.request_by_id(record.id).state == "done"  # type: ignore[union-attr]

    people = slapd.search(f"ou=people,{slapd.base_dn}", "(objectClass=posixAccount)")
    groups = slapd.search(f"ou=groups,{slapd.base_dn}", "(objectClass=posixGroup)")
    assert [p["uid"] for p in people] == [["jane-doe"]]
    assert [g["cn"] for g in groups] == [["jane-doe"]]
    assert people[0]["sshPublicKey"] == [KEY]
    assert groups[0]["gidNumber"] == people[0]["uidNumber"]
    done = [e for e in store.audit_log(record.id) if e.action == "provisioning-done"]
    assert len(done) == 1
    assert store.account_of("Jane Doe").shell_name == "jane-doe"  # type: ignore[union-attr]
    store.close()


@pytest.mark.process
def test_sigterm_mid_job_stops_the_worker_after_the_job(tmp_path: Path) -> None:
    config = ats_config(tmp_path, None)
    # The dry-run backend appends each action to this file. As a named pipe nobody
    # reads yet, it holds the job in its first write, so the signal lands mid-job.
    actions = tmp_path / "provisioning-dry-run.jsonl"
    os.mkfifo(actions)
    store = Store(tmp_path / "ats.sqlite")
    approve(store, "Jane Doe", "k1")
    worker = subprocess.Popen(
        [sys.executable, "-m", "ats.cli", "--config", str(config), "provision", "run"]
        + ["--poll", "0.2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reader = None
    try:
        wait_until(lambda: [j.state for j in store.jobs()] == ["running"], 60)
        worker.send_signal(signal.SIGTERM)
        wait_until(lambda: _taken(worker, signal.SIGTERM), 10, what="the signal taken")
        assert worker.poll() is None, "the signal ended the worker mid-job"
        reader = os.open(actions, os.O_RDONLY | os.O_NONBLOCK)  # the job's write goes on
        out, err = worker.communicate(timeout=60)
        written = os.read(reader, 65536).decode()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
        if reader is not None:
            os.close(reader)
    assert worker.returncode == 0, err
    assert err == "provision: stopped on SIGTERM, no job left running\n"
    [line] = out.splitlines()
    assert " person for request " in line and "(Jane Doe): done in " in line, out
    assert '"op": "create-person", "wiki_user": "Jane Doe"' in written
    assert [(j.state, j.attempts) for j in store.jobs()] == [("done", 1)]
    store.close()


def _taken(process: subprocess.Popen[str], signum: int) -> bool:
    """Whether `process` has taken `signum` (handled it, or died of it)."""
    if process.poll() is not None:
        return True
    status = Path(f"/proc/{process.pid}/status").read_text().splitlines()
    masks = [int(line.split()[1], 16) for line in status if line.startswith(("SigPnd", "ShdPnd"))]
    return not any(mask & (1 << (signum - 1)) for mask in masks)
