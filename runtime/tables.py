"""What `toolforge jobs` prints, as Toolforge's own command prints it (jobs-framework-cli,
`tjf_cli/cli.py`): the same headers, the same values and the same `tabulate` formats, so
that whatever reads its output keeps working.

`list` is a `pretty` table headed `Job name:`, `Job type:`, `Status:` (with `--output
long` also the command, image, file logs, emails, resources and retries), nothing at
all when there is no job; `show` is a two-column `grid` table ending with the job's
hints; `quota` is one `simple` table per category, a blank line between them, and then the
tool's databases (`databases_table`). Where
Toolforge prints a container image's URL, `images` prints the image's description:
there are no containers here. `--output json` is this runtime's addition (Toolforge's
command has no JSON output): the jobs as Toolforge's jobs API returns them. Every text
ends with a newline, as `print` would end it.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tabulate import tabulate

from membership.records import DatabaseUsage
from runtime.jobspec import JobView
from runtime.policy import QuotaCategory, RuntimePolicy

SHORT = ("Job name:", "Job type:", "Status:")
LONG = (
    "Job name:",
    "Command:",
    "Job type:",
    "Image:",
    "File log:",
    "Output log:",
    "Error log:",
    "Emails:",
    "Resources:",
    "Retry:",
    "Status:",
)
SHOW = (*LONG, "Hints:")
MB = 1024 * 1024  # the databases' sizes are in MB of 1024 × 1024 bytes, as their limit


def job_fields(view: JobView) -> dict[str, str]:
    """Every field `show` prints, by its header, valued as Toolforge values it."""
    spec = view.spec
    if spec.schedule is not None:
        kind = f"schedule: {spec.schedule}"
    else:
        kind = "continuous" if spec.continuous else "normal"
    out = view.out_path if spec.filelog else None
    err = (view.err_path or view.out_path) if spec.filelog else None
    if spec.mem is None and spec.cpu is None:
        resources = "default"
    else:
        resources = f"mem: {spec.mem or 'default'}, cpu: {spec.cpu or 'default'}"
    return {
        "Job name:": spec.name,
        "Command:": spec.command,
        "Job type:": kind,
        "Image:": spec.image,
        "File log:": "yes" if spec.filelog else "no",
        "Output log:": out or "",
        "Error log:": err or "",
        "Emails:": spec.emails,
        "Resources:": resources,
        "Retry:": "no" if spec.retry == 0 else f"yes: {spec.retry} time(s)",
        "Status:": view.status,
        "Hints:": textwrap.fill(" ".join(view.hints)),
    }


def jobs_table(views: Sequence[JobView], *, long: bool = False) -> str:
    """`list` (`long`: `list --output long`); "" when there is no job."""
    if not views:
        return ""
    headers = LONG if long else SHORT
    rows = [[job_fields(view)[header] for header in headers] for view in views]
    return _printed(tabulate(rows, headers=list(headers), tablefmt="pretty"))


def job_names(views: Sequence[JobView]) -> str:
    """`list --output name`: one name a line."""
    return "".join(f"{view.spec.name}\n" for view in views)


def job_table(view: JobView) -> str:
    """`show NAME`."""
    rows = [[header, value] for header, value in job_fields(view).items()]
    return _printed(tabulate(rows, tablefmt="grid"))


def jobs_json(views: Sequence[JobView]) -> str:
    """`list --output json`: a list of jobs in the shape of Toolforge's jobs API."""
    return json.dumps([_api_object(view) for view in views], indent=2) + "\n"


def _api_object(view: JobView) -> dict[str, Any]:
    spec = view.spec
    shown = job_fields(view)
    job: dict[str, Any] = {
        "name": spec.name,
        "cmd": spec.command,
        "image": spec.image,
        "image_state": "stable",
        "filelog": str(spec.filelog),
        "filelog_stdout": shown["Output log:"] or None,
        "filelog_stderr": shown["Error log:"] or None,
        "status_short": view.status,
        "status_long": " ".join(view.hints),
        "emails": spec.emails,
        "retry": spec.retry,
    }
    if spec.schedule is not None:
        job["schedule"] = spec.schedule
    if spec.continuous:
        job["continuous"] = True
    if spec.mem is not None:
        job["memory"] = spec.mem
    if spec.cpu is not None:
        job["cpu"] = spec.cpu
    return job


def images_table(policy: RuntimePolicy) -> str:
    """`images`: each offered image's short name and description."""
    rows = [[name, policy.images[name].description] for name in sorted(policy.images)]
    return _printed(tabulate(rows, headers=["Short name", "Description"], tablefmt="pretty"))


def quota_tables(categories: Sequence[QuotaCategory]) -> str:
    """`quota`: a table per category, headed by its name, `Used` (where counted) and
    `Limit`."""
    tables = []
    for category in categories:
        has_used = any(item.used is not None for item in category.items)
        headers = [category.name, "Used", "Limit"] if has_used else [category.name, "Limit"]
        rows = [
            [item.name, item.used or "0", item.limit] if has_used else [item.name, item.limit]
            for item in category.items
        ]
        tables.append(tabulate(rows, headers=headers, tablefmt="simple"))
    return _printed("\n\n".join(tables))


def databases_table(usage: DatabaseUsage | None) -> str:
    """`quota`'s part about the tool's databases (this runtime's addition: Toolforge's
    ToolsDB has no quota): a `simple` table of each database and its size, and their
    total against the limit, as the databases service last measured them, with when."""
    if usage is None:
        return "Databases: not measured yet (they are measured every few minutes)\n"
    rows = [[name, _megabytes(size), ""] for name, size in usage.databases]
    limit = _megabytes(usage.limit) if usage.limit else "none"
    rows.append(["All databases", _megabytes(usage.total), limit])
    headers = [f"Databases of {usage.user}", "Used", "Limit"]
    lines = [tabulate(rows, headers=headers, tablefmt="simple")]
    measured = datetime.fromisoformat(usage.observed_at).astimezone(UTC)
    lines.append(f"Measured {measured:%Y-%m-%d %H:%M:%S} UTC.")
    if usage.over:
        lines.append(
            f"WARNING: the databases hold {_megabytes(usage.total)}, over the limit of "
            f"{limit}: please make them smaller (the server does not stop them growing; "
            "the maintainers were mailed and the admins told)"
        )
    return _printed("\n".join(lines))


def _megabytes(size: int) -> str:
    return f"{size / MB:.1f} MB"


def _printed(text: str) -> str:
    return f"{text}\n"
