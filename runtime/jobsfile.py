"""A Toolforge `jobs.yaml`, read: the job definitions `toolforge jobs load` runs, and what
loading them changes.

The file is a YAML list of mappings, one per job, with the keys of `toolforge jobs run`
(`name command image schedule continuous mem cpu retry emails wait no-filelog filelog
filelog-stdout filelog-stderr`), of the types Toolforge takes. A key it does not know is
a warning, in Toolforge's words, and is otherwise ignored, so that a file written for
Toolforge loads here. Anything else wrong — not YAML, not a list, an entry missing its
name or command, two entries with one name, a value of the wrong type — is a `Refusal`
naming the entry. The text is limited in size, and aliases (`*name`) may not expand it
past a limit, so that a small file cannot make a huge one. Whether a definition can run
at all is `jobspec.check_spec`'s to say, once the front knows the tool's home.

`plan_load` is the comparison `load` makes against the jobs a tool has: add what is new,
change only what differs, delete what the file no longer holds (with `--job NAME`, only
that job is looked at).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from policies.errors import Refusal
from runtime.jobspec import JobSpec

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000  # after aliases are expanded
KNOWN_KEYS = (
    "name",
    "command",
    "image",
    "schedule",
    "continuous",
    "mem",
    "cpu",
    "retry",
    "emails",
    "wait",
    "no-filelog",
    "filelog",
    "filelog-stdout",
    "filelog-stderr",
)


class JobsFileError(Refusal, ValueError):
    """A jobs.yaml that cannot be loaded; the message names the entry and what is wrong."""


@dataclass(frozen=True)
class JobsFile:
    """A jobs.yaml, read: its definitions in order, the warnings reading it gave, and the
    jobs that asked `load` to wait for them (`wait: true`, one-off jobs only)."""

    specs: tuple[JobSpec, ...]
    warnings: tuple[str, ...]
    waits: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadResult:
    """What a `load` did, by job name (each sorted)."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


def read_jobs_file(text: str, source: str = "jobs.yaml") -> tuple[list[JobSpec], list[str]]:
    """The definitions in `text` (the file `source`) and the warnings reading it gave."""
    read = parse_jobs_file(text, source)
    return list(read.specs), list(read.warnings)


def parse_jobs_file(text: str, source: str = "jobs.yaml") -> JobsFile:
    """`text` read as the jobs.yaml `source`."""
    data = _safe_load(text, source)
    if data is None:
        return JobsFile((), ())
    if not isinstance(data, list):
        raise JobsFileError(
            f"Unable to load '{source}': it must be a list of jobs (`- name: ...`), "
            f"not a {_kind(data)}"
        )
    specs: list[JobSpec] = []
    warnings: list[str] = []
    waits: list[str] = []
    numbers: dict[str, int] = {}
    for number, entry in enumerate(data, start=1):
        spec, wait = _entry(entry, number, warnings)
        if spec.name in numbers:
            raise JobsFileError(
                f"Unable to load job number {number}: the name '{spec.name}' is also the name "
                f"of job number {numbers[spec.name]}"
            )
        numbers[spec.name] = number
        specs.append(spec)
        if wait:
            waits.append(spec.name)
    return JobsFile(tuple(specs), tuple(warnings), tuple(waits))


def plan_load(
    current: Sequence[JobSpec], wanted: Sequence[JobSpec], only: str | None = None
) -> LoadResult:
    """What loading `wanted` over the jobs `current` does: add the new, change those whose
    definition differs, delete those `wanted` lacks; with `only`, that job alone."""
    have = {spec.name: spec for spec in current if only is None or spec.name == only}
    want = {spec.name: spec for spec in wanted if only is None or spec.name == only}
    return LoadResult(
        added=tuple(sorted(want.keys() - have.keys())),
        changed=tuple(sorted(n for n in want.keys() & have.keys() if want[n] != have[n])),
        deleted=tuple(sorted(have.keys() - want.keys())),
        unchanged=tuple(sorted(n for n in want.keys() & have.keys() if want[n] == have[n])),
    )


