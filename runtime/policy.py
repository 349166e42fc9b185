"""The chapter's runtime policy as data (`policies/runtime.toml`): the images a job may
name, what a job gets when it names no memory, CPU or image, and each tool's quota.

`load_runtime_policy` reads the file (the bundled one unless given another) and refuses
an unknown, missing or mistyped key as the other policy files do (policies.tomlcheck),
and any amount of memory or CPU that `toolforge jobs run` would not take. `check_quota`
says whether a tool may add or replace a job, naming the figure it would pass;
`quota_of` is what `toolforge jobs quota` prints, in the categories Toolforge prints.
An image is not a container here: every job runs on the hosts' own userland, and an
image only names what it needs there (packages, PATH entries, environment variables).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from policies.errors import Refusal
from policies.tomlcheck import TableError, did_you_mean, load_table, setting
from runtime.jobspec import JobSpec, JobSpecError, cpu_value, mem_bytes

_COUNT = "a whole number of jobs"
SECTIONS = ("defaults", "quota", "overrides", "images")


class RuntimePolicyError(TableError):
    """The runtime policy file is unreadable, or a key of it unknown, missing or wrong."""


class QuotaExceeded(Refusal):
    """A job would take a tool past its quota; the message names the figure."""


class ImageNotOffered(Refusal):
    """A job names an image the chapter does not offer; the message lists those it does."""


@dataclass(frozen=True)
class Image:
    """An image a job may name, and what it stands for on the hosts."""

    description: str = setting(help="one line, shown by `toolforge jobs images`")
    packages: tuple[str, ...] = setting((), help="Debian packages it needs on the hosts")
    path: tuple[str, ...] = setting((), help="absolute directories put in front of PATH")
    environment: tuple[str, ...] = setting((), help="variables set for the job, NAME=value")
    name: str = ""  # the table's name, filled in by the loader

    def variables(self) -> dict[str, str]:
        """`environment` as a mapping."""
        return dict(item.split("=", 1) for item in self.environment)


@dataclass(frozen=True)
class Defaults:
    image: str = setting(help="the image of a job that names none")
    mem: str = setting(help="memory of a job that asks for none, e.g. 512Mi")
    cpu: str = setting(help="CPU of a job that asks for none, e.g. 0.5")


@dataclass(frozen=True)
class Quota:
    """One tool's limits: per job, then for all its jobs together."""

    job_mem: str = setting(help="the most memory one job may ask for")
    job_cpu: str = setting(help="the most CPU one job may ask for")
    continuous_jobs: int = setting(minimum=0, wanted=_COUNT)
    scheduled_jobs: int = setting(minimum=0, wanted=_COUNT)
    one_off_jobs: int = setting(minimum=0, wanted=_COUNT)
    total_mem: str = setting(help="memory of all the tool's jobs together")
    total_cpu: str = setting(help="CPU of all the tool's jobs together")


@dataclass(frozen=True)
class RuntimePolicy:
    images: Mapping[str, Image]
    defaults: Defaults
    quota: Quota
    overrides: Mapping[str, Quota] = field(default_factory=lambda: MappingProxyType({}))

    def quota_for(self, tool: str) -> Quota:
        """The tool's quota: its override if the chapter granted one."""
        return self.overrides.get(tool, self.quota)

    def image(self, name: str) -> Image:
        """The offered image `name`, or `ImageNotOffered` listing those offered."""
        found = self.images.get(name)
        if found is None:
            raise ImageNotOffered(
                f"No such image '{name}'; offered: {', '.join(sorted(self.images))} "
                "(see `toolforge jobs images`)"
            )
        return found

    def mem_of(self, spec: JobSpec) -> int:
        """The job's memory in bytes, the default if it asks for none."""
        return mem_bytes(spec.mem if spec.mem is not None else self.defaults.mem)

    def cpu_of(self, spec: JobSpec) -> float:
        """The job's CPU in cores, the default if it asks for none."""
        return cpu_value(spec.cpu if spec.cpu is not None else self.defaults.cpu)


