"""Tools' jobs, driven as a maintainer drives them: over ssh to the dev login host,
`become mytool`, then `toolforge jobs …`, answered by `ats runtime serve` (two of them:
one holds the controller's lease, the other stands by) and run by the host's real Slurm
node and MUNGE.

What is shown: Toolforge's tables and words; a one-off job running as the tool, waited
for, retried; a continuous job back after `kill -9`, and one dying at once backing off
with a hint; memory enforced by Slurm and quotas refused with the figure; output kept
without files; `load` adding, changing and deleting; a non-maintainer, a member without
`become` and another tool refused; a disabled tool and a tool whose maintainers are all
suspended stopped and back; the controller killed mid-work with nothing lost or done
twice; a schedule firing once per tick with two controllers. The machine's /etc is as
it was.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ats import cli
from devtools.daemons import alive
from devtools.ports import free_port
from provisioning.worker import provision_tool
from tests.integration.journey import etc_snapshot
from tests.integration.loginhost_site import Site, close_site, open_site, processes
from tests.integration.smtp_relay import Relay
from tests.waiting import wait_until

# The site's directory gives uids no login-host test gives (theirs are 10000-59999), so
# its session guard and theirs never look at each other's processes: it runs beside
# them, not in their serial group. Not 60000-65535: Debian gives its services uids
# there (slurm is 64030), which a guard would take for members gone from the directory.
UIDS = (70000, 79999)

TOOL = "mytool"
# (A `$` would be expanded on the way: `become TOOL CMD` is `sudo -i`, as on Toolforge.)
LOOP = "exec sleep 1001"
TICK = "date +%s >> ticks.txt"
# The module's long-lived jobs as a jobs.yaml holds them: a file that `load`s other jobs
# keeps these (a load deletes what its file lacks).
KEPT = (
    f"- name: loop\n  command: {LOOP}\n  image: bookworm\n  continuous: true\n"
    f"- name: tick\n  command: {TICK}\n  image: bookworm\n  schedule: '* * * * *'\n"
)


class Jobs:
    """The site, with its jobs service's second copy and the moment it began."""

    def __init__(self, site: Site, relay: Relay) -> None:
        self.site = site
        self.relay = relay
        self.began = time.time()
        self.standby: subprocess.Popen[bytes] | None = None
        self.restarted: subprocess.Popen[bytes] | None = None

    @property
    def home(self) -> Path:
        return self.site.host / "home" / "tools" / TOOL

    def tf(
        self, *words: str, user: str = "alice", tool: str = TOOL
    ) -> subprocess.CompletedProcess[str]:
        command = " ".join(shlex.quote(word) for word in ("toolforge", "jobs", *words))
        return self.site.ssh.run(user, f"become {tool} {command}" if tool else command)

    def ok(self, *words: str, user: str = "alice", tool: str = TOOL) -> str:
        done = self.tf(*words, user=user, tool=tool)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def show(self, name: str) -> str:
        return self.ok("show", name)

    def file(self, name: str) -> str:
        path = self.home / name
        return path.read_text() if path.exists() else ""

    def runtime_pid(self) -> int:
        return int(json.loads((self.site.host / "devhost.json").read_text())["runtime_pid"])

    def serve_command(self) -> list[str]:
        """The command line of the first `ats runtime serve` (the dev login host's)."""
        command = Path(f"/proc/{self.runtime_pid()}/cmdline").read_bytes()
        return [word.decode() for word in command.rstrip(b"\0").split(b"\0")]

    def start_standby(self) -> None:
        """A second `ats runtime serve`, inside, on its own port."""
        words = self.serve_command()
        words[words.index("--listen") + 1] = f"127.0.0.1:{free_port()}"
        self.standby = self.serve(words, "runtime-standby.log")

    def serve(self, words: list[str], log: str) -> subprocess.Popen[bytes]:
        with (self.site.host / log).open("ab") as out:
            return subprocess.Popen(
                [*self.site.nsenter, *words], stdout=out, stderr=subprocess.STDOUT
            )

    def cli(self, *args: str) -> int:
        return cli.main(["--config", str(self.site.config), *args])


