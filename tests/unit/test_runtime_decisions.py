"""What the runtime's controller decides for one job, on plain data (runtime/decisions.py);
the real thing, with Slurm, is tests/integration/test_runtime_jobs.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from membership.records import ToolJobRecord
from policies.times import iso
from runtime.decisions import BACKOFF_MAX, QUICK_EXIT, decide
from runtime.jobspec import JobSpec
from runtime.slurm import Mark, SlurmJob

NOW = datetime(2026, 12, 7, 10, 0, 30, tzinfo=UTC)
DEFINED = iso(NOW - timedelta(hours=1))


def job(**changes: object) -> ToolJobRecord:
    record = ToolJobRecord(
        tool="bot",
        name="feed",
        spec="{}",
        generation=3,
        run=0,
        starting=None,
        slurm_id=None,
        state="waiting",
        status=None,
        hint=None,
        attempts=0,
        quick_exits=0,
        not_before=None,
        last_tick=DEFINED,
        started_at=None,
        ended_at=None,
        exit=None,
        created_at=DEFINED,
        updated_at=DEFINED,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def spec(**changes: object) -> JobSpec:
    return replace(JobSpec("feed", "./feed.sh", "bookworm"), **changes)  # type: ignore[arg-type]


def run(
    slurm_id: int,
    state: str,
    *,
    run_number: int = 1,
    generation: int = 3,
    lasted: float = 60.0,
    exit_code: int | None = None,
    signal: int | None = None,
    node: str = "tools1",
) -> SlurmJob:
    started = int(NOW.timestamp() - lasted - 1)
    ended = 0 if state in ("RUNNING", "PENDING") else int(started + lasted)
    return SlurmJob(
        id=slurm_id,
        state=state,
        user="tools.bot",
        mark=Mark("bot", "feed", generation, run_number),
        exit_code=exit_code,
        signal=signal,
        start_time=0 if state == "PENDING" else started,
        end_time=ended,
        reason="None",
        node="" if state == "PENDING" else node,
    )


# -- one-off jobs ------------------------------------------------------------------


def test_a_new_one_off_job_starts() -> None:
    step = decide(job(), spec(), [], NOW)
    assert step.start and step.tick is None and not step.cancel


def test_a_running_job_is_written_down_once() -> None:
    running = run(7, "RUNNING")
    step = decide(job(slurm_id=7, state="starting"), spec(), [running], NOW)
    assert step.changes["state"] == "running" and step.changes["status"] == "Running"
    assert step.changes["node"] == "tools1"
    seen = job(slurm_id=7, state="running", status="Running", started_at=step.changes["started_at"])
    assert decide(replace(seen, node="tools1"), spec(), [running], NOW).changes == {}


def test_the_node_a_run_is_on_is_written_down_and_forgotten_when_it_ends() -> None:
    pending = decide(job(slurm_id=7, state="starting"), spec(), [run(7, "PENDING")], NOW)
    assert "node" not in pending.changes  # none yet, and none written
    started = decide(job(slurm_id=7, state="running"), spec(), [run(7, "RUNNING")], NOW)
    assert started.changes["node"] == "tools1"
    on_it = job(slurm_id=7, state="running", status="Running", node="tools1")
    moved = decide(on_it, spec(continuous=True), [run(7, "RUNNING", node="tools2")], NOW)
    assert moved.changes["node"] == "tools2"
    ended = decide(on_it, spec(continuous=True), [run(7, "FAILED", signal=9)], NOW)
    assert ended.start and ended.changes["node"] is None
    stopped = decide(on_it, spec(), [run(7, "RUNNING")], NOW, allowed="disabled")
    assert stopped.cancel == (7,) and stopped.changes["node"] is None


def test_a_completed_one_off_job_stays_completed() -> None:
    step = decide(job(slurm_id=7, state="running"), spec(), [run(7, "COMPLETED")], NOW)
    assert step.changes["state"] == "done" and step.changes["status"] == "Completed"
    assert not step.start
    done = job(state="done", status="Completed")
    assert decide(done, spec(), [], NOW) == decide(done, spec(), [], NOW + timedelta(days=3))
    assert not decide(done, spec(), [], NOW).start


def test_a_failed_one_off_job_is_tried_again_up_to_retry() -> None:
    failed = run(7, "FAILED", exit_code=2)
    step = decide(job(slurm_id=7, state="running"), spec(retry=2), [failed], NOW)
    assert step.start and step.changes["attempts"] == 1
    assert step.changes["status"] == "Retrying (1 of 2)"
    last = decide(job(slurm_id=7, state="running", attempts=2), spec(retry=2), [failed], NOW)
    assert not last.start and last.changes["state"] == "failed"
    assert last.changes["status"] == "Failed"
    assert "exit code 2" in last.changes["hint"] and "exit code 2" in last.changes["exit"]


def test_running_out_of_memory_says_so() -> None:
    oom = run(7, "OUT_OF_MEMORY", exit_code=0, signal=9)
    step = decide(job(slurm_id=7, state="running"), spec(mem="64Mi"), [oom], NOW)
    assert step.changes["state"] == "failed"
    assert "ran out of memory (64Mi)" in step.changes["hint"]
    assert step.changes["exit"].startswith("OUT_OF_MEMORY")


def test_a_run_slurm_forgot_counts_as_failed() -> None:
    step = decide(job(slurm_id=7, state="running"), spec(), [], NOW)
    assert step.changes["state"] == "failed" and "no longer knows" in step.changes["hint"]


# -- continuous jobs ---------------------------------------------------------------


def test_a_continuous_job_killed_after_a_while_starts_again_at_once() -> None:
    killed = run(7, "FAILED", lasted=120, signal=9)
    step = decide(job(slurm_id=7, state="running"), spec(continuous=True), [killed], NOW)
    assert step.start and step.changes["quick_exits"] == 0
    assert step.changes["status"] == "Restarting"


def test_a_continuous_job_that_keeps_dying_backs_off_and_says_why() -> None:
    quick = run(7, "FAILED", lasted=1, exit_code=1)
    first = decide(job(slurm_id=7, state="running"), spec(continuous=True), [quick], NOW)
    assert first.start and first.changes["quick_exits"] == 1  # the first quick exit: at once
    waits = []
    for exits in range(1, 12):
        record = job(slurm_id=7, state="running", quick_exits=exits)
        step = decide(record, spec(continuous=True), [quick], NOW)
        assert not step.start and step.changes["state"] == "backoff"
        assert "keeps ending within seconds" in step.changes["hint"]
        assert "exit code 1" in step.changes["hint"]
        waits.append(datetime.fromisoformat(step.changes["not_before"]) - NOW)
    assert waits[0] == timedelta(seconds=2) and waits[1] == timedelta(seconds=4)
    assert waits == sorted(waits) and waits[-1] == timedelta(seconds=BACKOFF_MAX)
    waiting = job(state="backoff", quick_exits=3, not_before=iso(NOW + timedelta(seconds=8)))
    assert not decide(waiting, spec(continuous=True), [], NOW).start
    assert decide(waiting, spec(continuous=True), [], NOW + timedelta(seconds=9)).start


def test_a_continuous_job_that_stays_up_forgets_its_quick_exits() -> None:
    up = run(7, "RUNNING", lasted=QUICK_EXIT + 1)
    record = job(slurm_id=7, state="running", status="Running", quick_exits=4, hint="x")
    step = decide(record, spec(continuous=True), [up], NOW)
    assert step.changes["quick_exits"] == 0 and step.changes["hint"] is None


# -- scheduled jobs ----------------------------------------------------------------


def test_a_scheduled_job_starts_once_per_tick() -> None:
    every_minute = spec(schedule="* * * * *")
    step = decide(job(), every_minute, [], NOW)
    assert step.start and step.tick == iso(NOW.replace(second=0))
    started = job(last_tick=step.tick)
    assert not decide(started, every_minute, [], NOW + timedelta(seconds=20)).start


def test_ticks_missed_while_nothing_ran_make_one_run() -> None:
    hourly = spec(schedule="0 * * * *")
    long_ago = job(last_tick=iso(NOW - timedelta(days=2)))
    step = decide(long_ago, hourly, [], NOW)
    assert step.start and step.tick == iso(NOW.replace(minute=0, second=0))


def test_a_scheduled_job_defined_between_ticks_waits_for_the_next() -> None:
    hourly = spec(schedule="0 * * * *")
    step = decide(job(last_tick=iso(NOW - timedelta(seconds=10))), hourly, [], NOW)
    assert not step.start and step.changes == {"status": "Waiting for scheduled time"}


def test_a_tick_while_the_last_run_still_runs_is_skipped() -> None:
    every_minute = spec(schedule="* * * * *")
    record = job(slurm_id=7, state="running", last_tick=iso(NOW - timedelta(minutes=5)))
    step = decide(record, every_minute, [run(7, "RUNNING")], NOW)
    assert not step.start and step.changes["last_tick"] == iso(NOW.replace(second=0))
    assert "was still going" in step.changes["hint"]


def test_a_finished_scheduled_run_waits_for_the_next_tick() -> None:
    hourly = spec(schedule="0 * * * *")
    ticked = job(slurm_id=7, state="running", last_tick=iso(NOW.replace(minute=0, second=0)))
    step = decide(ticked, hourly, [run(7, "COMPLETED")], NOW)
    assert not step.start and step.changes["status"] == "Waiting for scheduled time"
    failed = decide(ticked, hourly, [run(7, "FAILED", exit_code=4)], NOW)
    assert "the last run failed" in failed.changes["hint"]


# -- generations, crashes and stopped tools ------------------------------------------


def test_runs_of_an_older_generation_are_cancelled() -> None:
    old = run(5, "RUNNING", generation=2)
    step = decide(job(), spec(continuous=True), [old], NOW)
    assert step.cancel == (5,) and step.start


def test_a_numbered_run_slurm_never_saw_is_submitted_again_not_renumbered() -> None:
    step = decide(job(starting=4, run=4, state="starting"), spec(), [], NOW)
    assert step.again == 4 and not step.start


def test_a_numbered_run_slurm_has_is_written_down_not_submitted() -> None:
    found = run(9, "RUNNING", run_number=4)
    step = decide(job(starting=4, run=4, state="starting"), spec(), [found], NOW)
    assert step.again is None and not step.start
    assert step.changes["slurm_id"] == 9 and step.changes["starting"] is None


def test_a_stopped_tool_has_its_runs_cancelled_and_comes_back() -> None:
    up = run(7, "RUNNING")
    step = decide(job(slurm_id=7, state="running"), spec(continuous=True), [up], NOW, allowed="x")
    assert step.cancel == (7,) and step.changes["state"] == "stopped" and not step.start
    assert step.changes["hint"] == "x"
    again = decide(job(state="stopped"), spec(continuous=True), [], NOW)
    assert again.changes["state"] == "waiting"


def test_a_run_claims_its_mark_before_its_command() -> None:
    from runtime.slurm import Submission

    mark = Mark("bot", "feed", 3, 7)
    claims = "/var/lib/ats-runtime/logs/bot/.runs"
    job = Submission("tools.bot", "feed", mark, "./feed.sh", "/h", "/h/o", None, 64, 1, "/bin")
    alone = job.script().splitlines()
    assert alone[:2] == ["#!/bin/bash", "setsid -w /bin/bash -c ./feed.sh &"]
    lines = (
        Submission(
            "tools.bot", "feed", mark, "./feed.sh", "/h", "/h/o", None, 64, 1, "/bin", claims=claims
        )
        .script()
        .splitlines()
    )
    claim = lines.index(f"if ! mkdir -- {claims}/ats-runtime:bot:feed:3:7 2>/dev/null; then")
    assert lines[claim + 2] == "    exit 0"
    assert lines.index("setsid -w /bin/bash -c ./feed.sh &") > claim