@dataclass(frozen=True)
class QuotaItem:
    name: str
    limit: str
    used: str | None = None  # None: a limit with nothing used (per-job limits)


@dataclass(frozen=True)
class QuotaCategory:
    name: str
    items: tuple[QuotaItem, ...]


def load_runtime_policy(path: str | Path | None = None) -> RuntimePolicy:
    """The policy in `path`, or in the bundled `policies/runtime.toml`."""
    where = str(path) if path is not None else "policies/runtime.toml"
    try:
        if path is None:
            text = resources.files("policies").joinpath("runtime.toml").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise RuntimePolicyError(f"{where}: cannot read the runtime policy: {error}") from error
    return read_runtime_policy(data)


def read_runtime_policy(data: Mapping[str, Any]) -> RuntimePolicy:
    """The policy from the file's parsed tables."""
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise RuntimePolicyError(
            f"unknown runtime policy section {unknown[0]!r}{did_you_mean(unknown[0], SECTIONS)}"
        )
    sections = {name: _table(data, name) for name in SECTIONS}
    defaults = load_table(
        Defaults, sections["defaults"], noun="[defaults]", error=RuntimePolicyError
    )
    _check_amounts("[defaults]", mem=defaults.mem, cpu=defaults.cpu)
    quota_table = sections["quota"]
    quota = _quota("[quota]", quota_table)
    overrides = {}
    for tool, table in sections["overrides"].items():
        if not isinstance(table, dict):
            raise RuntimePolicyError(f"[overrides] {tool!r} must be a table of [quota] keys")
        overrides[tool] = _quota(f"[overrides.{tool}]", {**quota_table, **table})
    images = {}
    for name, table in sections["images"].items():
        if not isinstance(table, dict):
            raise RuntimePolicyError(f"[images] {name!r} must be a table")
        images[name] = replace(_image(name, table), name=name)
    if not images:
        raise RuntimePolicyError("the runtime policy offers no image: add an [images.NAME] table")
    if defaults.image not in images:
        raise RuntimePolicyError(
            f"[defaults] image {defaults.image!r} is not offered; offered: "
            f"{', '.join(sorted(images))}"
        )
    return RuntimePolicy(
        images=MappingProxyType(images),
        defaults=defaults,
        quota=quota,
        overrides=MappingProxyType(overrides),
    )


