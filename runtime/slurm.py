"""Slurm, as the runtime's controller uses it: submit a run as the tool, read what runs,
cancel (the adapter; runtime/controller.py decides).

A run is a batch job submitted with `sbatch` by the tool's own user (`setpriv` to its
uid, gid and groups, with a clean environment), so Slurm runs it as the tool and MUNGE
vouches for the submitter; its script is the maintainer's command, run by bash in the
tool's home. Each run carries a mark in its comment, `ats-runtime:TOOL:NAME:GEN:RUN`,
which is how the controller finds its runs again after a restart (squeue keeps a
finished job for `MinJobAge` seconds). `jobs()` reads every job at once from
`squeue --json`, with the node each runs on (its batch host: a run is one task, so where
its script runs is where a web service listens). Slurm's commands find the cluster
through `SLURM_CONF` (or /etc/slurm/slurm.conf); a command that fails is a `SlurmError`
with Slurm's own line.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from policies.errors import Refusal

MARK = "ats-runtime"
# The states of a job that has not ended (squeue's job_state).
ACTIVE = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
    }
)
TIMEOUT = 30.0  # seconds a Slurm command may take


class SlurmError(Refusal, RuntimeError):
    """Slurm refused or could not be reached; the message is its own line."""


@dataclass(frozen=True)
class Mark:
    tool: str
    name: str
    generation: int
    run: int

    def __str__(self) -> str:
        return f"{MARK}:{self.tool}:{self.name}:{self.generation}:{self.run}"

    @classmethod
    def read(cls, comment: str | None) -> Mark | None:
        parts = (comment or "").split(":")
        if len(parts) != 5 or parts[0] != MARK:
            return None
        try:
            return cls(parts[1], parts[2], int(parts[3]), int(parts[4]))
        except ValueError:
            return None


@dataclass(frozen=True)
class SlurmJob:
    id: int
    state: str  # squeue's job_state: PENDING, RUNNING, COMPLETED, FAILED, OUT_OF_MEMORY, …
    user: str
    mark: Mark | None
    exit_code: int | None  # the command's exit status, when it ended by exiting
    signal: int | None  # the signal that ended it, when one did
    start_time: int  # seconds since the epoch; 0 when not started
    end_time: int
    reason: str  # why it is pending, or how it ended (squeue's state_reason)
    node: str = ""  # the node its batch script runs on (squeue's batch_host); "" when none yet

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def succeeded(self) -> bool:
        return self.state == "COMPLETED" and not self.exit_code

    def ending(self) -> str:
        """How it ended, in a few words: `COMPLETED`, `FAILED: exit code 3`, …"""
        if self.signal:
            return f"{self.state}: signal {self.signal}"
        if self.exit_code:
            return f"{self.state}: exit code {self.exit_code}"
        return self.state


@dataclass(frozen=True)
class Submission:
    user: str  # the tool's user, tools.NAME
    name: str  # the job's name (sbatch -J)
    mark: Mark
    command: str
    home: str
    stdout: str
    stderr: str | None  # None: into stdout's file
    mem_mb: int
    cpus: int
    path: str  # PATH of the run (the image's)
    environment: Mapping[str, str] = field(default_factory=dict)  # the image's variables
    claims: str = ""  # a folder of the tool's where each run claims its mark before running

    def script(self) -> str:
        """The batch script: the run first claims its mark (`mkdir`, which only one
        can do), so a run Slurm accepted and then forgot (slurmctld killed before it
        saved its state) and the controller submitted again does not run twice; then
        it runs the command, handing it the TERM of a cancelled run."""
        lines = ["#!/bin/bash"]
        if self.claims:
            folder = shlex.quote(self.claims)
            claim = shlex.quote(f"{self.claims}/{self.mark}")
            lines += [
                f"mkdir -p -- {folder} || exit 1",
                f"if ! mkdir -- {claim} 2>/dev/null; then",
                f"    echo 'ats-runtime: run {self.mark.run} of {self.name} ran already' >&2",
                "    exit 0",
                "fi",
                # Claims matter for minutes; a day's are kept.
                f"find {folder} -mindepth 1 -maxdepth 1 -mmin +1440 -exec rmdir {{}} + 2>/dev/null",
            ]
        # Slurm signals only this script when it cancels a run, and kills every process
        # of the run after KillWait. So the command runs in a session of its own, gets
        # the signal from here, and the script waits for it to end (a server finishes the
        # requests it is serving, a bot its edit), as Kubernetes lets a pod's process.
        lines += [
            f"setsid -w /bin/bash -c {shlex.quote(self.command)} &",
            "child=$!",
            'stopping=""',
            """trap 'stopping=1; kill -TERM -- "-$child" 2>/dev/null' TERM""",
            "while :; do",
            '    wait "$child"',
            "    status=$?",
            '    if [ "$status" -gt 128 ] && kill -0 "$child" 2>/dev/null; then continue; fi',
            "    break",
            "done",
            # Stopped, what the command started in its session ends in its own time too
            # (ended by itself, the run ends and Slurm ends what it left, as before).
            'if [ -n "$stopping" ]; then',
            '    while kill -0 -- "-$child" 2>/dev/null; do sleep 0.2; done',
            # The command died of a signal: the run does too, so that Slurm says which.
            'elif [ "$status" -gt 128 ] && [ "$status" -lt 160 ]; then',
            '    trap - "$((status - 128))"',
            '    kill -s "$((status - 128))" "$$"',
            "fi",
            'exit "$status"',
        ]
        return "\n".join([*lines, ""])


class Slurm:
    def __init__(self, environment: Mapping[str, str] | None = None) -> None:
        """`environment`: extra variables for Slurm's commands (e.g. SLURM_CONF)."""
        self.environment = dict(environment or {})
        if "SLURM_CONF" in os.environ and "SLURM_CONF" not in self.environment:
            self.environment["SLURM_CONF"] = os.environ["SLURM_CONF"]

    def submit(self, job: Submission) -> int:
        """Submit one run as the tool; Slurm's job id."""
        account = pwd.getpwnam(job.user)
        script = job.script()
        command = [
            "setpriv",
            f"--reuid={account.pw_uid}",
            f"--regid={account.pw_gid}",
            "--init-groups",
            "env",
            "-i",
            *(f"{key}={value}" for key, value in self._run_environment(job).items()),
            "sbatch",
            "--parsable",
            f"--job-name={job.name}",
            f"--comment={job.mark}",
            f"--chdir={job.home}",
            f"--output={job.stdout}",
            f"--error={job.stderr or job.stdout}",
            "--open-mode=append",
            f"--mem={job.mem_mb}M",
            f"--cpus-per-task={job.cpus}",
            "--no-requeue",
            "--export=ALL",
        ]
        out = self._run(command, stdin=script)
        try:
            return int(out.strip().split(";")[0])
        except ValueError:
            raise SlurmError(f"sbatch answered {out.strip()!r}, not a job id") from None

    def jobs(self) -> list[SlurmJob]:
        """Every job slurmctld knows, running or ended within MinJobAge."""
        return parse_jobs(self._run(["squeue", "--json", "--states=all"]))

    def cancel(self, job_ids: Sequence[int]) -> None:
        if job_ids:
            self._run(["scancel", *map(str, job_ids)])

    def _run_environment(self, job: Submission) -> dict[str, str]:
        environment = {
            **job.environment,
            "HOME": job.home,
            "USER": job.user,
            "LOGNAME": job.user,
            "SHELL": "/bin/bash",
            "PATH": job.path,
            "LANG": "C.UTF-8",
        }
        if "SLURM_CONF" in self.environment:
            environment["SLURM_CONF"] = self.environment["SLURM_CONF"]
        return environment

    def _run(self, command: list[str], stdin: str | None = None) -> str:
        try:
            done = subprocess.run(
                command,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                env={**os.environ, **self.environment},
                check=False,
            )
        except FileNotFoundError:
            raise SlurmError(f"{command[0]} is not installed (slurm-client)") from None
        except subprocess.TimeoutExpired:
            raise SlurmError(f"{command[0]} did not answer in {TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise SlurmError(f"{_program(command)}: {lines[-1] if lines else 'failed'}")
        return done.stdout


def _program(command: list[str]) -> str:
    for word in ("sbatch", "squeue", "scancel"):
        if word in command:
            return word
    return command[0]


def parse_jobs(text: str) -> list[SlurmJob]:
    """The jobs of `squeue --json`'s answer."""
    try:
        listed = json.loads(text)["jobs"]
        return [_job(item) for item in listed]
    except (ValueError, KeyError, TypeError):
        raise SlurmError("squeue --json answered something that is not its JSON") from None


def _job(item: Mapping[str, object]) -> SlurmJob:
    status = item.get("exit_code")
    exit_code = signal = None
    if isinstance(status, int):
        exit_code, signal = status >> 8, status & 0x7F
    state = str(item.get("job_state", "UNKNOWN")).split()[0]
    return SlurmJob(
        id=int(str(item["job_id"])),
        state=state,
        user=str(item.get("user_name", "")),
        mark=Mark.read(str(item.get("comment") or "")),
        exit_code=exit_code or None,
        signal=signal or None,
        start_time=_int(item.get("start_time")),
        end_time=_int(item.get("end_time")),
        reason=str(item.get("state_reason", "")),
        node=str(item.get("batch_host") or ""),
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0
