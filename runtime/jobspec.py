"""A tool's job as its maintainers define it, and as it is seen: the data every part of
the runtime passes around (the store keeps `JobSpec.to_json()`, the controller reads it,
`toolforge jobs` prints `JobView`s).

A `JobSpec` is the definition only (what `toolforge jobs run` or one entry of a
`jobs.yaml` says), never its state: two definitions are the same job when they are
equal, which is how `load` tells a changed job from an unchanged one. Fields keep what
the maintainer wrote (`mem="512Mi"`, `cpu="0.5"`, the schedule's expression), so that
`show` prints them back as given.

`check_spec` refuses a definition Toolforge's jobs framework would refuse (its name
rules, `--retry` 0–5, its `--emails` choices, memory and CPU as Kubernetes quantities,
file logs), with a `JobSpecError` saying what is wrong; `mem_bytes` and `cpu_value` read
memory and CPU; `filelog_paths` says where a job's output goes.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import asdict, dataclass, fields, replace
from decimal import ROUND_CEILING, Decimal
from typing import Any, Literal

from policies.errors import Refusal
from runtime.schedules import parse as parse_schedule

Kind = Literal["normal", "continuous", "scheduled"]


@dataclass(frozen=True)
class JobSpec:
    name: str
    command: str
    image: str
    schedule: str | None = None  # a cron expression as written; None: not scheduled
    continuous: bool = False
    mem: str | None = None  # as written, e.g. "512Mi"; None: the policy's default
    cpu: str | None = None  # as written, e.g. "0.5"; None: the policy's default
    retry: int = 0  # times a failed one-off or scheduled run is tried again (0–5)
    emails: str = "none"  # none | all | onfinish | onfailure
    filelog: bool = True  # False: --no-filelog (output kept for `logs`, no files)
    filelog_stdout: str | None = None  # None: ~/NAME.out
    filelog_stderr: str | None = None  # None: ~/NAME.err

    @property
    def kind(self) -> Kind:
        if self.continuous:
            return "continuous"
        return "scheduled" if self.schedule else "normal"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobSpec:
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def to_text(self) -> str:
        """The definition as the store keeps it: JSON with its keys in order, so that the
        same definition is always the same text (how `load` sees nothing changed)."""
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def from_text(cls, text: str) -> JobSpec:
        return cls.from_json(json.loads(text))


@dataclass(frozen=True)
class JobView:
    """A job as `list` and `show` print it: its definition, its state in Toolforge's
    words, the hints that explain it, and where its output goes."""

    spec: JobSpec
    status: str  # e.g. "Running", "Pending", "Completed", "Failed", "Waiting for scheduled time"
    hints: tuple[str, ...] = ()
    out_path: str | None = None  # absolute; None with --no-filelog
    err_path: str | None = None  # absolute; None with --no-filelog or when it is out_path
    finished: bool = False  # a one-off job that has ended (it stays listed until deleted)
    failed: bool = False  # ... and ended in failure (`run --wait` exits non-zero)
    # Without file logs: where the controller keeps the output, readable by the tool, for
    # `logs`; empty when none is kept.
    log_paths: tuple[str, ...] = ()
    since: str | None = None  # when the run now going started (ISO 8601), if one is


# Toolforge's rule, from Kubernetes: a lower-case RFC 1123 subdomain, and at most 52
# characters (a CronJob's limit, applied to every kind so that a job can change kind).
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
NAME_MAX_LENGTH = 52
EMAILS = ("none", "all", "onfinish", "onfailure")
RETRY_MAX = 5
# Kubernetes' quantity suffixes that make sense for memory: binary and decimal multiples.
MEM_SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?|\.[0-9]+)([A-Za-z]*)$")


class JobSpecError(Refusal, ValueError):
    """A job definition that cannot run; the message names the field and what is wrong."""


def mem_bytes(text: str) -> int:
    """Memory written as Toolforge takes it (`512Mi`, `1Gi`, `1.5G`, or plain bytes) in
    bytes, rounded up."""
    match = _QUANTITY.match(text.strip())
    if not match or match.group(2) not in MEM_SUFFIXES:
        raise JobSpecError(f"mem {text!r} is not an amount of memory (write e.g. 512Mi, 1Gi or 2G)")
    amount = Decimal(match.group(1)) * MEM_SUFFIXES[match.group(2)]
    if amount <= 0:
        raise JobSpecError(f"mem {text!r} must be more than nothing")
    return int(amount.to_integral_value(rounding=ROUND_CEILING))


def cpu_value(text: str) -> float:
    """CPU written as Toolforge takes it (`0.5`, `1`, or millicores `500m`) in cores."""
    match = _QUANTITY.match(text.strip())
    if not match or match.group(2) not in ("", "m"):
        raise JobSpecError(f"cpu {text!r} is not a number of CPUs (write e.g. 0.5, 1 or 500m)")
    cores = Decimal(match.group(1)) / (1000 if match.group(2) == "m" else 1)
    if cores <= 0:
        raise JobSpecError(f"cpu {text!r} must be more than nothing")
    return float(cores)


def check_name(name: str) -> str:
    """`name` if Toolforge would take it as a job's name."""
    if not name:
        raise JobSpecError("Job name is required")
    if len(name) > NAME_MAX_LENGTH:
        raise JobSpecError(
            f"Invalid job name, it can't be longer than {NAME_MAX_LENGTH} characters"
        )
    if not NAME_PATTERN.match(name):
        raise JobSpecError(
            f"Invalid job name {name!r}: use lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or a digit"
        )
    return name


