"""`toolforge webservice` on plain data (runtime/webservice.py): Toolforge's words, the
types and their runner command, one `webservice` continuous job; and the hosts' runner
(ats-webservice) refusing a service it cannot run in one line. Over ssh, with Caddy and
Slurm, it is tests/integration/test_runtime_web.py."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from provisioning.loginhost import template
from runtime.toolforge import Answer
from runtime.webservice import JOB, TYPES, web_answer, web_type
from tests.unit.jobs_fake import FakeJobs

URL = "https://citation-bot.toolserver.example/"


def ask(jobs: FakeJobs, *words: str) -> Answer:
    return web_answer(["webservice", *words], jobs, url=URL)


def test_start_makes_the_continuous_job_webservice_with_the_runner() -> None:
    jobs = FakeJobs()
    started = ask(jobs, "python3.11", "start")
    assert started.code == 0 and URL in started.stderr
    view = jobs.job(JOB)
    assert view is not None and view.spec.continuous
    assert view.spec.command == "ats-webservice python3.11" and web_type(view) == "python3.11"
    assert view.out_path is not None and view.out_path.endswith("/webservice.out")
    again = ask(jobs, "start")
    assert (again.code, again.stderr) == (1, "Your job is already running\n")


def test_the_type_defaults_to_the_running_ones_then_python() -> None:
    jobs = FakeJobs()
    assert ask(jobs, "start").code == 0
    view = jobs.job(JOB)
    assert view is not None and web_type(view) == "python3.11"
    ask(jobs, "stop")
    ask(jobs, "static", "start")
    assert "restart" not in jobs.calls
    restarted = ask(jobs, "restart")
    assert restarted.code == 0 and jobs.calls[-1] == f"restart {JOB}"
    view = jobs.job(JOB)
    assert view is not None and web_type(view) == "static"


def test_php_serves_public_html_with_its_own_runner_type() -> None:
    jobs = FakeJobs()
    assert ask(jobs, "php8.2", "start").code == 0
    view = jobs.job(JOB)
    assert view is not None and view.spec.continuous
    assert view.spec.command == "ats-webservice php8.2" and web_type(view) == "php8.2"
    assert ask(jobs, "status").stdout.startswith("Your webservice of type php8.2 is running")
    assert ask(jobs, "restart").code == 0
    view = jobs.job(JOB)
    assert view is not None and web_type(view) == "php8.2"  # restart keeps the type
    ask(jobs, "stop")
    stray = ask(jobs, "php8.2", "start", "--command", "php -S x")
    assert stray.code == 1 and "--command is for the generic type" in stray.stderr
    assert jobs.job(JOB) is None


def test_generic_runs_the_command_given_and_only_it() -> None:
    jobs = FakeJobs()
    started = ask(jobs, "generic", "start", "--command", "./serve --port $PORT")
    assert started.code == 0
    view = jobs.job(JOB)
    assert view is not None
    assert view.spec.command == "ats-webservice generic -- './serve --port $PORT'"
    ask(jobs, "stop")
    missing = ask(jobs, "generic", "start")
    assert missing.code == 1 and "--command" in missing.stderr and jobs.job(JOB) is None
    stray = ask(jobs, "python3.11", "start", "--command", "x")
    assert stray.code == 1 and jobs.job(JOB) is None


def test_status_stop_and_words() -> None:
    jobs = FakeJobs()
    assert ask(jobs, "status") == Answer(0, stdout="Your webservice is not running\n")
    assert ask(jobs, "stop") == Answer(0, stdout="Your webservice is not running\n")
    ask(jobs, "start")
    jobs.views[JOB] = replace(jobs.views[JOB], since="2026-12-07T10:00:00+00:00")
    status = ask(jobs, "status")
    assert status.stdout == (
        "Your webservice of type python3.11 is running on backend slurm since "
        f"2026-12-07T10:00:00+00:00, at {URL}\n"
    )
    assert ask(jobs, "stop").stderr == "Stopping webservice\n" and jobs.job(JOB) is None


def test_bad_input_is_refused_and_changes_nothing() -> None:
    jobs = FakeJobs()
    unknown = ask(jobs, "php5.6", "start")
    assert unknown.code == 1 and unknown.stderr.startswith("type must be one of:")
    assert ask(jobs, "python3.11", "launch").code == 2
    assert ask(jobs, "--mem", "lots", "start").code == 1
    assert ask(jobs, "--mem", "64Gi", "start").code == 1  # over the quota, with the figure
    assert jobs.job(JOB) is None and jobs.calls == []
    helped = ask(jobs, "--help")
    assert helped.code == 0 and "python3.11 (default)" in helped.stdout
    assert "  * php8.2\n" in helped.stdout and "  * static\n" in helped.stdout
    assert "  * php8.2\n" in unknown.stderr


def test_logs_are_read_by_the_client() -> None:
    jobs = FakeJobs()
    ask(jobs, "start")
    logs = ask(jobs, "logs", "-f")
    assert logs.follow and logs.read_logs[0].endswith("/webservice.out")


# What the runner says is missing, for each type, when a tool has nothing to serve.
MISSING = {
    "python3.11": "/www/python/src/app.py is missing",
    "php8.2": "/public_html is missing: the php8.2 type serves its files",
    "static": "/public_html is missing: the static type serves its files",
    "generic": "generic runs the server given with --command",
}


def test_every_type_is_one_the_runner_knows() -> None:
    assert sorted(MISSING) == sorted(TYPES)


@pytest.mark.parametrize(("kind", "missing"), MISSING.items())
def test_the_runner_says_in_one_line_what_is_missing(
    tmp_path: Path, kind: str, missing: str
) -> None:
    runner = tmp_path / "ats-webservice"
    runner.write_text(template("ats-webservice.tmpl"))
    runner.chmod(0o755)
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    alone = subprocess.run([runner, kind], env=environment, capture_output=True, text=True)
    assert alone.returncode == 2 and "toolforge webservice start" in alone.stderr
    environment["ATS_WEB_SOCKET"] = str(tmp_path / "web.sock")
    done = subprocess.run([runner, kind], env=environment, capture_output=True, text=True)
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and missing in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ats-webservice"]  # nothing started
