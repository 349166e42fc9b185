"""The runtime's controller: brings Slurm to what the store says each tool's jobs should
be, one pass at a time, while it holds the controller's lease (`ats runtime serve`).

A pass reads every job from the store and every job from Slurm (one `squeue`), then
for each job does what `runtime.decisions.decide` says: cancel runs that should not
run, start runs that should, and write down what it saw. A run is started in three
steps — numbered in the store (`begin_tool_job_run`, committed), submitted to Slurm
with that number in its mark, and its Slurm id written down — so a controller killed
between any two finds the run again by its mark, or submits the numbered run it had
not yet submitted: nothing is started twice, nothing is lost. A Slurm job counts as a
tool's run only when the tool's own user submitted it (a mark is only a comment, which
anyone can write). Runs marked for a job the store no longer has are cancelled.

`drift()` is the same pass without acting: what it would do, in one line each
(`ats runtime reconcile`), and each run that is on another node than the store says (the
front door routes a web service by the store's node).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from membership.maintainers import inactive_tools
from membership.records import ToolJobRecord
from policies.errors import Refusal
from runtime.decisions import Step, decide
from runtime.jobspec import JobSpec
from runtime.slurm import Mark, Slurm, SlurmError, SlurmJob, Submission

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between two passes (a change through the API wakes it at once)

# (tool, spec, mark) -> what to submit for the run; raises a Refusal when it cannot be.
Placement = Callable[[str, JobSpec, Mark], Submission]
# (event "started" | "ended", the job as read, its definition, what was written: for
# "ended" the columns, with `exit` and `state`) -> None; called inside the transaction
# that records the event, so what it writes to the store (a mail to send) is recorded
# exactly when the event is.
Notice = Callable[[str, ToolJobRecord, JobSpec, Mapping[str, Any]], None]


def no_notice(event: str, record: ToolJobRecord, spec: JobSpec, facts: Mapping[str, Any]) -> None:
    """Tell nobody."""


class Stopping(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class Pass:
    started: list[str] = field(default_factory=list)  # tool/name of each run submitted
    cancelled: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopped: dict[str, str] = field(default_factory=dict)  # the tools that may not run, why


class Controller:
    def __init__(
        self,
        store: Any,
        slurm: Slurm,
        placement: Placement,
        *,
        tool_user: Callable[[str], str] = lambda tool: f"tools.{tool}",
        notice: Notice = no_notice,
        after_pass: Callable[[Mapping[str, str]], None] | None = None,
    ) -> None:
        """`after_pass`: what else is brought to the store after each pass (the front
        door's routes), given the tools that may not run; a refusal from it is logged,
        and the next pass tries again."""
        self.store = store
        self.notice = notice
        self.after_pass = after_pass
        self.slurm = slurm
        self.placement = placement
        self.tool_user = tool_user
        self.wake = threading.Event()

    # -- one pass ------------------------------------------------------------------

    def converge(self, now: datetime | None = None) -> Pass:
        """One pass: act on every job; what was done."""
        done = Pass()
        orphans, planned, done.stopped = self._plan(now)
        if orphans:
            self._cancel(orphans, done)
        for record, spec, step in planned:
            self._apply(record, spec, step, done)
        return done

    def drift(self, now: datetime | None = None) -> list[str]:
        """What a pass would do now, one line each; nothing is changed."""
        orphans, planned, _ = self._plan(now)
        lines = [f"Slurm job {job_id}: a run of a job that no longer exists" for job_id in orphans]
        for record, _, step in planned:
            where = f"{record.tool}/{record.name}"
            if step.cancel:
                lines.append(f"{where}: Slurm jobs {', '.join(map(str, step.cancel))} to cancel")
            if step.start or step.again:
                lines.append(f"{where}: no run in Slurm; one is due")
            node = step.changes.get("node")
            if node:  # the front door routes a web service by what the store says
                lines.append(f"{where}: runs on {node}, the store says {record.node or 'none'}")
        return lines

    def _plan(
        self, now: datetime | None
    ) -> tuple[list[int], list[tuple[ToolJobRecord, JobSpec, Step]], dict[str, str]]:
        """What Slurm and the store say now, decided: the orphaned runs to cancel, each
        job's step, and the tools that may not run."""
        records, runs, orphans = self._read()
        moment = now or datetime.now(UTC)
        stopped = stopped_tools(self.store, records)
        planned = []
        for record in records:
            spec = _spec(record)
            runs_of = runs[(record.tool, record.name)]
            step = decide(record, spec, runs_of, moment, allowed=stopped.get(record.tool))
            planned.append((record, spec, step))
        return orphans, planned, stopped

    def _read(self) -> tuple[list[ToolJobRecord], dict[tuple[str, str], list[SlurmJob]], list[int]]:
        records = self.store.tool_jobs()
        known = {(record.tool, record.name) for record in records}
        runs: dict[tuple[str, str], list[SlurmJob]] = defaultdict(list)
        orphans = []
        for job in self.slurm.jobs():
            mark = job.mark
            if mark is None or job.user != self.tool_user(mark.tool):
                continue  # not a run of ours, or a mark written by someone else
            if (mark.tool, mark.name) in known:
                runs[(mark.tool, mark.name)].append(job)
            elif job.active:
                orphans.append(job.id)
        return records, runs, orphans

    def _apply(self, record: ToolJobRecord, spec: JobSpec, step: Step, done: Pass) -> None:
        if step.cancel:
            self._cancel(list(step.cancel), done)
        generation = record.generation
        if step.changes:
            with self.store.transaction():
                written = self.store.update_tool_job(
                    record.tool, record.name, generation, step.changes
                )
                if written and "exit" in step.changes:
                    self.notice("ended", record, spec, step.changes)
        run = step.again
        if step.start:
            run = self.store.begin_tool_job_run(record.tool, record.name, generation, step.tick)
        if run is not None:
            self._submit(record, spec, Mark(record.tool, record.name, generation, run), done)

    def _submit(self, record: ToolJobRecord, spec: JobSpec, mark: Mark, done: Pass) -> None:
        try:
            slurm_id = self.slurm.submit(self.placement(record.tool, spec, mark))
        except Exception as error:  # a Refusal (Slurm, a missing user) or a bug: said, kept
            message = f"the run could not be started: {error}"
            log.warning("%s/%s: %s", record.tool, record.name, message)
            done.errors.append(f"{record.tool}/{record.name}: {message}")
            self.store.update_tool_job(record.tool, record.name, mark.generation, {"hint": message})
            return
        changes = {"starting": None, "slurm_id": slurm_id, "state": "running", "status": "Pending"}
        with self.store.transaction():
            if self.store.update_tool_job(record.tool, record.name, mark.generation, changes):
                self.notice("started", record, spec, {"slurm_id": slurm_id, "run": mark.run})
        done.started.append(f"{record.tool}/{record.name}")
        log.info(
            "%s/%s: started run %d as Slurm job %d", record.tool, record.name, mark.run, slurm_id
        )

    def _cancel(self, job_ids: list[int], done: Pass) -> None:
        try:
            self.slurm.cancel(job_ids)
        except SlurmError as error:
            done.errors.append(str(error))
            return
        done.cancelled.extend(job_ids)

    # -- the service -----------------------------------------------------------------

    def serve(self, lease: Any, stop: Stopping, *, interval: float = INTERVAL) -> None:
        """Pass after pass while `lease` (a held ClerkLease-like lease) stays ours, until
        `stop` is set; a change through the API (`wake`) starts the next pass at once."""
        while not stop.is_set():
            lease.renew()
            done = None
            try:
                done = self.converge()
            except SlurmError as error:
                log.warning("Slurm: %s", error)
            if self.after_pass is not None:
                try:
                    self.after_pass(done.stopped if done else stopped_tools(self.store))
                except Refusal as error:
                    log.warning("%s", error)
            self.wake.wait(interval)
            self.wake.clear()


def stopped_tools(store: Any, records: Sequence[ToolJobRecord] | None = None) -> dict[str, str]:
    """The tools that have jobs and may not run them now, each with why (shown to its
    maintainers: an admin's reason stays with the admins); `records`, every tool's jobs
    when the caller has read them already."""
    jobs = store.tool_jobs() if records is None else records
    with_jobs = {record.tool for record in jobs}
    if not with_jobs:
        return {}
    return inactive_tools(store, with_jobs)


def _spec(record: ToolJobRecord) -> JobSpec:
    return JobSpec.from_text(record.spec)