@pytest.fixture(scope="module")
def jobs() -> Iterator[Jobs]:
    before = etc_snapshot()
    relay = Relay(free_port())
    relay.start()
    mail = f"""
[mail]
relay = "127.0.0.1"
port = {relay.port}
sender = "tools@ts.example"
recipient_domain = "ts.example"
"""
    site = open_site(extra=("carol",), uid_range=UIDS, config_extra=mail)
    provision_tool(site.store, site.ldap, "othertool", ["Bob"], by="test")
    opened = Jobs(site, relay)
    try:
        opened.start_standby()
        # A schedule that fires every minute while the module runs (checked last).
        opened.ok("run", "tick", "--command", TICK, "--schedule", "* * * * *")
        yield opened
    finally:
        # Shown with a failing test: what the services and Slurm said.
        logs = ("runtime.log", "runtime-standby.log", "slurm/log/slurmctld.log")
        for log in (*logs, "slurm/log/slurmctld.out", "slurm/log/slurmd.log"):
            path = site.host / log
            if path.exists():
                print(f"--- {log}\n" + "\n".join(path.read_text().splitlines()[-30:]))
        for process in (opened.standby, opened.restarted):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        close_site(site)
        relay.stop()
    assert etc_snapshot() == before


def test_a_one_off_job_runs_as_the_tool_in_toolforges_words(jobs: Jobs) -> None:
    ran = jobs.tf("run", "hello", "--command", "echo hello from $(id -un)", "--wait")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert jobs.file("hello.out") == "hello from tools.mytool\n"
    listed = jobs.ok("list").splitlines()
    assert [cell.strip() for cell in listed[1].split("|")[1:-1]] == [
        "Job name:",
        "Job type:",
        "Status:",
    ]
    row = next(line for line in listed if " hello " in line)
    assert [cell.strip() for cell in row.split("|")[1:-1]] == ["hello", "normal", "Completed"]
    shown = jobs.show("hello")
    assert "| Job name:   | hello" in shown and "| File log:   | yes" in shown
    assert f"| Output log: | /home/tools/{TOOL}/hello.out" in shown
    assert "| Retry:      | no" in shown and "| Resources:  | default" in shown
    assert jobs.ok("logs", "hello") == "hello from tools.mytool\n"
    assert jobs.ok("delete", "hello") == ""
    assert " hello " not in jobs.ok("list")
    # A tool without jobs lists nothing at all.
    assert jobs.tf("list", user="bob", tool="othertool").stdout == ""


def test_a_job_reaches_the_tools_database_with_its_credentials(jobs: Jobs) -> None:
    # The chapter's databases service writes ~/replica.my.cnf within seconds.
    wait_until(lambda: (jobs.home / "replica.my.cnf").exists(), 30, what="the credentials")
    query = "mariadb --defaults-file=replica.my.cnf -N -e 'SELECT CURRENT_USER()'"
    ran = jobs.tf("run", "dbcheck", "--command", query, "--wait")
    assert ran.returncode == 0, ran.stdout + ran.stderr + jobs.file("dbcheck.err")
    assert re.fullmatch(r"s\d+@%\n", jobs.file("dbcheck.out")), jobs.file("dbcheck.out")
    jobs.ok("delete", "dbcheck")


def test_bad_input_is_refused_and_creates_nothing(jobs: Jobs) -> None:
    retry = jobs.tf("run", "bad", "--command", "true", "--retry", "6")
    assert retry.returncode == 2 and "invalid choice: 6" in retry.stderr
    missing = jobs.tf("show", "nope")
    assert (missing.returncode, missing.stderr) == (1, "ERROR: job 'nope' does not exist\n")
    schedule = jobs.tf("run", "bad", "--command", "true", "--schedule", "61 * * * *")
    assert schedule.returncode == 1 and "minute" in schedule.stderr, schedule.stderr
    image = jobs.tf("run", "bad", "--command", "true", "--image", "tf-golang")
    assert image.returncode == 1 and "bookworm" in image.stderr
    assert " bad " not in jobs.ok("list")


def test_a_failing_job_is_retried_and_wait_says_it_failed(jobs: Jobs) -> None:
    ran = jobs.tf("run", "flaky", "--command", "echo try >> tries.txt; exit 3", "--retry", "2")
    assert ran.returncode == 0
    waited = jobs.tf("run", "flaky2", "--command", "exit 4", "--wait", "--emails", "onfailure")
    assert waited.returncode == 1 and "Failed" in waited.stdout, waited.stdout + waited.stderr
    # Its maintainers are mailed through the chapter's relay, once each.
    mails = wait_until(
        lambda: [m for m in jobs.relay.inbox.received if "flaky2" in str(m[2]["Subject"])],
        30,
        what=lambda: (
            f"the failure's mail: outbox {jobs.site.store.tool_job_mails()}, "
            f"received {jobs.relay.inbox.received}"
        ),
    )
    assert sorted(to for _, tos, _ in mails for to in tos) == ["alice@ts.example", "bob@ts.example"]
    assert "exit code 4" in mails[0][2].get_content()
    wait_until(lambda: "| Status:     | Failed" in jobs.show("flaky"), 60, what="flaky failing")
    assert jobs.file("tries.txt") == "try\n" * 3
    assert "exit code 3" in jobs.show("flaky")
    jobs.ok("delete", "flaky")
    jobs.ok("delete", "flaky2")


