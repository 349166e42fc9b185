"""A login host that holds against the members it admits, tried as a member who wants
more than they were given, on the dev login host's real sshd, SSSD, sudo and slapd (a
provider with the shipped access rules and its replica):

- a member named after a real local account of this machine never logs in as it (sshd
  gets no key for a name that resolves to a local uid), `ats host check` names the
  clash, and provisioning refuses to give such a name;
- the directory answers a member on the host nothing, anonymously;
- a setuid or setgid copy of bash, in a tool's home or a member's, grants nothing;
- `become TOOL -- CMD` and `become TOOL CMD ARGS` work, and the tools' root is root's;
- a removed co-maintainer's open session holding the tool's group ends, and so does a
  process they started as the tool, while the remaining maintainer's run on;
- a suspended member's open session (writing in the tool's home) and what they started
  as the tool end.

The times revocation takes are printed; docs/benchmarks.md records them."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import ldap3
import pytest

from ats import cli
from membership import accounts
from provisioning.names import NamingError, check_name
from provisioning.worker import provision_tool, run_once
from tests.integration.journey import etc_snapshot
from tests.integration.loginhost_site import (
    TOOL_HOME,
    Session,
    Site,
    close_site,
    ended_within,
    open_site,
    processes,
    start_as_tool,
)
from tests.integration.slapd import ats_config
from tests.waiting import wait_until

pytestmark = pytest.mark.loginhost


def _local_account() -> str:
    """A local account of this machine that would pass as a member's shell name: one
    with a real shell first (as a local administrator's would be)."""
    candidates = []
    for entry in pwd.getpwall():
        try:
            check_name(entry.pw_name)
        except NamingError:
            continue
        candidates.append((entry.pw_shell.endswith(("nologin", "false")), entry.pw_name))
    assert candidates, "this machine has no local account with a member-like name"
    return sorted(candidates)[0][1]


LOCAL = _local_account()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    before = etc_snapshot()
    # LOCAL is made straight in the directory, as a directory shared by hosts with
    # other local accounts would hold it: provisioning itself refuses it (tested below).
    opened = open_site(extra=(LOCAL,))
    try:
        yield opened
    finally:
        close_site(opened)
    assert etc_snapshot() == before


def _host_check(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*site.nsenter, sys.executable, "-m", "ats.cli", "host", "check", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.process
def test_a_member_named_after_a_local_account_never_logs_in_as_it(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # SSSD has the member and their key; sshd resolves the name to the local account.
    assert site.ssh.run("alice", "true").returncode == 0
    borrowed = site.ssh.run(LOCAL, "id")
    assert borrowed.returncode == 255 and "Permission denied (publickey" in borrowed.stderr
    assert borrowed.stdout == ""

    check = _host_check(site)
    assert check.returncode == 1, check.stdout + check.stderr
    line = next(x for x in check.stdout.splitlines() if "lends no local account" in x)
    assert line.startswith("FAIL") and f"the directory also has {LOCAL}" in line
    member = _host_check(site, "--member", LOCAL)
    assert f"FAIL resolves members: {LOCAL} is a local account of this host" in member.stdout

    # The clash gone from the directory, the host's check passes that line again.
    conn = ldap3.Connection(
        site.provider.url, site.provider.root_dn, site.provider.password, auto_bind=True
    )
    for dn in (site.ldap.person_dn(LOCAL), site.ldap.group_dn(LOCAL)):
        assert conn.delete(dn), conn.result
    conn.unbind()
    subprocess.run([*site.nsenter, "sss_cache", "-E"], check=True, capture_output=True)
    again = _host_check(site)
    line = next(x for x in again.stdout.splitlines() if "lends no local account" in x)
    assert line.startswith("ok"), again.stdout

    # Nor does provisioning give the name again: this machine has it as a local account.
    key = tmp_path / "key.pub"
    site.ssh.key("another")
    key.write_text(site.ssh.public("another") + "\n")
    monkeypatch.setenv("ATS_LDAP_PASSWORD", site.provider.password)
    config = ats_config(tmp_path, site.provider)
    wiki_user = LOCAL.capitalize() + "2"
    code = cli.main(
        ["--config", str(config), "provision", "account", wiki_user, "--name", LOCAL]
        + ["--key", str(key)]
    )
    said = capsys.readouterr()
    assert code != 0 and "local account of the login hosts" in said.err, said
    assert said.err.count("\n") == 1 and "Traceback" not in said.err


@pytest.mark.process
def test_the_directory_answers_a_member_nothing(site: Site) -> None:
    base = site.provider.base_dn
    for url in (f"ldap://127.0.0.1:{site.replica_port}", site.provider.url):
        asked = site.ssh.run(
            "bob", f"ldapsearch -x -LLL -H {url} -b {base} '(objectClass=*)' userPassword uid"
        )
        assert "dn:" not in asked.stdout and "userPassword" not in asked.stdout, asked.stdout
        assert "uid" not in asked.stdout, asked.stdout
    check = _host_check(site)
    line = next(x for x in check.stdout.splitlines() if "tells nobody more" in x)
    assert line.startswith("ok"), check.stdout


def test_become_with_a_command_and_the_tools_root(site: Site) -> None:
    done = site.ssh.run(
        "alice",
        "become mytool -- id -un; become mytool echo one 'two words'; stat -c %U:%G:%a /home/tools",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["tools.mytool", "one two words", "root:root:755"]


def test_a_setuid_or_setgid_file_grants_nothing(site: Site) -> None:
    planted = site.ssh.run(
        "alice",
        "become mytool sh -c 'cp /bin/bash ~/gbash && chmod 2755 ~/gbash && "
        "cp /bin/bash ~/sbash && chmod 4755 ~/sbash' && "
        f"stat -c '%A %U %G' {TOOL_HOME}/gbash {TOOL_HOME}/sbash",
    )
    assert planted.returncode == 0, planted.stderr
    assert planted.stdout.splitlines() == [
        "-rwxr-sr-x tools.mytool tools.mytool",
        "-rwsr-xr-x tools.mytool tools.mytool",
    ]
    ran = site.ssh.run(
        "alice", f"{TOOL_HOME}/gbash -p -c 'id -gn; id -Gn'; {TOOL_HOME}/sbash -p -c 'id -un'"
    )
    assert ran.returncode == 0, ran.stderr
    egid, groups, euid = ran.stdout.splitlines()
    assert egid == "alice" and euid == "alice", ran.stdout
    # A member's own copy, given the tool's group while they maintain it: nothing either.
    own = site.ssh.run(
        "bob",
        "cp /bin/bash ~/gbash && chgrp tools.mytool ~/gbash && chmod 2755 ~/gbash && "
        "stat -c %A ~/gbash && ~/gbash -p -c 'id -gn'",
    )
    assert own.returncode == 0, own.stderr
    assert own.stdout.splitlines() == ["-rwxr-sr-x", "bob"]


def test_a_removed_co_maintainer_keeps_nothing_of_the_tool(site: Site) -> None:
    tool = site.tool_uid()
    bob = Session(site, "bob", "id -nG; exec sleep 600")
    alice = Session(site, "alice", "id -nG; exec sleep 600")
    try:
        assert "tools.mytool" in bob.first.split() and "tools.mytool" in alice.first.split()
        start_as_tool(site, "bob", "601")
        start_as_tool(site, "alice", "602")
        assert processes(tool, "sleep 601") and processes(tool, "sleep 602")

        provision_tool(site.store, site.ldap, "mytool", ["Alice"], by="test")
        seconds = ended_within(lambda: not bob.alive() and not processes(tool, "sleep 601"))
        # What the remaining maintainer runs goes on.
        time.sleep(2)
        assert alice.alive() and processes(tool, "sleep 602")
        print(f"\nremoved co-maintainer's session and tool process ended after {seconds:.1f} s")
    finally:
        bob.end()
        alice.end()


def test_a_suspended_members_sessions_and_processes_end(site: Site) -> None:
    writer = Session(
        site, "alice", f"echo open; while true; do date > {TOOL_HOME}/alive; sleep 0.5; done"
    )
    try:
        assert writer.first == "open"
        tool = site.tool_uid()
        assert processes(tool, "sleep 602")  # started from her login before
        job = accounts.enqueue_suspend(site.store, "Alice", "membership lapsed")
        assert job is not None
        outcome = run_once(site.store, site.ldap)
        assert outcome is not None and outcome.ok, outcome
        seconds = ended_within(lambda: not writer.alive() and not processes(tool, "sleep 602"))
        print(f"\nsuspended member's session and tool process ended after {seconds:.1f} s")
        assert site.ssh.run("alice", "true").returncode != 0
    finally:
        writer.end()


@pytest.mark.process
@pytest.mark.parametrize(
    ("path", "old", "new", "says"),
    [
        (
            "etc/pam.d/common-account",
            "account\t[default=bad success=ok user_unknown=ignore]\tpam_sss.so\n",
            "",
            "FAIL refuses suspended members: pam_sss is not in /etc/pam.d/common-account",
        ),
        (
            "etc/sssd/sssd.conf",
            "ldap_access_filter = (&(objectClass=posixAccount)(!(loginShell=/usr/sbin/nologin)))",
            "ldap_access_filter = (objectClass=posixAccount)",
            "FAIL refuses suspended members: SSSD's ldap_access_filter does not refuse",
        ),
        (
            "sshd_config",
            "AuthorizedKeysFile /etc/ssh/authorized_keys/%u",
            "AuthorizedKeysFile /etc/ssh/authorized_keys/%u .ssh/authorized_keys",
            "FAIL takes keys only from the directory: sshd reads .ssh/authorized_keys",
        ),
        (
            "sshd_config",
            "AuthorizedKeysCommand /usr/local/sbin/ats-authorized-keys %u %U",
            "AuthorizedKeysCommand /usr/bin/sss_ssh_authorizedkeys %u",
            "FAIL lends no local account: sshd's AuthorizedKeysCommand is",
        ),
    ],
)
def test_host_check_names_each_misconfiguration(
    site: Site, path: str, old: str, new: str, says: str
) -> None:
    """Each file as the host reads it (bound into its namespace), changed, checked, put back."""
    target = site.folder / "host" / path
    text = target.read_text()
    assert old in text, (path, old)
    target.write_text(text.replace(old, new))
    try:
        check = _host_check(site)
    finally:
        target.write_text(text)
    assert check.returncode == 1 and says in check.stdout, check.stdout
    assert "Traceback" not in check.stderr


@pytest.mark.process
def test_host_check_fails_without_the_session_guard(site: Site) -> None:
    """Last: the guard is ended for good here."""
    guards = [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
        and b"/usr/local/sbin/ats-session-guard" in _cmdline(entry)
        and os.readlink(entry / "ns" / "mnt") == os.readlink(f"/proc/{_namespace_pid(site)}/ns/mnt")
    ]
    assert guards
    for pid in guards:
        os.kill(pid, 9)
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in guards), timeout=10)
    check = _host_check(site)
    assert "FAIL ends revoked sessions: ats-session-guard is not running" in check.stdout


def _cmdline(entry: Path) -> bytes:
    try:
        return (entry / "cmdline").read_bytes()
    except OSError:
        return b""


def _namespace_pid(site: Site) -> int:
    return int(site.nsenter[site.nsenter.index("-t") + 1])
