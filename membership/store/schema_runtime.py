"""Migrations of the runtime: tools' jobs (0018), the mails about them (0019), the
last generation of deleted jobs (0020) and the node each job's run is on (0023).

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


def tool_job_mails(db: Database) -> None:
    # The outbox of mails about tools' jobs (`--emails`): written in the transaction that
    # records the run's start or end, so a mail is queued exactly when its event is
    # recorded; the unique key keeps one event from being queued twice. A sender claims
    # due mails (`claimed_by`, `claim_until`: a sender killed mid-send leaves them to be
    # claimed again once the claim lapses), then marks each sent, or queued again after
    # a back-off, or failed after its last attempt. `recipients` is a JSON list.
    db.table("tool_job_mails").create(
        {
            "id": int,
            "tool": str,
            "job": str,
            "run_key": str,  # which run of which definition of the job
            "event": str,  # started | ended
            "recipients": str,
            "subject": str,
            "body": str,
            "state": str,  # queued | sending | sent | failed
            "attempts": int,
            "next_attempt_at": str,
            "claimed_by": str,
            "claim_until": str,
            "last_error": str,
            "created_at": str,
            "sent_at": str,
        },
        pk="id",
        not_null={"tool", "job", "run_key", "event", "recipients", "subject", "body", "state"}
        | {"attempts", "next_attempt_at", "created_at"},
        defaults={"attempts": 0},
    )
    db.table("tool_job_mails").create_index(["tool", "job", "run_key", "event"], unique=True)
    db.table("tool_job_mails").create_index(["state", "next_attempt_at"])


def tool_job_generations(db: Database) -> None:
    # The last generation of each job that was deleted. A job defined again under the
    # same name goes on from there, so its runs' marks (tool:name:generation:run) never
    # repeat a deleted definition's: not in Slurm, where an old run still ending must not
    # pass for the new one's, nor in the nodes' claims, which would refuse the new runs
    # as already run.
    db.table("tool_job_generations").create(
        {"tool": str, "name": str, "generation": int},
        pk=("tool", "name"),
        not_null={"generation"},
    )


def tool_job_node(db: Database) -> None:
    # The Slurm node the current run is on (squeue's batch host), as the controller last
    # saw it; NULL while no run has started. The front door routes a tool's web service
    # there: to its socket on the front door's own host, else to the node's door.
    db.table("tool_jobs").add_column("node", str)