def test_a_continuous_job_comes_back_after_kill_9(jobs: Jobs) -> None:
    jobs.ok("run", "loop", "--continuous", "--command", LOOP)
    uid = jobs.site.tool_uid()
    first = wait_until(lambda: processes(uid, "sleep 1001"), 30, what="the job's process")
    killed = time.monotonic()
    os.kill(first[0], signal.SIGKILL)

    def again() -> list[int]:
        return [pid for pid in processes(uid, "sleep 1001") if pid not in first]

    wait_until(again, 30, what="the continuous job running again")
    print(f"\ncontinuous job killed with -9: running again after {time.monotonic() - killed:.1f} s")
    wait_until(lambda: "| Status:     | Running" in jobs.show("loop"), 10, what="Running shown")
    assert "FAILED: signal 9" in jobs.show("loop")  # how the last run ended


def test_a_job_dying_at_once_backs_off_and_says_why(jobs: Jobs) -> None:
    jobs.ok("run", "crashy", "--continuous", "--command", "exit 1")
    hint = wait_until(
        lambda: "keeps ending within seconds" in (shown := jobs.show("crashy")) and shown,
        40,
        what="the back-off hint",
    )
    assert "exit code 1" in hint
    jobs.ok("delete", "crashy")


def test_memory_is_enforced_and_quotas_refused_with_the_figure(jobs: Jobs) -> None:
    hog = "python3 -c 'x = bytearray(300 * 1024 * 1024); import time; time.sleep(5)'"
    waited = jobs.tf("run", "hog", "--mem", "64Mi", "--command", hog, "--wait")
    assert waited.returncode == 1, waited.stdout + waited.stderr
    shown = jobs.show("hog")
    assert "OUT_OF_MEMORY" in shown and "ran out of memory (64Mi)" in shown
    jobs.ok("delete", "hog")
    big = jobs.tf("run", "big", "--mem", "5Gi", "--command", "true")
    assert big.returncode == 1 and "may have at most 4Gi" in big.stderr, big.stderr
    # loop runs: two more continuous jobs reach the quota of three.
    for name in ("c2", "c3"):
        jobs.ok("run", name, "--continuous", "--command", "exec sleep 1000")
    fourth = jobs.tf("run", "c4", "--continuous", "--command", "exec sleep 1000")
    assert fourth.returncode == 1
    assert "quota: tool 'mytool' may have 3 continuous jobs; it has 3" in fourth.stderr
    quota = jobs.ok("quota")
    assert "3" in quota and "continuous" in quota.lower()
    for name in ("c2", "c3"):
        jobs.ok("delete", name)


def test_output_without_files_is_shown_by_logs(jobs: Jobs) -> None:
    ran = jobs.tf("run", "quiet", "--no-filelog", "--command", "echo kept aside", "--wait")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert not (jobs.home / "quiet.out").exists() and not (jobs.home / "quiet.err").exists()
    assert jobs.ok("logs", "quiet") == "kept aside\n"
    assert "| File log:   | no" in jobs.show("quiet")
    jobs.ok("delete", "quiet")
    # One file for both (relative to the home): no .err file appears.
    both = ["-o", "logs/both.log", "-e", "logs/both.log", "--command", "echo out; echo err >&2"]
    (jobs.home / "logs").mkdir(exist_ok=True)
    shutil.chown(jobs.home / "logs", jobs.site.tool_uid(), jobs.site.tool_uid())
    assert jobs.tf("run", "both", *both, "--wait").returncode == 0
    assert sorted(jobs.file("logs/both.log").split()) == ["err", "out"]
    assert not list(jobs.home.glob("both.*"))
    assert "| Output log: | /home/tools/mytool/logs/both.log" in jobs.show("both")
    jobs.ok("delete", "both")


