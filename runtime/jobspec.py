"""A tool's job as its maintainers define it, and as it is seen: the data every part of
the runtime passes around (the store keeps `JobSpec.to_json()`, the controller reads it,
`toolforge jobs` prints `JobView`s).

A `JobSpec` is the definition only (what `toolforge jobs run` or one entry of a
`jobs.yaml` says), never its state: two definitions are the same job when they are
equal, which is how `load` tells a changed job from an unchanged one. Fields keep what
the maintainer wrote (`mem="512Mi"`, `cpu="0.5"`, the schedule's expression), so that
`show` prints them back as given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

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
