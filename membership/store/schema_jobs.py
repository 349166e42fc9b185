"""Migrations of provisioning and renewal: jobs and accounts (0004), member jobs and
suspended accounts (0006), reminders and suspensions (0007), and reminder claims (0015).

Each function is one named step of `schema.STEPS` and stays as it was first written.
"""

from __future__ import annotations

from sqlite_utils import Database


def provisioning_jobs(db: Database) -> None:
    # A job per request and kind (person | tool), leased by one worker at a time; a
    # lease that runs out (the worker was killed) makes the job available again.
    db.table("jobs").create(
        {
            "id": int,
            "request_id": int,
            "kind": str,  # person | tool
            "payload": str,  # JSON: what the backend is asked to make
            "state": str,  # queued | running | done | failed
            "attempts": int,
            "next_attempt_at": str,
            "last_error": str,
            "leased_by": str,
            "lease_until": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"request_id", "kind", "payload", "state", "attempts", "created_at"},
        defaults={"attempts": 0},
        foreign_keys=[("request_id", "requests", "id")],
    )
    db.table("jobs").create_index(["request_id", "kind"], unique=True)
    db.table("jobs").create_index(["state", "next_attempt_at"])
    # Which wiki user holds which shell name (the backend holds it too; this copy is
    # how a tool's maintainers, named by wiki username, are found by shell name).
    db.table("accounts").create(
        {"shell_name": str, "kind": str, "owner": str, "uid": int, "created_at": str},
        pk="shell_name",
        not_null={"kind", "owner", "created_at"},
    )
    db.table("accounts").create_index(["kind", "owner"], unique=True)


def member_jobs(db: Database) -> None:
    # Jobs about a member rather than a request (keys | suspend | restore): `member`
    # names the wiki user and `request_id` is NULL; one such job per member and kind,
    # queued again when asked again rather than doubled. `suspended_at` on an account
    # is the decision to suspend it (the worker makes it so in the directory).
    db.table("jobs").add_column("member", str)
    db.table("jobs").transform(not_null={"request_id": False})
    db.execute(
        "CREATE UNIQUE INDEX jobs_member_kind ON jobs (member, kind) WHERE request_id IS NULL"
    )
    db.table("accounts").add_column("suspended_at", str)
    db.table("accounts").add_column("suspended_reason", str)


def reminders_and_suspensions(db: Database) -> None:
    # The yearly renewal (membership/renewal.py): each reminder once per member, period
    # (the last covered day) and stage (days before), whether it was posted or why not;
    # and every suspension of a lapsed member with its restore. Nothing is deleted.
    db.table("reminders").create(
        {
            "id": int,
            "member": str,
            "period": str,  # ISO date: the last day the fee or waiver covers
            "stage": int,  # days before the renewal date (policies/fees.toml)
            "outcome": str,  # posted | opted-out | bots-excluded
            "revid": int,
            "note": str,
            "at": str,
        },
        pk="id",
        not_null={"member", "period", "stage", "outcome", "at"},
    )
    db.table("reminders").create_index(["member", "period", "stage"], unique=True)
    db.table("suspensions").create(
        {
            "id": int,
            "member": str,
            "shell_name": str,
            "reason": str,
            "paid_until": str,
            "suspended_at": str,
            "suspend_job": int,
            "restored_at": str,
            "restore_job": int,
            "restore_reason": str,
        },
        pk="id",
        not_null={"member", "shell_name", "reason", "suspended_at"},
    )
    db.executescript(
        "CREATE UNIQUE INDEX suspensions_open ON suspensions (member) WHERE restored_at IS NULL;"
    )


def reminder_claims(db: Database) -> None:
    # A renewal reminder is claimed before it is posted (membership/reminder_claims.py):
    # the row of 0007 (unique per member, period and stage) is written first with the
    # outcome `claimed` and who holds it (a random token, host and pid), then settled.
    db.table("reminders").add_column("claim_token", str)
    db.table("reminders").add_column("claim_host", str)
    db.table("reminders").add_column("claim_pid", int)
    db.table("reminders").add_column("claimed_at", str)


def member_leases(db: Database) -> None:
    # One job at a time per member (the jobs room, membership/store/jobs.py): the worker
    # running a job for the member, which job, and until when (renewed while the job runs).
    db.table("member_leases").create(
        {"member": str, "worker": str, "job_id": int, "until": str},
        pk="member",
        not_null={"worker", "job_id", "until"},
    )


def tool_maintainers(db: Database) -> None:
    # A tool's maintainers as set directly (`ats provision tool`), by wiki username:
    # when a tool has rows here they are its maintainers, whatever its request said.
    db.table("tool_maintainers").create(
        {"tool": str, "wiki_user": str, "set_by": str, "set_at": str},
        pk=("tool", "wiki_user"),
        not_null={"set_by", "set_at"},
    )