def test_load_adds_changes_and_deletes_to_match_the_file(jobs: Jobs) -> None:
    first = KEPT + (
        "- name: one\n  command: echo one\n  image: bookworm\n  mount: all\n"
        "- name: two\n  command: echo two\n  image: python3.11\n"
    )
    (jobs.home / "jobs.yaml").write_text(first)
    loaded = jobs.tf("load", "jobs.yaml")
    assert loaded.returncode == 0, loaded.stderr
    assert "one" in loaded.stderr and "mount" in loaded.stderr  # the unknown key, named
    listed = jobs.ok("list")
    assert " one " in listed and " two " in listed and " loop " in listed
    again = jobs.tf("load", "jobs.yaml")
    assert "added" not in again.stderr and "changed" not in again.stderr, again.stderr
    changed_file = KEPT + "- name: one\n  command: echo ONE\n  image: bookworm\n"
    (jobs.home / "jobs.yaml").write_text(changed_file)
    changed = jobs.tf("load", "jobs.yaml")
    assert "'one' changed" in changed.stderr and "'two' deleted" in changed.stderr, changed.stderr
    assert "loop" not in changed.stderr and "tick" not in changed.stderr
    listed = jobs.ok("list")
    assert " one " in listed and " two " not in listed and " tick " in listed
    jobs.ok("delete", "one")


def test_restart_images_and_flush(jobs: Jobs) -> None:
    before = _slurm_job_of_loop(jobs)
    assert before and jobs.ok("restart", "loop") == ""
    wait_until(
        lambda: _slurm_job_of_loop(jobs) not in ("", before), 20, what="loop in a new Slurm job"
    )
    missing = jobs.tf("restart", "nope")
    assert missing.returncode == 1 and "job 'nope' does not exist" in missing.stderr
    images = jobs.ok("images")
    assert "bookworm" in images and "python3.11" in images and "php8.2" in images
    # Flushed: every job of the tool goes (another tool's, which has none of mytool's).
    for name in ("a", "b"):
        jobs.ok("run", name, "--command", "true", user="bob", tool="othertool")
    assert jobs.tf("flush", user="bob", tool="othertool").returncode == 0
    assert jobs.tf("list", user="bob", tool="othertool").stdout == ""
    assert " loop " in jobs.ok("list")


def test_others_can_neither_see_nor_touch_the_jobs(jobs: Jobs) -> None:
    unbecome = jobs.tf("list", tool="")
    assert unbecome.returncode == 1 and "become" in unbecome.stderr
    carol = jobs.tf("list", user="carol")
    assert carol.returncode != 0 and "loop" not in carol.stdout
    other = jobs.tf("delete", "loop", user="bob", tool="othertool")
    assert other.returncode == 1 and "does not exist" in other.stderr
    assert jobs.tf("show", "loop", user="bob", tool="othertool").returncode == 1
    assert "Running" in jobs.show("loop")
    # Slurm itself shows a member nobody's jobs.
    seen = jobs.site.ssh.run("carol", "squeue -h -o %j")
    assert seen.returncode == 0 and "loop" not in seen.stdout


