"""Migrations of the runtime: tools' jobs (0018).

Each function is one named step of `schema.STEPS` and stays as it was first written.
"""

from __future__ import annotations

from sqlite_utils import Database


def tool_jobs(db: Database) -> None:
    # A tool's job as its maintainers defined it (`spec`, the JSON of runtime.jobspec's
    # JobSpec) and what the controller knows of its runs. `generation` grows with every
    # change or restart: a Slurm job of an older generation is cancelled. `run` counts
    # the runs ever started; `starting` is the run being submitted (set, committed, then
    # submitted, then cleared with `slurm_id`), so a controller killed in between finds
    # the run in Slurm by its number rather than starting it again.
    db.table("tool_jobs").create(
        {
            "tool": str,
            "name": str,
            "spec": str,
            "generation": int,
            "run": int,
            "starting": int,
            "slurm_id": int,
            "state": str,  # waiting | starting | running | backoff | done | failed | stopped
            "status": str,  # what `list` shows, in Toolforge's words
            "hint": str,  # why, when something is wrong (shown in `show`)
            "attempts": int,  # failed tries of this generation (one-off and scheduled)
            "quick_exits": int,  # continuous: exits in a row that came within seconds
            "not_before": str,  # the next start waits until then (back-off)
            "last_tick": str,  # scheduled: the tick last started
            "started_at": str,
            "ended_at": str,
            "exit": str,  # how the last run ended: STATE[:code]
            "created_at": str,
            "updated_at": str,
        },
        pk=("tool", "name"),
        not_null={"spec", "generation", "run", "state", "created_at", "updated_at"},
        defaults={"generation": 1, "run": 0, "attempts": 0, "quick_exits": 0},
    )
