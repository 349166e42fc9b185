"""Mails about tools' jobs (runtime/mail.py), short of sending them: which events mail
for each `--emails`, to whom, in which language and words, and the controller queueing
each mail once, in the transaction that records its event."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from ats.config import MailSettings
from membership.records import ToolJobRecord
from membership.store import Store
from policies import message_files
from policies.message_parameters import PARAMETERS
from runtime import mail
from runtime.controller import Controller
from runtime.jobspec import EMAILS, JobSpec
from runtime.slurm import Mark, SlurmJob, Submission
from tests.builders import add_request

SETTINGS = MailSettings(relay="127.0.0.1", sender="tools@ts.example", recipient_domain="ts.example")
NO_RELAY = replace(SETTINGS, relay="")
SPEC = JobSpec("feed", "python3 feed.py --token=s3cret", "python3.11", emails="all")
AT = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
ENDED_OK = {"exit": "COMPLETED", "state": "done", "ended_at": "2026-03-01T12:30:00+00:00"}
ENDED_BADLY = {"exit": "FAILED: exit code 3", "state": "failed"} | {
    "ended_at": "2026-03-01T12:30:00+00:00",
    "hint": "the last run ended FAILED: exit code 3",
}
LANGUAGES = ("de", "fr", "es", "he")


def messages(lang: str) -> dict[str, str]:
    data = json.loads((message_files.I18N_DIR / f"{lang}.json").read_text("utf-8"))
    return {key: text for key, text in data.items() if key.startswith(mail.PREFIX)}


# -- which events mail ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("emails", "started", "succeeded", "failed"),
    [
        ("none", False, False, False),
        ("all", True, True, True),
        ("onfinish", False, True, True),
        ("onfailure", False, False, True),
    ],
)
def test_each_emails_choice_mails_the_events_toolforge_mails(
    emails: str, started: bool, succeeded: bool, failed: bool
) -> None:
    assert mail.wanted(emails, "started", {"slurm_id": 7, "run": 1}) is started
    assert mail.wanted(emails, "ended", ENDED_OK) is succeeded
    assert mail.wanted(emails, "ended", ENDED_BADLY) is failed
    killed = {"exit": "OUT_OF_MEMORY: signal 9", "state": "waiting"}
    assert mail.wanted(emails, "ended", killed) is failed


def test_every_choice_the_jobs_service_takes_is_known() -> None:
    for emails in EMAILS:
        assert mail.wanted(emails, "ended", ENDED_BADLY) is (emails != "none")


# -- to whom, in which language -----------------------------------------------------------


@pytest.fixture
def maintained(store: Store) -> Store:
    """The tool `bot`, maintained by Alice (in good standing), Bob (suspended) and Carol
    (no shell account)."""
    store.record_account("bot", "tool", "bot", 6001)
    store.record_account("alice", "person", "Alice", 5001)
    store.record_account("bob", "person", "Bob", 5002)
    store.set_account_suspended("bob", "lapsed")
    store.set_tool_maintainers("bot", ["Alice", "Bob", "Carol"], "Admin")
    return store


def test_the_maintainers_in_good_standing_are_mailed_at_their_shell_names(
    maintained: Store,
) -> None:
    assert mail.recipients(maintained, "bot", "ts.example") == ("alice@ts.example",)
    maintained.record_account("carol", "person", "Carol", 5003)
    assert mail.recipients(maintained, "bot", "ts.example") == (
        "alice@ts.example",
        "carol@ts.example",
    )
    assert mail.recipients(maintained, "other", "ts.example") == ()


def test_the_maintainers_of_a_tool_made_by_request_are_its_requesters(store: Store) -> None:
    store.record_account("dora", "person", "Dora", 5004)
    fields = {"tool": "bot", "maintainers": "Eve"}
    add_request(store, "Dora", type="tool", state="done", fields=fields, lang="fr")
    assert mail.recipients(store, "bot", "ts.example") == ("dora@ts.example",)


@pytest.mark.parametrize(
    ("asked", "written"), [("fr", "fr"), ("de-at", "de"), ("he", "he"), ("it", "en"), ("", "en")]
)
def test_the_language_is_the_tool_requests(store: Store, asked: str, written: str) -> None:
    assert mail.language_of(store, "bot") == "en"  # a tool made without a request
    add_request(store, "Dora", type="tool", state="done", fields={"tool": "bot"}, lang=asked)
    assert mail.language_of(store, "bot") == written


def test_the_newest_done_tool_request_gives_the_language(store: Store) -> None:
    add_request(
        store, "Dora", key="a", type="tool", state="done", fields={"tool": "bot"}, lang="de"
    )
    add_request(
        store, "Dora", key="b", type="tool", state="done", fields={"tool": "bot"}, lang="es"
    )
    add_request(store, "Dora", key="c", type="tool", state="received", fields={"tool": "bot"})
    assert mail.language_of(store, "bot") == "es"


# -- the words ------------------------------------------------------------------------------


def test_a_failed_run_says_what_when_and_how_to_look() -> None:
    words = mail.compose("bot", SPEC, "ended", ENDED_BADLY)
    assert words.subject == "[bot] The job feed failed"
    assert words.body.startswith(
        "The job feed of the tool bot failed at 2026-03-01 12:30:00 UTC: FAILED: exit code 3.\n"
    )
    for line in ("become bot", "toolforge jobs show feed", "toolforge jobs logs feed"):
        assert f"\n    {line}\n" in words.body
    assert "--emails all" in words.body
    assert "The jobs service adds" not in words.body  # the hint only repeated the ending
    assert "s3cret" not in words.body and "feed.py" not in words.body  # not the command


def test_a_started_run_and_a_finished_one() -> None:
    started = mail.compose("bot", SPEC, "started", {"slurm_id": 7, "run": 1}, at=AT)
    assert started.subject == "[bot] The job feed started"
    assert started.body.startswith(
        "The job feed of the tool bot was started at 2026-03-01 12:00:05 UTC."
    )
    finished = mail.compose("bot", SPEC, "ended", ENDED_OK)
    assert finished.subject == "[bot] The job feed finished"
    assert "finished successfully at 2026-03-01 12:30:00 UTC." in finished.body


@pytest.mark.parametrize(
    ("spec", "facts", "said"),
    [
        (
            replace(SPEC, continuous=True),
            {"exit": "FAILED: exit code 1", "state": "waiting"},
            "It is a continuous job: it is started again.",
        ),
        (
            replace(SPEC, continuous=True),
            {"exit": "FAILED: exit code 1", "state": "backoff"}
            | {"not_before": "2026-03-01T12:31:04+00:00", "hint": "keeps ending"},
            "It is started again at 2026-03-01 12:31:04 UTC.",
        ),
        (
            replace(SPEC, retry=3),
            {"exit": "FAILED: exit code 1", "state": "waiting", "attempts": 2},
            "It is tried again (retry 2 of 3).",
        ),
        (
            replace(SPEC, schedule="@daily"),
            {"exit": "COMPLETED", "state": "waiting", "attempts": 0},
            "It runs again at the next time its schedule (@daily) gives.",
        ),
    ],
)
def test_what_happens_next_is_said(spec: JobSpec, facts: dict[str, Any], said: str) -> None:
    assert f"\n{said}\n" in mail.compose("bot", spec, "ended", facts, at=AT).body


def test_an_explanation_beyond_the_ending_is_passed_on() -> None:
    facts = {"exit": "OUT_OF_MEMORY: signal 9", "state": "failed"}
    facts["hint"] = "the job ran out of memory (512Mi): ask for more with --mem"
    body = mail.compose("bot", SPEC, "ended", facts, at=AT).body
    assert f"\nThe jobs service adds: {facts['hint']}\n" in body


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_every_mail_message_with_the_english_parameters(lang: str) -> None:
    english, ours = messages("en"), messages(lang)
    assert set(ours) == set(english) and len(english) >= 10
    for key, text in ours.items():
        assert set(re.findall(r"\$\d+", text)) == set(re.findall(r"\$\d+", english[key])), key
    assert set(messages("qqq")) == set(english)
    assert all(text.strip() for text in messages("qqq").values())
    assert {key for key in PARAMETERS if key.startswith(mail.PREFIX)} <= set(english)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_mail_is_written_wholly_in_its_language(lang: str) -> None:
    english = mail.compose(
        "bot", replace(SPEC, retry=2), "ended", ENDED_BADLY | {"state": "waiting", "attempts": 1}
    )
    words = mail.compose(
        "bot",
        replace(SPEC, retry=2),
        "ended",
        ENDED_BADLY | {"state": "waiting", "attempts": 1},
        lang=lang,
    )
    assert "$" not in words.subject + words.body and "{{" not in words.body
    assert "bot" in words.subject and "feed" in words.subject
    english_lines = set(english.body.splitlines()) - {"", "-- "}
    ours = set(words.body.splitlines())
    assert english_lines & ours == {
        "    become bot",
        "    toolforge jobs show feed",
        "    toolforge jobs logs feed",
    }


# -- queueing --------------------------------------------------------------------------------


def record(store: Store, spec: JobSpec = SPEC) -> ToolJobRecord:
    store.put_tool_job("bot", spec.name, spec.to_text())
    found = store.tool_job("bot", spec.name)
    assert found is not None
    return found


def test_the_notice_queues_one_mail_per_event_and_only_with_a_relay(maintained: Store) -> None:
    job = record(maintained)
    with maintained.transaction():
        mail.notice(maintained, NO_RELAY, "ended", job, SPEC, ENDED_BADLY)
    assert maintained.tool_job_mails() == []
    for _ in range(2):
        with maintained.transaction():
            mail.notice(maintained, SETTINGS, "ended", job, SPEC, ENDED_BADLY)
    [queued] = maintained.tool_job_mails()
    assert (queued.tool, queued.job, queued.event) == ("bot", "feed", "ended")
    assert queued.recipients == ("alice@ts.example",)
    assert queued.subject == "[bot] The job feed failed"
    quiet = replace(SPEC, emails="onfailure")
    with maintained.transaction():
        mail.notice(maintained, SETTINGS, "started", job, quiet, {"slurm_id": 8, "run": 2})
        mail.notice(maintained, SETTINGS, "ended", job, quiet, ENDED_OK)
    assert len(maintained.tool_job_mails()) == 1


def test_a_mail_that_cannot_be_written_leaves_the_event_recorded(
    maintained: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    job = record(maintained)

    def broken(*args: Any, **kwargs: Any) -> mail.Words:
        raise KeyError("ats-mail-failed")

    monkeypatch.setattr(mail, "compose", broken)
    with maintained.transaction():
        maintained.update_tool_job("bot", "feed", job.generation, {"exit": "FAILED"})
        mail.notice(maintained, SETTINGS, "ended", job, SPEC, ENDED_BADLY)
    assert maintained.tool_job_mails() == []
    assert (maintained.tool_job("bot", "feed") or job).exit == "FAILED"
    assert "the mail about the run ended is not sent" in caplog.text


def test_nobody_to_mail_queues_nothing(store: Store) -> None:
    job = record(store)
    with store.transaction():
        mail.notice(store, SETTINGS, "ended", job, SPEC, ENDED_BADLY)
    assert store.tool_job_mails() == []


def test_a_job_deleted_and_defined_again_mails_about_its_runs_afresh(store: Store) -> None:
    first = record(store)
    again = replace(first, created_at="2026-03-02T00:00:00+00:00")  # generation 1 again
    assert mail.run_key(first, 1) != mail.run_key(again, 1)
    assert mail.run_key(first, 1) != mail.run_key(replace(first, generation=2), 1)


class FakeSlurm:
    """Slurm in memory: what was submitted runs until `end` says how it ended."""

    def __init__(self) -> None:
        self.runs: dict[int, SlurmJob] = {}

    def submit(self, submission: Submission) -> int:
        job_id = 100 + len(self.runs)
        self.runs[job_id] = SlurmJob(
            job_id, "RUNNING", submission.user, submission.mark, None, None, 1, 0, ""
        )
        return job_id

    def jobs(self) -> list[SlurmJob]:
        return list(self.runs.values())

    def cancel(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.runs[job_id] = replace(self.runs[job_id], state="CANCELLED")

    def end(self, state: str, exit_code: int) -> None:
        for job_id, run in self.runs.items():
            if run.active:
                self.runs[job_id] = replace(run, state=state, exit_code=exit_code, end_time=60)


def placement(tool: str, spec: JobSpec, mark: Mark) -> Submission:
    home = f"/data/project/{tool}"
    return Submission(
        f"tools.{tool}", spec.name, mark, spec.command, home, f"{home}/o", None, 512, 1, "/usr/bin"
    )


def test_the_controller_queues_each_mail_once_with_the_event(maintained: Store) -> None:
    record(maintained, replace(SPEC, retry=1))
    slurm = FakeSlurm()
    controller = Controller(maintained, slurm, placement, notice=mail.notices(maintained, SETTINGS))
    controller.converge()
    slurm.end("FAILED", 3)
    controller.converge()  # the end recorded, the retry submitted
    controller.converge()
    slurm.end("COMPLETED", 0)
    controller.converge()
    controller.converge()
    subjects = [m.subject for m in maintained.tool_job_mails()]
    assert subjects == [
        "[bot] The job feed started",
        "[bot] The job feed failed",
        "[bot] The job feed started",
        "[bot] The job feed finished",
    ]
    retried = maintained.tool_job_mails()[1]
    assert "It is tried again (retry 1 of 1)." in retried.body
    assert len({m.run_key for m in maintained.tool_job_mails()}) == 2