def _entry(entry: object, number: int, warnings: list[str]) -> tuple[JobSpec, bool]:
    if not isinstance(entry, dict):
        raise JobsFileError(
            f"Unable to load job number {number}: it must be a mapping of keys "
            f"(name, command, image, ...), not a {_kind(entry)}"
        )
    for key in ("name", "command"):
        if key not in entry:
            raise JobsFileError(
                f"Unable to load job number {number}: missing configuration parameter '{key}'"
            )
    name = entry["name"]
    if not isinstance(name, str):
        raise JobsFileError(f"Unable to load job number {number}: 'name' must be a string")
    for key in entry:
        if key not in KNOWN_KEYS:
            warnings.append(f"Unknown key '{key}' in job '{name}' definition")
    value = _Values(entry, name)
    continuous = value.flag("continuous")
    schedule = value.text("schedule")
    filelog = value.flag("filelog", default=True) and not value.flag("no-filelog")
    spec = JobSpec(
        name=name,
        command=value.text("command") or "",
        image=value.text("image") or "",
        schedule=schedule,
        continuous=continuous,
        mem=value.amount("mem"),
        cpu=value.amount("cpu"),
        retry=value.whole("retry"),
        emails=value.text("emails") or "none",
        filelog=filelog,
        filelog_stdout=value.text("filelog-stdout"),
        filelog_stderr=value.text("filelog-stderr"),
    )
    wait = value.flag("wait") and not continuous and schedule is None
    return spec, wait


class _Values:
    """One entry's values, each refused with the entry's name if of the wrong type."""

    def __init__(self, entry: dict[Any, Any], name: str) -> None:
        self.entry, self.name = entry, name

    def _refuse(self, key: str, wanted: str) -> JobsFileError:
        return JobsFileError(f"Invalid job {self.name}: '{key}' must be {wanted}")

    def text(self, key: str) -> str | None:
        value = self.entry.get(key)
        if value is not None and not isinstance(value, str):
            raise self._refuse(key, "a string")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.entry.get(key, default)
        if not isinstance(value, bool):
            raise self._refuse(key, "true or false")
        return value

    def whole(self, key: str) -> int:
        value = self.entry.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._refuse(key, "a whole number")
        return value

    def amount(self, key: str) -> str | None:
        """Memory or CPU: YAML reads `cpu: 0.5` as a number, Toolforge takes it as written."""
        value = self.entry.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self._refuse(key, "a number or a quantity such as 512Mi")
        return str(value)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a document whose aliases expand it past MAX_NODES
    (the "billion laughs") or that refers to itself."""


def _safe_load(text: str, source: str) -> Any:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise JobsFileError(f"Unable to load '{source}': it is larger than {MAX_BYTES} bytes")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, source)
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        raise JobsFileError(f"Unable to parse yaml file '{source}': {_said(error)}") from error
    except RecursionError as error:
        raise JobsFileError(f"Unable to parse yaml file '{source}': nested too deeply") from error
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int], source: str) -> int:
    """How many nodes `node` stands for once every alias is written out (memoised by node,
    so that counting is as cheap as the document is small)."""
    known = sizes.get(id(node))
    if known == -1:
        raise JobsFileError(f"Unable to parse yaml file '{source}': an alias refers to itself")
    if known is not None:
        return known
    sizes[id(node)] = -1
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes, source) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            size += _expanded_size(key, sizes, source) + _expanded_size(value, sizes, source)
    if size > MAX_NODES:
        raise JobsFileError(
            f"Unable to parse yaml file '{source}': its aliases expand it past {MAX_NODES} values"
        )
    sizes[id(node)] = size
    return size


def _said(error: yaml.YAMLError) -> str:
    """PyYAML's complaint on one line, with where it is."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem:
        mark = error.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return f"{error.problem}{where}"
    return " ".join(str(error).split())


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return "string" if isinstance(value, str) else type(value).__name__
