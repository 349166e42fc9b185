"""Reading `squeue --json` (runtime/slurm.py, `parse_jobs`): a sample of what Debian 12's
Slurm 22.05.8 answers, cut to the fields around the ones read, for a running run and a
job waiting for its begin time; and the controller writing down, from it, the node a
run is on (what the front door routes a web service by), and telling a run that moved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from membership.store import Store
from runtime.controller import Controller
from runtime.jobspec import JobSpec
from runtime.slurm import Mark, SlurmError, SlurmJob, Submission, parse_jobs

RUNNING = {
    "job_id": 1,
    "name": "webservice",
    "job_state": "RUNNING",
    "nodes": "tools2",
    "batch_host": "tools2",
    "node_count": 1,
    "user_name": "tools.mytool",
    "comment": "ats-runtime:mytool:webservice:1:1",
    "start_time": 1796646423,
    "end_time": 1828182423,
    "exit_code": 0,
    "state_reason": "None",
    "job_resources": {
        "nodes": "tools2",
        "allocated_cores": 1,
        "allocated_hosts": 1,
        "allocated_nodes": [
            {
                "sockets": {"0": {"cores": {"0": "allocated"}}},
                "nodename": "tools2",
                "cpus_used": 0,
                "memory_used": 0,
                "memory_allocated": 64,
            }
        ],
    },
}
PENDING = {
    "job_id": 2,
    "name": "later",
    "job_state": "PENDING",
    "nodes": "",
    "batch_host": "",
    "node_count": 1,
    "user_name": "tools.mytool",
    "comment": "",
    "start_time": 1796646482,
    "end_time": 6091613718,
    "exit_code": 0,
    "state_reason": "BeginTime",
}
META = {
    "plugin": {"type": "openapi/v0.0.38", "name": "Slurm OpenAPI v0.0.38"},
    "Slurm": {"version": {"major": 22, "micro": 8, "minor": 5}, "release": "22.05.8"},
}


def test_a_run_is_read_with_the_node_it_runs_on() -> None:
    running, pending = parse_jobs(
        json.dumps({"meta": META, "errors": [], "jobs": [RUNNING, PENDING]})
    )
    assert (running.id, running.state, running.user) == (1, "RUNNING", "tools.mytool")
    assert running.mark == Mark("mytool", "webservice", 1, 1)
    assert running.node == "tools2" and running.active
    assert (running.exit_code, running.signal) == (None, None)
    assert (pending.node, pending.reason, pending.mark) == ("", "BeginTime", None)


def test_an_answer_that_is_not_squeues_json_is_one_line() -> None:
    for text in ("squeue: error", '{"jobs": [{"name": "no id"}]}', "[]"):
        with pytest.raises(SlurmError, match="not its JSON"):
            parse_jobs(text)


class SampledSlurm:
    """Slurm answering `squeue --json` with the sample, for the runs submitted."""

    def __init__(self) -> None:
        self.answer: list[dict[str, Any]] = []

    def submit(self, submission: Submission) -> int:
        self.answer.append({**RUNNING, "job_id": 100, "comment": str(submission.mark)})
        return 100

    def jobs(self) -> list[SlurmJob]:
        return parse_jobs(json.dumps({"meta": META, "errors": [], "jobs": self.answer}))

    def cancel(self, job_ids: list[int]) -> None:
        raise AssertionError(f"nothing is cancelled here: {job_ids}")


def placement(tool: str, spec: JobSpec, mark: Mark) -> Submission:
    home = f"/data/project/{tool}"
    return Submission(
        f"tools.{tool}", spec.name, mark, spec.command, home, f"{home}/o", None, 512, 1, "/usr/bin"
    )


def test_the_controller_records_the_node_and_reconcile_tells_a_run_that_moved(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "ats.sqlite")
    store.record_account("mytool", "tool", "mytool", 6001)
    store.record_account("alice", "person", "Alice", 5001)
    store.set_tool_maintainers("mytool", ["Alice"], "Admin")
    spec = JobSpec("webservice", "ats-webservice python3.11", "bookworm", continuous=True)
    store.put_tool_job("mytool", "webservice", spec.to_text())
    slurm = SampledSlurm()
    controller = Controller(store, slurm, placement)

    assert controller.converge().started == ["mytool/webservice"]
    assert controller.drift() == [
        "mytool/webservice: runs on tools2, the store says none",
    ]
    controller.converge()
    job = store.tool_job("mytool", "webservice")
    assert job is not None and (job.slurm_id, job.status, job.node) == (100, "Running", "tools2")
    assert controller.drift() == []

    slurm.answer[0] |= {"batch_host": "tools3", "nodes": "tools3"}  # requeued elsewhere
    assert controller.drift() == ["mytool/webservice: runs on tools3, the store says tools2"]
    controller.converge()
    assert (store.tool_job("mytool", "webservice") or job).node == "tools3"
    store.close()