def _table(data: Mapping[str, Any], name: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise RuntimePolicyError(f"[{name}] must be a table, not {table!r}")
    return table


def _quota(noun: str, table: Mapping[str, Any]) -> Quota:
    quota = load_table(Quota, table, noun=noun, error=RuntimePolicyError)
    _check_amounts(noun, mem=quota.job_mem, cpu=quota.job_cpu)
    _check_amounts(noun, mem=quota.total_mem, cpu=quota.total_cpu)
    return quota


def _image(name: str, table: Mapping[str, Any]) -> Image:
    noun = f"[images.{name}]"
    if "name" in table:
        raise RuntimePolicyError(f"unknown {noun} key 'name' (the table's name is the image's)")
    image = load_table(Image, table, noun=noun, error=RuntimePolicyError)
    for directory in image.path:
        if not directory.startswith("/"):
            raise RuntimePolicyError(f"{noun} path {directory!r} must be absolute")
    for item in image.environment:
        variable, equals, _ = item.partition("=")
        if not equals or not variable.isidentifier():
            raise RuntimePolicyError(f"{noun} environment {item!r} must be NAME=value")
    return image


def _check_amounts(noun: str, *, mem: str, cpu: str) -> None:
    try:
        mem_bytes(mem)
        cpu_value(cpu)
    except JobSpecError as error:
        raise RuntimePolicyError(f"{noun} {error}") from error


def check_quota(
    policy: RuntimePolicy, tool: str, existing: Sequence[JobSpec], new: JobSpec
) -> None:
    """Refuse `new` (with `QuotaExceeded` naming the figure) if the tool, having the jobs
    `existing` (those that count: not one-off jobs that have ended), may not have it too.
    A job of `existing` with `new`'s name is being replaced and does not count."""
    quota = policy.quota_for(tool)
    others = [spec for spec in existing if spec.name != new.name]
    mem, cpu = policy.mem_of(new), policy.cpu_of(new)
    if mem > mem_bytes(quota.job_mem):
        raise QuotaExceeded(
            f"quota: a job of tool '{tool}' may have at most {quota.job_mem} of memory; "
            f"'{new.name}' asks for {format_mem(mem)}"
        )
    if cpu > cpu_value(quota.job_cpu):
        raise QuotaExceeded(
            f"quota: a job of tool '{tool}' may have at most {quota.job_cpu} CPU; "
            f"'{new.name}' asks for {format_cpu(cpu)}"
        )
    limit = _kind_limit(quota, new)
    count = sum(1 for spec in others if spec.kind == new.kind)
    if count >= limit:
        raise QuotaExceeded(
            f"quota: tool '{tool}' may have {limit} {_KIND_WORDS[new.kind]} jobs; it has {count}"
        )
    used_mem = sum(policy.mem_of(spec) for spec in others)
    if used_mem + mem > mem_bytes(quota.total_mem):
        raise QuotaExceeded(
            f"quota: tool '{tool}' may have {quota.total_mem} of memory in all its jobs; "
            f"they have {format_mem(used_mem)} and '{new.name}' asks for {format_mem(mem)}"
        )
    used_cpu = sum(policy.cpu_of(spec) for spec in others)
    # Sums of decimal fractions (0.1 + 0.2) are not exact in binary: compare in millicores.
    if round((used_cpu + cpu) * 1000) > round(cpu_value(quota.total_cpu) * 1000):
        raise QuotaExceeded(
            f"quota: tool '{tool}' may have {quota.total_cpu} CPU in all its jobs; "
            f"they have {format_cpu(used_cpu)} and '{new.name}' asks for {format_cpu(cpu)}"
        )


_KIND_WORDS = {"continuous": "continuous", "scheduled": "scheduled", "normal": "one-off"}


def _kind_limit(quota: Quota, spec: JobSpec) -> int:
    if spec.kind == "continuous":
        return quota.continuous_jobs
    return quota.scheduled_jobs if spec.kind == "scheduled" else quota.one_off_jobs


def quota_of(
    policy: RuntimePolicy, tool: str, jobs: Sequence[JobSpec]
) -> tuple[QuotaCategory, ...]:
    """The tool's quota and what its jobs `jobs` (those that count) use of it, in
    Toolforge's three categories."""
    quota = policy.quota_for(tool)

    def count(kind: str) -> str:
        return str(sum(1 for spec in jobs if spec.kind == kind))

    mem = sum(policy.mem_of(spec) for spec in jobs)
    cpu = sum(policy.cpu_of(spec) for spec in jobs)
    return (
        QuotaCategory(
            "Running jobs",
            (
                QuotaItem("Running one-off jobs", str(quota.one_off_jobs), count("normal")),
                QuotaItem("CPU", quota.total_cpu, format_cpu(cpu)),
                QuotaItem("Memory", quota.total_mem, format_mem(mem)),
            ),
        ),
        QuotaCategory(
            "Per-job limits",
            (QuotaItem("CPU", quota.job_cpu), QuotaItem("Memory", quota.job_mem)),
        ),
        QuotaCategory(
            "Job definitions",
            (
                QuotaItem("Cron jobs", str(quota.scheduled_jobs), count("scheduled")),
                QuotaItem("Continuous jobs", str(quota.continuous_jobs), count("continuous")),
            ),
        ),
    )


def format_mem(amount: int) -> str:
    """Bytes the way Toolforge writes memory: `512Mi`, `1.5Gi`, `0`."""
    for suffix, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if amount >= size:
            return f"{_trimmed(amount / size)}{suffix}"
    return str(amount)


def format_cpu(cores: float) -> str:
    """Cores as `0.5`, `1`, `2.25`."""
    return _trimmed(cores)


def _trimmed(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")