def _listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _slurm_job_of_loop(jobs: Jobs) -> str:
    done = subprocess.run(
        [*jobs.site.nsenter, "squeue", "-h", "-t", "running", "-u", f"tools.{TOOL}", "-n", "loop"]
        + ["-o", "%i"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


def test_a_disabled_tool_stops_and_comes_back(jobs: Jobs) -> None:
    assert _slurm_job_of_loop(jobs)
    assert jobs.cli("tools", "disable", TOOL, "--reason", "abuse report", "--by", "Admin") == 0
    wait_until(lambda: not _slurm_job_of_loop(jobs), 20, what="loop cancelled")
    shown = jobs.show("loop")
    assert "Stopped" in shown and "disabled" in shown and "abuse report" not in shown
    assert jobs.cli("tools", "enable", TOOL, "--by", "Admin") == 0
    wait_until(lambda: _slurm_job_of_loop(jobs), 20, what="loop running again")
    actions = [entry.action for entry in jobs.site.store.audit_log()]
    assert "tool-disabled" in actions and "tool-enabled" in actions


def test_a_tool_whose_maintainers_are_all_suspended_stops(jobs: Jobs) -> None:
    store = jobs.site.store
    for member in ("alice", "bob"):
        store.set_account_suspended(member, "lapsed")
    try:
        wait_until(lambda: not _slurm_job_of_loop(jobs), 20, what="loop cancelled")
    finally:
        for member in ("alice", "bob"):
            store.set_account_suspended(member, None)
    wait_until(lambda: _slurm_job_of_loop(jobs), 20, what="loop running again")


@pytest.mark.process
def test_the_controller_killed_mid_work_loses_nothing_and_doubles_nothing(jobs: Jobs) -> None:
    names = [f"once{number}" for number in range(4)]
    (jobs.home / "once.yaml").write_text(
        KEPT
        + "".join(
            f"- name: {name}\n  command: echo {name} >> once.txt\n  image: bookworm\n"
            for name in names
        )
    )
    command = jobs.serve_command()
    assert jobs.tf("load", "once.yaml").returncode == 0
    killed = jobs.runtime_pid()
    os.kill(killed, signal.SIGKILL)  # whatever it was doing
    port = int(command[command.index("--listen") + 1].rsplit(":", 1)[1])
    # Gone, and its port with it (else the new one could not listen there).
    wait_until(lambda: not alive(killed) and not _listens(port), 10, what="the service gone")
    # Started again, as systemd does; it or the standby takes the lease over (the
    # holder's pid is gone) and finishes the work.
    restarted = jobs.serve(command, "runtime.log")
    wait_until(
        lambda: restarted.poll() is None and _listens(port),
        30,
        what=lambda: (
            "the jobs service listening again: "
            + (jobs.site.host / "runtime.log").read_text()[-500:]
        ),
    )
    for name in names:
        wait_until(lambda name=name: "Completed" in jobs.show(name), 60, what=f"{name} completed")
    assert sorted(jobs.file("once.txt").split()) == names
    for name in names:
        jobs.ok("delete", name)
    assert _slurm_job_of_loop(jobs)
    jobs.restarted = restarted
    # Inside the host, where Slurm's clients find the node: nothing differs.
    reconcile = subprocess.run(
        [*jobs.site.nsenter, *command[: command.index("runtime")], "runtime", "reconcile"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
    assert "no drift" in reconcile.stdout


def _restart_daemon(jobs: Jobs, daemon: str) -> None:
    """Kill -9 Slurm's `daemon` of the login host's node, then start it again (its
    state is on disk), keeping the node's state file true for its stop."""
    state_file = jobs.site.host / "slurm" / "devslurm.json"
    state = json.loads(state_file.read_text())
    pid = state[f"{daemon}_pid"]
    command = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{pid}/cmdline").exists(), 10, what=f"{daemon} gone")
    # Meanwhile the store takes a job; the controller meets a Slurm that does not answer.
    jobs.ok("run", f"while-{daemon}", "--command", f"echo {daemon} >> while.txt")
    time.sleep(2)
    with (jobs.site.host / "slurm" / "log" / f"{daemon}.out").open("ab") as out:
        again = subprocess.Popen(
            [*jobs.site.nsenter, *(word.decode() for word in command)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    state[f"{daemon}_pid"] = again.pid
    state_file.write_text(json.dumps(state))


def test_slurms_daemons_killed_mid_work_lose_and_double_nothing(jobs: Jobs) -> None:
    running = _slurm_job_of_loop(jobs)
    for daemon in ("slurmctld", "slurmd"):
        _restart_daemon(jobs, daemon)
        wait_until(
            lambda daemon=daemon: "Completed" in jobs.show(f"while-{daemon}"),
            60,
            what=f"the job taken while {daemon} was down, completed",
        )
    assert jobs.file("while.txt").split() == ["slurmctld", "slurmd"]
    # The continuous job ran on through both: the same Slurm job, and only it.
    assert _slurm_job_of_loop(jobs) == running
    for daemon in ("slurmctld", "slurmd"):
        jobs.ok("delete", f"while-{daemon}")


def test_a_schedule_fires_once_per_tick(jobs: Jobs) -> None:
    # At least one minute boundary has passed since the job was defined, and its run done.
    boundary = (int(jobs.began) // 60 + 1) * 60
    wait_until(lambda: time.time() > boundary + 8, 75, interval=1, what="a tick")
    ticks = [int(line) for line in jobs.file("ticks.txt").split()]
    minutes = [tick // 60 for tick in ticks]
    assert ticks, "the scheduled job never ran"
    assert len(minutes) == len(set(minutes)), f"two runs in one minute: {ticks}"
    passed = int(time.time()) // 60 - int(jobs.began) // 60
    assert passed - 1 <= len(ticks) <= passed, (ticks, jobs.began)
    # Late only when a tick came while the tool was stopped or the controller was killed.
    print(f"\nscheduled runs started {[tick % 60 for tick in ticks]} s after their minute")