def check_spec(spec: JobSpec) -> JobSpec:
    """`spec` if it can run; otherwise a `JobSpecError` (or the schedule's
    `ScheduleError`) naming what is wrong. Whether its image is offered and whether it
    fits the tool's quota is the runtime policy's to say (runtime.policy)."""
    check_name(spec.name)
    if not spec.command.strip():
        raise JobSpecError(f"Job '{spec.name}': the command is empty")
    if "\0" in spec.command:
        raise JobSpecError(f"Job '{spec.name}': the command holds a NUL character")
    if not spec.image.strip():
        raise JobSpecError(f"Job '{spec.name}': no image given (see `toolforge jobs images`)")
    if spec.continuous and spec.schedule is not None:
        raise JobSpecError("Only one of 'continuous' and 'schedule' can be set at the same time")
    if spec.schedule is not None:
        parse_schedule(spec.schedule, spec.name)
    if isinstance(spec.retry, bool) or not 0 <= spec.retry <= RETRY_MAX:
        raise JobSpecError(
            f"retry must be a whole number from 0 to {RETRY_MAX}, not {spec.retry!r}"
        )
    if spec.emails not in EMAILS:
        raise JobSpecError(f"emails must be one of {', '.join(EMAILS)}, not {spec.emails!r}")
    if spec.mem is not None:
        mem_bytes(spec.mem)
    if spec.cpu is not None:
        cpu_value(spec.cpu)
    given = [p for p in (spec.filelog_stdout, spec.filelog_stderr) if p is not None]
    if given and not spec.filelog:
        raise JobSpecError("Specifying --filelog-stdout or --filelog-stderr requires --filelog")
    for path in given:
        if not path.strip():
            raise JobSpecError(f"Job '{spec.name}': a file log path is empty")
        if any(c in path for c in "\0\n\r"):
            raise JobSpecError(
                f"Job '{spec.name}': file log path {path!r} holds a NUL or a line break"
            )
    return spec


def with_home(spec: JobSpec, home: str) -> JobSpec:
    """`spec` with relative file log paths made absolute: relative to `home`, the tool's
    home, as Toolforge reads them."""
    return replace(
        spec,
        filelog_stdout=_absolute(spec.filelog_stdout, home),
        filelog_stderr=_absolute(spec.filelog_stderr, home),
    )


def filelog_paths(spec: JobSpec, home: str) -> tuple[str | None, str | None]:
    """Where the job's output and errors go: `HOME/NAME.out` and `HOME/NAME.err` unless
    given (the same file for both is allowed); (None, None) with --no-filelog."""
    if not spec.filelog:
        return None, None
    out = _absolute(spec.filelog_stdout, home) or posixpath.join(home, f"{spec.name}.out")
    err = _absolute(spec.filelog_stderr, home) or posixpath.join(home, f"{spec.name}.err")
    return out, err


def _absolute(path: str | None, home: str) -> str | None:
    if path is None or not path.strip():
        return path
    return posixpath.normpath(posixpath.join(home, path))
