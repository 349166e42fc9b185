"""`toolforge jobs`, answered as Toolforge's command answers: every subcommand against an
in-memory service, the tables byte for byte as Toolforge's `tabulate` calls print them
(jobs-framework-cli `tjf_cli/cli.py`; `show` as its man page shows it), bad options
refused before the service is asked anything, `load` adding, changing and deleting
only what a jobs.yaml changes, and `quota` ending with the tool's databases as the store
recorded them (once over a real store)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from membership.records import DatabaseUsage
from membership.store import Store
from runtime.jobspec import JobSpec, JobView
from runtime.policy import load_runtime_policy, read_runtime_policy
from runtime.service import ToolJobs
from runtime.toolforge import Answer, answer
from tests.unit.jobs_fake import HOME, FakeJobs, policy_data


def ask(service: FakeJobs, *words: str, files: dict[str, str] | None = None) -> Answer:
    return answer(["jobs", *words], service, files=files or {})


@pytest.fixture
def jobs() -> FakeJobs:
    return FakeJobs()


@pytest.fixture
def three() -> FakeJobs:
    """A scheduled job, a continuous one without file logs and an ended one-off job."""
    service = FakeJobs()
    service.views = {
        "daily-report": JobView(
            JobSpec("daily-report", "./report.sh --all", "python3.11", "17 3 * * *", mem="1Gi"),
            "Waiting for scheduled time",
            hints=("Last run at 2026-12-07T03:17:00Z. It ended with exit code 0.",),
            out_path=f"{HOME}/daily-report.out",
            err_path=f"{HOME}/daily-report.err",
        ),
        "irc-bot": JobView(
            JobSpec("irc-bot", "./bot.py", "bookworm", continuous=True, filelog=False),
            "Running",
            log_paths=("/var/spool/ats-jobs/citation-bot/irc-bot.log",),
        ),
        "once": JobView(
            JobSpec(
                "once",
                "./once.sh",
                "bookworm",
                retry=3,
                cpu="0.5",
                emails="onfailure",
                filelog_stdout=f"{HOME}/logs/once.log",
                filelog_stderr=f"{HOME}/logs/once.log",
            ),
            "Completed",
            out_path=f"{HOME}/logs/once.log",
            finished=True,
        ),
    }
    return service


# -- run ------------------------------------------------------------------------------


def test_run_creates_the_job_with_toolforge_defaults(jobs: FakeJobs) -> None:
    got = ask(jobs, "run", "fetch", "--command", "./fetch.sh --all")
    assert got == Answer(0)
    assert jobs.calls == ["run fetch"]
    assert jobs.views["fetch"].spec == JobSpec("fetch", "./fetch.sh --all", "bookworm")


def test_run_reads_every_option_and_makes_file_logs_absolute(jobs: FakeJobs) -> None:
    got = ask(
        jobs,
        *("run", "nightly", "--command", "./n.sh", "--image", "php8.2", "--schedule", "@daily"),
        *("--mem", "1Gi", "--cpu", "500m", "--retry", "2", "--emails", "onfinish"),
        *("-o", "logs/n.log", "--filelog-stderr", "logs/n.log"),
    )
    assert got.code == 0, got.stderr
    assert jobs.views["nightly"].spec == JobSpec(
        "nightly",
        "./n.sh",
        "php8.2",
        schedule="@daily",
        mem="1Gi",
        cpu="500m",
        retry=2,
        emails="onfinish",
        filelog_stdout=f"{HOME}/logs/n.log",
        filelog_stderr=f"{HOME}/logs/n.log",
    )


def test_run_wait_asks_the_client_to_wait(jobs: FakeJobs) -> None:
    assert ask(jobs, "run", "a", "--command", "./a", "--wait") == Answer(0, wait_for="a")
    got = ask(jobs, "run", "b", "--command", "./b", "--wait", "30")
    assert (got.wait_for, got.wait_timeout) == ("b", 30)


@pytest.mark.parametrize(
    ("words", "said"),
    [
        (("--retry", "6"), "argument --retry: invalid choice: 6"),
        (("--emails", "sometimes"), "argument --emails: invalid choice: 'sometimes'"),
        (("--continuous", "--schedule", "* * * * *"), "not allowed with argument"),
        (("--no-filelog", "--filelog"), "not allowed with argument"),
        (("--wait", "0"), "argument --wait: '0' is not a whole number above 0"),
        (("--colour",), "unrecognized arguments: --colour"),
    ],
)
def test_a_bad_option_is_argparses_usage_and_asks_nothing(
    jobs: FakeJobs, words: tuple[str, ...], said: str
) -> None:
    got = ask(jobs, "run", "x", "--command", "./x", *words)
    assert got.code == 2
    assert got.stdout == ""
    assert got.stderr.startswith("usage: toolforge jobs")
    assert ": error: " in got.stderr and said in got.stderr
    assert jobs.calls == [] and jobs.views == {}


def test_a_missing_command_or_subcommand_is_a_usage_error(jobs: FakeJobs) -> None:
    assert "the following arguments are required: --command" in ask(jobs, "run", "x").stderr
    assert ask(jobs).code == 2
    assert "invalid choice: 'start'" in ask(jobs, "start").stderr
    assert answer(["webservice"], jobs, files={}).code == 2
    assert jobs.calls == []


def test_help_is_printed_and_exits_zero(jobs: FakeJobs) -> None:
    top = ask(jobs, "--help")
    assert top.code == 0 and top.stderr == ""
    assert top.stdout.startswith("usage: toolforge jobs [-h]")
    assert "Toolforge Jobs Framework, command line interface" in top.stdout
    for command in ("images", "run", "show", "logs", "list", "delete", "flush", "load", "quota"):
        assert command in top.stdout
    run = ask(jobs, "run", "-h")
    assert "--filelog-stdout" in run.stdout and "--schedule SCHEDULE" in run.stdout
    older = answer(["jobs", "-h"], jobs, files={}, prog="toolforge-jobs")
    assert older.stdout.startswith("usage: toolforge-jobs [-h]")


@pytest.mark.parametrize(
    ("words", "said"),
    [
        (("Fetch",), "ERROR: Invalid job name 'Fetch': use lower-case letters"),
        (("x" * 53,), "ERROR: Invalid job name, it can't be longer than 52 characters\n"),
        (("a", "--schedule", "61 * * * *"), "ERROR: schedule '61 * * * *': minute 61"),
        (("a", "--mem", "lots"), "ERROR: mem 'lots' is not an amount of memory"),
        (("a", "--cpu", "-1"), "ERROR: cpu '-1' is not a number of CPUs"),
        (
            ("a", "--no-filelog", "-o", "a.log"),
            "ERROR: Specifying --filelog-stdout or --filelog-stderr requires --filelog\n",
        ),
        (
            ("a", "--image", "python3.9"),
            "ERROR: No such image 'python3.9'; offered: bookworm, jdk17, node18, perl5.36, "
            "php8.2, python3.11, ruby3.1 (see `toolforge jobs images`)\n",
        ),
    ],
)
def test_run_refuses_what_cannot_run_and_creates_nothing(
    jobs: FakeJobs, words: tuple[str, ...], said: str
) -> None:
    name, *rest = words
    got = ask(jobs, "run", name, "--command", "./a.sh", *rest)
    assert got.code == 1 and got.stdout == ""
    assert got.stderr.startswith(said)
    assert got.stderr.count("\n") == 1
    assert jobs.calls == []


def test_run_refuses_a_name_taken(three: FakeJobs) -> None:
    got = ask(three, "run", "irc-bot", "--command", "./other")
    assert got == Answer(1, stderr="ERROR: A job with the same name exists already\n")


def test_run_refuses_a_job_past_the_quota_naming_the_figure(jobs: FakeJobs) -> None:
    for n in range(3):
        assert ask(jobs, "run", f"bot-{n}", "--command", "./b", "--continuous").code == 0
    got = ask(jobs, "run", "bot-3", "--command", "./b", "--continuous")
    assert got.stderr == (
        "ERROR: quota: tool 'citation-bot' may have 3 continuous jobs; it has 3\n"
    )
    got = ask(jobs, "run", "big", "--command", "./b", "--mem", "5Gi")
    assert got.stderr == (
        "ERROR: quota: a job of tool 'citation-bot' may have at most 4Gi of memory; "
        "'big' asks for 5Gi\n"
    )
    got = ask(jobs, "run", "cpu", "--command", "./b", "--cpu", "2")
    assert got.stderr == (
        "ERROR: quota: a job of tool 'citation-bot' may have at most 1 CPU; 'cpu' asks for 2\n"
    )
    assert sorted(jobs.views) == ["bot-0", "bot-1", "bot-2"]


def test_the_tools_jobs_together_must_fit_its_total() -> None:
    data = policy_data()
    data["quota"] |= {"total_cpu": "2", "total_mem": "1Gi"}
    jobs = FakeJobs(read_runtime_policy(data))
    assert ask(jobs, "run", "a", "--command", "./a", "--cpu", "1").code == 0
    got = ask(jobs, "run", "b", "--command", "./b", "--cpu", "1", "--mem", "600Mi")
    assert got.stderr == (
        "ERROR: quota: tool 'citation-bot' may have 1Gi of memory in all its jobs; "
        "they have 512Mi and 'b' asks for 600Mi\n"
    )
    got = ask(jobs, "run", "b", "--command", "./b", "--cpu", "1.5")
    assert got.stderr == (
        "ERROR: quota: a job of tool 'citation-bot' may have at most 1 CPU; 'b' asks for 1.5\n"
    )
    assert ask(jobs, "run", "b", "--command", "./b", "--cpu", "1", "--mem", "256Mi").code == 0
    assert ask(jobs, "run", "c", "--command", "./c", "--mem", "100Mi").stderr == (
        "ERROR: quota: tool 'citation-bot' may have 2 CPU in all its jobs; "
        "they have 2 and 'c' asks for 0.5\n"
    )


def test_an_ended_one_off_job_counts_against_no_quota() -> None:
    data = policy_data()
    data["quota"]["one_off_jobs"] = 1
    jobs = FakeJobs(read_runtime_policy(data))
    assert ask(jobs, "run", "first", "--command", "./a").code == 0
    assert ask(jobs, "run", "second", "--command", "./a").stderr == (
        "ERROR: quota: tool 'citation-bot' may have 1 one-off jobs; it has 1\n"
    )
    jobs.views["first"] = replace(jobs.views["first"], status="Completed", finished=True)
    assert ask(jobs, "run", "second", "--command", "./a").code == 0


# -- list, show, logs ---------------------------------------------------------------


def test_list_prints_nothing_at_all_without_jobs(jobs: FakeJobs) -> None:
    assert ask(jobs, "list") == Answer(0)
    assert ask(jobs, "list", "-o", "long") == Answer(0)


LIST = (
    "+--------------+----------------------+----------------------------+\n"
    "|  Job name:   |      Job type:       |          Status:           |\n"
    "+--------------+----------------------+----------------------------+\n"
    "| daily-report | schedule: 17 3 * * * | Waiting for scheduled time |\n"
    "|   irc-bot    |      continuous      |          Running           |\n"
    "|     once     |        normal        |         Completed          |\n"
    "+--------------+----------------------+----------------------------+\n"
)

_RULE = (
    "+--------------+-------------------+----------------------+------------+-----------+"
    "---------------------------------------------+---------------------------------------------+"
    "-----------+------------------------+----------------+----------------------------+\n"
)
LIST_LONG = (
    _RULE + "|  Job name:   |     Command:      |      Job type:       |   Image:   | File log: |"
    "                 Output log:                 |                 Error log:                  |"
    "  Emails:  |       Resources:       |     Retry:     |          Status:           |\n"
    + _RULE
    + "| daily-report | ./report.sh --all | schedule: 17 3 * * * | python3.11 |    yes    |"
    " /data/project/citation-bot/daily-report.out | /data/project/citation-bot/daily-report.err |"
    "   none    | mem: 1Gi, cpu: default |       no       | Waiting for scheduled time |\n"
    "|   irc-bot    |     ./bot.py      |      continuous      |  bookworm  |    no     |"
    "                                             |                                             |"
    "   none    |        default         |       no       |          Running           |\n"
    "|     once     |     ./once.sh     |        normal        |  bookworm  |    yes    |"
    "  /data/project/citation-bot/logs/once.log   |  /data/project/citation-bot/logs/once.log   |"
    " onfailure | mem: default, cpu: 0.5 | yes: 3 time(s) |         Completed          |\n" + _RULE
)


def test_list_is_toolforges_pretty_table(three: FakeJobs) -> None:
    assert ask(three, "list") == Answer(0, stdout=LIST)
    assert ask(three, "list", "--output", "normal") == Answer(0, stdout=LIST)


def test_list_long_adds_the_definition(three: FakeJobs) -> None:
    assert ask(three, "list", "-o", "long") == Answer(0, stdout=LIST_LONG)
    deprecated = ask(three, "list", "-l")
    assert deprecated.stdout == LIST_LONG
    assert deprecated.stderr == (
        "WARNING: the `--long` flag is deprecated, use `--output long` instead\n"
    )


def test_list_names_and_json(three: FakeJobs) -> None:
    assert ask(three, "list", "-o", "name").stdout == "daily-report\nirc-bot\nonce\n"
    listed = json.loads(ask(three, "list", "-o", "json").stdout)
    assert [job["name"] for job in listed] == ["daily-report", "irc-bot", "once"]
    assert listed[0] == {
        "name": "daily-report",
        "cmd": "./report.sh --all",
        "image": "python3.11",
        "image_state": "stable",
        "filelog": "True",
        "filelog_stdout": f"{HOME}/daily-report.out",
        "filelog_stderr": f"{HOME}/daily-report.err",
        "status_short": "Waiting for scheduled time",
        "status_long": "Last run at 2026-12-07T03:17:00Z. It ended with exit code 0.",
        "emails": "none",
        "retry": 0,
        "schedule": "17 3 * * *",
        "memory": "1Gi",
    }
    assert listed[1]["continuous"] is True and listed[1]["filelog_stdout"] is None


SHOW = """\
+-------------+--------------------------------------------------------------+
| Job name:   | daily-report                                                 |
+-------------+--------------------------------------------------------------+
| Command:    | ./report.sh --all                                            |
+-------------+--------------------------------------------------------------+
| Job type:   | schedule: 17 3 * * *                                         |
+-------------+--------------------------------------------------------------+
| Image:      | python3.11                                                   |
+-------------+--------------------------------------------------------------+
| File log:   | yes                                                          |
+-------------+--------------------------------------------------------------+
| Output log: | /data/project/citation-bot/daily-report.out                  |
+-------------+--------------------------------------------------------------+
| Error log:  | /data/project/citation-bot/daily-report.err                  |
+-------------+--------------------------------------------------------------+
| Emails:     | none                                                         |
+-------------+--------------------------------------------------------------+
| Resources:  | mem: 1Gi, cpu: default                                       |
+-------------+--------------------------------------------------------------+
| Retry:      | no                                                           |
+-------------+--------------------------------------------------------------+
| Status:     | Waiting for scheduled time                                   |
+-------------+--------------------------------------------------------------+
| Hints:      | Last run at 2026-12-07T03:17:00Z. It ended with exit code 0. |
+-------------+--------------------------------------------------------------+
"""


def test_show_is_toolforges_grid(three: FakeJobs) -> None:
    assert ask(three, "show", "daily-report") == Answer(0, stdout=SHOW)


def test_show_wraps_long_hints_as_toolforge_does(three: FakeJobs) -> None:
    view = three.views["irc-bot"]
    hint = "Last run at 2021-06-30T10:26:08Z. Pod in 'Pending' phase. State 'waiting' for reason"
    three.views["irc-bot"] = replace(view, hints=(hint, "'ContainerCreating'."))
    shown = ask(three, "show", "irc-bot").stdout
    assert (
        "| Hints:      | Last run at 2021-06-30T10:26:08Z. Pod in 'Pending' phase. State |\n"
        "|             | 'waiting' for reason 'ContainerCreating'.                       |\n"
    ) in shown
    assert "| Output log: |" in shown and "| File log:   | no " in shown


@pytest.mark.parametrize("words", [("show", "nope"), ("delete", "nope"), ("restart", "nope")])
def test_a_missing_job_is_toolforges_error(jobs: FakeJobs, words: tuple[str, ...]) -> None:
    assert ask(jobs, *words) == Answer(1, stderr="ERROR: job 'nope' does not exist\n")


def test_logs_are_read_by_the_client_from_the_jobs_files(three: FakeJobs) -> None:
    assert ask(three, "logs", "daily-report") == Answer(
        0, read_logs=(f"{HOME}/daily-report.out", f"{HOME}/daily-report.err")
    )
    assert ask(three, "logs", "once", "-f", "-l", "20") == Answer(
        0, read_logs=(f"{HOME}/logs/once.log",), follow=True, last_lines=20
    )
    assert ask(three, "logs", "irc-bot", "--follow") == Answer(
        0, read_logs=("/var/spool/ats-jobs/citation-bot/irc-bot.log",), follow=True
    )
    three.views["irc-bot"] = replace(three.views["irc-bot"], log_paths=())
    assert ask(three, "logs", "irc-bot") == Answer(
        1, stderr="ERROR: Job 'irc-bot' does not have any logs available\n"
    )
    assert ask(three, "logs", "nope").stderr == "ERROR: job 'nope' does not exist\n"


# -- delete, restart, flush, images, quota ------------------------------------------


def test_delete_restart_and_flush(three: FakeJobs) -> None:
    assert ask(three, "restart", "irc-bot") == Answer(0)
    assert ask(three, "delete", "once") == Answer(0)
    assert sorted(three.views) == ["daily-report", "irc-bot"]
    assert ask(three, "flush") == Answer(0)
    assert three.views == {}
    assert three.calls == ["restart irc-bot", "delete once", "flush"]


IMAGES = """\
+------------+-----------------------------------------------+
| Short name |                  Description                  |
+------------+-----------------------------------------------+
|  bookworm  | Debian 12 (bookworm), the hosts' own userland |
|   jdk17    |     OpenJDK 17 (Debian 12's default JRE)      |
|   node18   |        Node.js 18 (Debian 12's nodejs)        |
|  perl5.36  |         Perl 5.36 (Debian 12's perl)          |
|   php8.2   |         PHP 8.2 (Debian 12's php-cli)         |
| python3.11 |       Python 3.11 (Debian 12's python3)       |
|  ruby3.1   |          Ruby 3.1 (Debian 12's ruby)          |
+------------+-----------------------------------------------+
"""

QUOTA = """\
Running jobs          Used    Limit
--------------------  ------  -------
Running one-off jobs  0       15
CPU                   1       4
Memory                1.5Gi   8Gi

Per-job limits    Limit
----------------  -------
CPU               1
Memory            4Gi

Job definitions      Used    Limit
-----------------  ------  -------
Cron jobs               1       50
Continuous jobs         1        3

Databases: not measured yet (they are measured every few minutes)
"""


def test_images_and_quota(three: FakeJobs) -> None:
    assert ask(three, "images") == Answer(0, stdout=IMAGES)
    # The ended one-off job counts no more: the scheduled job's 1Gi and half a CPU, the
    # continuous job's defaults (512Mi, 0.5).
    assert ask(three, "quota") == Answer(0, stdout=QUOTA)


MB = 1024 * 1024
USAGE = DatabaseUsage(
    user="s51234",
    kind="tool",
    name="citation-bot",
    owner="citation-bot",
    total=12 * MB + MB // 3,
    limit=100 * MB,
    over=False,
    over_since=None,
    crossings=0,
    observed_at="2026-03-01T12:05:05+00:00",
    databases=(("s51234__cache", 12 * MB), ("s51234__counts", MB // 3)),
)
DATABASES = """
Databases of s51234    Used     Limit
---------------------  -------  --------
s51234__cache          12.0 MB
s51234__counts         0.3 MB
All databases          12.3 MB  100.0 MB
Measured 2026-03-01 12:05:05 UTC.
"""


def test_quota_ends_with_each_database_and_their_total_against_the_limit(jobs: FakeJobs) -> None:
    jobs.usage = USAGE
    said = ask(jobs, "quota")
    assert said.code == 0 and said.stdout.endswith(
        "Continuous jobs         0        3\n" + DATABASES
    )
    assert "WARNING" not in said.stdout
    jobs.usage = replace(USAGE, limit=10 * MB, over=True, over_since=USAGE.observed_at)
    over = ask(jobs, "quota").stdout
    assert "All databases          12.3 MB  10.0 MB\n" in over
    assert over.endswith(
        "WARNING: the databases hold 12.3 MB, over the limit of 10.0 MB: please make them "
        "smaller (the server does not stop them growing; the maintainers were mailed and the "
        "admins told)\n"
    )
    jobs.usage = replace(USAGE, limit=0, total=0, databases=())
    assert "All databases          0.0 MB  none\n" in ask(jobs, "quota").stdout


def test_a_tools_override_is_its_quota() -> None:
    data = policy_data()
    data["overrides"] = {"citation-bot": {"continuous_jobs": 6}}
    jobs = FakeJobs(read_runtime_policy(data))
    assert "Continuous jobs         0        6\n" in ask(jobs, "quota").stdout


def test_the_jobs_service_answers_quota_from_the_stores_record(store: Store) -> None:
    """Over a store, as `ats runtime serve` answers: the record the databases service
    wrote, never the database server."""
    tool = ToolJobs(store, "citation-bot", home=HOME, policy=load_runtime_policy(), log_root="")
    request = {"op": "cli", "argv": ["jobs", "quota"], "prog": "toolforge"}
    assert tool.handle(request)["stdout"].endswith(
        "Databases: not measured yet (they are measured every few minutes)\n"
    )
    store.record_database_usage([USAGE, replace(USAGE, user="s2", name="other", databases=())])
    said = tool.handle(request)
    assert said["code"] == 0 and said["stdout"].endswith(DATABASES)
