"""Where a tool runs, as its page on the bridge tells it: its web address and web service,
and its jobs, read from the store's records of them (`membership.records.ToolJobRecord`).

Pure: `runs_of` takes the tool's job records and the front door's address template and
returns what the page shows. The runtime owns the jobs (`runtime.jobspec` writes the
definition as JSON, its controller the status); the bridge does not import it (they are
siblings) and reads the few keys it shows from the JSON itself: a job's type in the words
`toolforge jobs list` prints (`continuous`, `normal`, `schedule: CRON`) and its status in
the controller's words (Toolforge's, in English), None before the controller looked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from membership.records import WEB_SERVICE_JOB, ToolJobRecord

RUNNING = "Running"  # the controller's status of a job whose run is under way
# The controller's states of a job that has no run and starts none by itself.
ENDED = frozenset({"done", "failed", "stopped"})

Web = Literal["running", "starting", "stopped", "absent"]


@dataclass(frozen=True)
class JobLine:
    """One job: its name, its type as Toolforge words it ("" when its definition cannot
    be read) and the controller's status (None: not looked at yet)."""

    name: str
    type: str
    status: str | None


@dataclass(frozen=True)
class Runs:
    """The tool's address ("" without a front door), how its web service stands (with
    the controller's status of its job) and its jobs by name."""

    url: str
    web: Web
    web_status: str | None
    jobs: tuple[JobLine, ...]


def tool_url(template: str, tool: str) -> str:
    """The tool's address from the template `https://{tool}.DOMAIN/` ("" stays "")."""
    return template.replace("{tool}", tool) if template else ""


def job_type(spec: str) -> str:
    """The job's type as `toolforge jobs list` prints it, from its definition's JSON."""
    try:
        data = json.loads(spec)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    if data.get("schedule"):
        return f"schedule: {data['schedule']}"
    return "continuous" if data.get("continuous") else "normal"


def web_state(job: ToolJobRecord | None) -> Web:
    """How the web service stands: its job running, on its way, ended, or not there."""
    if job is None:
        return "absent"
    if job.status == RUNNING:
        return "running"
    return "stopped" if job.state in ENDED else "starting"


def runs_of(tool: str, jobs: Iterable[ToolJobRecord], web_url: str) -> Runs:
    """What the tool's page shows of where it runs (`jobs`: the tool's records)."""
    ordered = sorted(jobs, key=lambda job: job.name)
    web = next((job for job in ordered if job.name == WEB_SERVICE_JOB), None)
    return Runs(
        url=tool_url(web_url, tool),
        web=web_state(web),
        web_status=web.status if web is not None else None,
        jobs=tuple(JobLine(job.name, job_type(job.spec), job.status) for job in ordered),
    )
