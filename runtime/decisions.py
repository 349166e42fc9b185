"""What the controller does about one job in one pass, decided from plain data: the job
as the store has it, its definition, the runs Slurm knows of it, and the time.

`decide` returns a `Step`: the store columns to write (among them the node a run is on,
as Slurm says), whether to start a run (and for which tick), a run to submit again
(numbered before a crash, never seen by Slurm), and the Slurm jobs to cancel. The
rules, in Toolforge's terms:

- a **continuous** job always has a run: one that ends is started again at once; one
  that keeps ending within `QUICK_EXIT` seconds of starting waits twice as long before
  each new start (up to `BACKOFF_MAX`), and its hint says so;
- a **one-off** (normal) job runs once; a failed run is tried again up to `retry` times;
  its final status stays until the job is deleted;
- a **scheduled** job starts when a tick of its schedule is due that it has not started
  (the newest only: ticks missed while nothing ran make one run, not a storm); a tick
  that comes while the previous run still runs is skipped and said in the hint;
- a run of an older generation (the job was changed or restarted) is cancelled, and so
  is every run of a tool that may not run now (disabled, or no maintainer in good
  standing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from membership.records import ToolJobRecord
from policies.times import iso
from runtime.jobspec import JobSpec
from runtime.schedules import ScheduleError, parse
from runtime.slurm import SlurmJob

QUICK_EXIT = 10.0  # seconds: a continuous run that ends sooner counts as a quick exit
BACKOFF_MAX = 300.0  # seconds: the longest wait before a continuous job starts again

STATUS_OF_STATE = {
    "PENDING": "Pending",
    "CONFIGURING": "Starting",
    "RUNNING": "Running",
    "COMPLETING": "Running",
    "SUSPENDED": "Suspended",
}


@dataclass(frozen=True)
class Step:
    changes: dict[str, Any] = field(default_factory=dict)
    start: bool = False
    tick: str | None = None  # the tick a scheduled start is for
    again: int | None = None  # submit this numbered run again
    cancel: tuple[int, ...] = ()


def decide(
    job: ToolJobRecord,
    spec: JobSpec,
    runs: list[SlurmJob],
    now: datetime,
    *,
    allowed: str | None = None,
) -> Step:
    """One pass over one job. `runs`: Slurm's jobs marked with this job's tool and name
    (and submitted by its tool); `allowed`: None when the tool may run, else why not."""
    current = {
        run.mark.run: run for run in runs if run.mark and run.mark.generation == job.generation
    }
    stale = tuple(
        run.id for run in runs if run.active and run.mark and run.mark.generation != job.generation
    )
    if allowed is not None:
        cancel = stale + tuple(run.id for run in current.values() if run.active)
        stopped: dict[str, Any] = {"state": "stopped", "status": "Stopped", "hint": allowed}
        stopped |= {"slurm_id": None, "starting": None, "node": None}
        return Step(_differing(job, stopped), cancel=cancel)
    if job.state == "stopped":  # allowed again: start afresh
        return Step(
            _differing(job, {"state": "waiting", "status": None, "hint": None}), cancel=stale
        )
    if job.starting is not None:
        seen = current.get(job.starting)
        if seen is None:
            return Step(again=job.starting, cancel=stale)
        return Step(_running(job, seen) | {"starting": None}, cancel=stale)
    if job.slurm_id is not None:
        seen = next((run for run in current.values() if run.id == job.slurm_id), None)
        if seen is not None and seen.active:
            return _still_running(job, spec, seen, now, stale)
        return _ended(job, spec, seen, now, stale)
    return _idle(job, spec, now, stale)


def status_of(run: SlurmJob) -> str:
    return STATUS_OF_STATE.get(run.state, run.state.capitalize())


def _running(job: ToolJobRecord, run: SlurmJob) -> dict[str, Any]:
    changes: dict[str, Any] = {"slurm_id": run.id, "state": "running", "status": status_of(run)}
    changes["node"] = run.node or None  # none while it waits for one
    if run.start_time:
        changes["started_at"] = iso(datetime.fromtimestamp(run.start_time, UTC))
    if run.state == "PENDING" and run.reason not in ("", "None"):
        changes["hint"] = f"Slurm is holding the job back: {run.reason}"
    return changes


def _still_running(
    job: ToolJobRecord, spec: JobSpec, run: SlurmJob, now: datetime, stale: tuple[int, ...]
) -> Step:
    changes = _running(job, run)
    lasted = now.timestamp() - run.start_time if run.start_time else 0.0
    if spec.continuous and job.quick_exits and lasted >= QUICK_EXIT:
        changes |= {"quick_exits": 0, "hint": None}
    if spec.schedule:
        due = _due(job, spec, now)
        if due is not None:
            changes["last_tick"] = due
            changes["hint"] = (
                f"the run of {job.last_tick or 'an earlier tick'} was still going at {due}: "
                "that tick was skipped"
            )
    return Step(_differing(job, changes), cancel=stale)


def _ended(
    job: ToolJobRecord, spec: JobSpec, run: SlurmJob | None, now: datetime, stale: tuple[int, ...]
) -> Step:
    ending = run.ending() if run else "UNKNOWN (Slurm no longer knows the run)"
    succeeded = bool(run and run.succeeded)
    changes: dict[str, Any] = {"slurm_id": None, "exit": ending, "ended_at": iso(now)}
    changes["node"] = None
    if run and run.end_time:
        changes["ended_at"] = iso(datetime.fromtimestamp(run.end_time, UTC))
    hint = _why(run, spec) if not succeeded else None
    if spec.continuous:
        lasted = (run.end_time - run.start_time) if run and run.start_time else 0
        quick = lasted < QUICK_EXIT
        exits = job.quick_exits + 1 if quick else 0
        wait = 0.0 if exits <= 1 else min(2.0 ** (exits - 1), BACKOFF_MAX)
        changes |= {"quick_exits": exits, "status": "Restarting"}
        if wait:
            changes |= {
                "state": "backoff",
                "not_before": iso(now + timedelta(seconds=wait)),
                "hint": f"the job keeps ending within seconds of starting (last: {ending}); "
                f"it starts again in {wait:.0f} s, waiting longer each time",
            }
            return Step(changes, cancel=stale)
        return Step(changes | {"state": "waiting", "hint": hint}, start=True, cancel=stale)
    if not succeeded and job.attempts < spec.retry:
        attempts = job.attempts + 1
        changes |= {"attempts": attempts, "state": "waiting"}
        changes |= {"status": f"Retrying ({attempts} of {spec.retry})", "hint": hint}
        return Step(changes, start=True, cancel=stale)
    if spec.schedule:
        changes |= {"state": "waiting", "status": "Waiting for scheduled time", "attempts": 0}
        changes["hint"] = f"the last run failed: {hint}" if hint else None
        return Step(changes, cancel=stale)
    final = {"state": "done", "status": "Completed"} if succeeded else {"state": "failed"}
    if not succeeded:
        final["status"] = "Failed"
    return Step(changes | final | {"hint": hint}, cancel=stale)


def _idle(job: ToolJobRecord, spec: JobSpec, now: datetime, stale: tuple[int, ...]) -> Step:
    if spec.schedule:
        due = _due(job, spec, now)
        if due is None:
            waiting = {"status": "Waiting for scheduled time"}
            return Step(_differing(job, waiting), cancel=stale)
        return Step(start=True, tick=due, cancel=stale)
    if job.state in ("done", "failed"):
        return Step(cancel=stale)
    if job.not_before and now < datetime.fromisoformat(job.not_before):
        return Step(cancel=stale)
    return Step(start=True, cancel=stale)


def _due(job: ToolJobRecord, spec: JobSpec, now: datetime) -> str | None:
    """The newest tick at or before `now` that the job has not started, if any: ticks
    count from the last one started, or from when this generation was defined (the
    store sets `last_tick` then)."""
    try:
        schedule = parse(spec.schedule or "", spec.name)
    except ScheduleError:
        return None
    latest = schedule.latest(now)
    since = datetime.fromisoformat(job.last_tick or job.created_at)
    if latest is None or latest <= since:
        return None
    return iso(latest)


def _why(run: SlurmJob | None, spec: JobSpec) -> str:
    if run is None:
        return "Slurm no longer knows the run; it ended while the controller was away"
    if run.state == "OUT_OF_MEMORY":
        return f"the job ran out of memory ({spec.mem or 'the default'}): ask for more with --mem"
    if run.state == "CANCELLED":
        return "the run was cancelled outside toolforge jobs"
    return f"the last run ended {run.ending()}"


def _differing(job: ToolJobRecord, changes: dict[str, Any]) -> dict[str, Any]:
    """Only the changes that change something."""
    return {key: value for key, value in changes.items() if getattr(job, key) != value}
