"""`toolforge jobs …` (and `toolforge-jobs …`, the older name), answered: Toolforge's own
command, so that maintainers' scripts, `jobs.yaml` files and whatever reads the output
keep working on the chapter's hosts.

A thin client on the login host sends the argv, and the text of the file `load` names,
to a server; the server calls `answer` with a `JobsService` for the calling tool and
sends back the `Answer`, which says what to print and what the client does itself (read
log files, wait for a job). `answer` is pure: everything it knows comes from its
arguments, it reads no file and prints nothing. Its subcommands and options are
Toolforge's (jobs-framework-cli, `tjf_cli/cli.py`): `run`, `show`, `logs`, `list`,
`delete`, `flush`, `load`, `restart`, `images`, `quota`. A bad option is argparse's
usage and error, exit code 2, and nothing is asked of the service; `--help` is the help,
exit code 0. Whatever a person caused — a job that does not exist, a name taken, a
definition that cannot run, a quota — is `ERROR: …` on standard error and exit code 1,
in Toolforge's words where it has them; `run` and `load` check every definition
(`jobspec.check_spec`, the image offered, the tool's quota) before asking the service.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NoReturn, Protocol

from membership.records import DatabaseUsage
from policies.errors import Conflict, NotFound, Refusal
from runtime.jobsfile import JobsFileError, LoadResult, parse_jobs_file, plan_load
from runtime.jobspec import EMAILS, RETRY_MAX, JobSpec, JobView, check_spec, with_home
from runtime.policy import RuntimePolicy, check_quota, quota_of
from runtime.tables import (
    databases_table,
    images_table,
    job_names,
    job_table,
    jobs_json,
    jobs_table,
    quota_tables,
)

__all__ = ["Answer", "JobsService", "LoadResult", "answer"]

WAIT_TIMEOUT = 600  # seconds `run --wait` waits unless told otherwise (Toolforge's)


class JobsService(Protocol):
    """What the server gives `answer` for the calling tool, over its store and controller.

    `run` and `load` are given definitions already checked (`check_spec`, image offered,
    quota), with file log paths absolute; they refuse (a `Refusal`) only what they alone
    can know, atomically: `run` a job of that name that exists ("A job with the same name
    exists already"). `load` does what `jobsfile.plan_load` says of the tool's jobs and
    `specs` (add, change those that differ, delete those `specs` lacks; with `only`, that
    job alone), and returns that plan. `delete` and `restart` return False for a job that
    does not exist; `flush` the number of jobs deleted. `databases` is the tool's
    databases as last measured (None before they were).
    """

    def tool(self) -> str: ...
    def home(self) -> str: ...
    def policy(self) -> RuntimePolicy: ...
    def jobs(self) -> list[JobView]: ...
    def job(self, name: str) -> JobView | None: ...
    def run(self, spec: JobSpec) -> JobView: ...
    def delete(self, name: str) -> bool: ...
    def flush(self) -> int: ...
    def restart(self, name: str) -> bool: ...
    def load(self, specs: Sequence[JobSpec], only: str | None) -> LoadResult: ...
    def databases(self) -> DatabaseUsage | None: ...


@dataclass(frozen=True)
class Answer:
    """What the client does: print `stdout` and `stderr` as they are, then

    - `read_logs`: read these files itself, as the tool (the server never reads a tool's
      files), and print them in order — the last `last_lines` lines of each if given —
      and with `follow` keep printing what is added (as `tail -F`) until interrupted;
    - `wait_for`: ask the server about that job every few seconds (Toolforge: 5) until
      its `JobView` says `finished` (exit 0, or 1 if `failed`, printing `jobs show NAME`)
      or it is gone (exit 0), or `wait_timeout` seconds pass (exit 2, as Toolforge);

    and otherwise exit with `code`.
    """

    code: int
    stdout: str = ""
    stderr: str = ""
    read_logs: tuple[str, ...] = ()
    follow: bool = False
    wait_for: str | None = None
    wait_timeout: int = WAIT_TIMEOUT
    last_lines: int | None = None


def answer(
    argv: Sequence[str],
    service: JobsService,
    *,
    files: Mapping[str, str],
    prog: str = "toolforge",
) -> Answer:
    """The answer to `argv` (`["jobs", "run", …]`) for the tool `service` serves; `files`
    holds the text of the files the client read for `load FILE`, by the path given."""
    words = list(argv)
    if not words or words[0] != "jobs":
        return Answer(2, stderr=f"usage: {prog} jobs ...\n{prog}: error: expected 'jobs'\n")
    parser = _parser(f"{prog} jobs" if prog == "toolforge" else prog)
    try:
        args = parser.parse_args(words[1:])
    except ParserExit as stop:
        return Answer(stop.code, stdout=stop.stdout, stderr=stop.stderr)
    try:
        return _HANDLERS[args.operation](args, service, files)
    except Refusal as refusal:
        return Answer(1, stderr=f"ERROR: {refusal}\n")


class ParserExit(Exception):
    """argparse wanting to print and exit, caught and answered instead."""

    def __init__(self, code: int, stdout: str = "", stderr: str = "") -> None:
        super().__init__(code)
        self.code, self.stdout, self.stderr = code, stdout, stderr


class _Formatter(argparse.HelpFormatter):
    """Help the same width whatever the server's terminal."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=100)


class QuietParser(argparse.ArgumentParser):
    """An ArgumentParser that never prints nor exits: it raises `ParserExit`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(**kwargs)

    def print_help(self, file: Any = None) -> NoReturn:
        raise ParserExit(0, stdout=self.format_help())

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise ParserExit(status, stderr=message or "")

    def error(self, message: str) -> NoReturn:
        raise ParserExit(2, stderr=f"{self.format_usage()}{self.prog}: error: {message}\n")


def _parser(prog: str) -> QuietParser:
    parser = QuietParser(prog=prog, description="Toolforge Jobs Framework, command line interface")
    commands = parser.add_subparsers(
        dest="operation", required=True, help="possible operations (pass -h for the usage of each)"
    )
    commands.add_parser("images", help="list the images a job may use")
    run = commands.add_parser("run", help="run a new job of your own")
    run.add_argument("name", help="the new job's name")
    run.add_argument("--command", required=True, help="the command the job runs")
    run.add_argument("--image", help="the image's short name (see `images`; default: the host's)")
    filelog = run.add_mutually_exclusive_group()
    filelog.add_argument(
        "--no-filelog",
        dest="filelog",
        action="store_false",
        default=None,
        help="do not write the job's output and errors to files in the tool's home",
    )
    filelog.add_argument(
        "--filelog", action="store_true", default=None, help="write them there (the default)"
    )
    run.add_argument("-o", "--filelog-stdout", help="file for the job's output (default NAME.out)")
    run.add_argument("-e", "--filelog-stderr", help="file for the job's errors (default NAME.err)")
    run.add_argument(
        "--retry",
        type=int,
        choices=range(RETRY_MAX + 1),
        default=0,
        help="times a failed job is run again",
    )
    run.add_argument("--mem", help="memory the job may use, e.g. 1Gi")
    run.add_argument("--cpu", help="CPUs the job may use, e.g. 0.5")
    run.add_argument(
        "--emails", choices=EMAILS, default="none", help="when to send email (default: none)"
    )
    kind = run.add_mutually_exclusive_group()
    kind.add_argument("--schedule", help="run the job on a cron schedule, e.g. '1 * * * *'")
    kind.add_argument("--continuous", action="store_true", help="run the job continuously")
    kind.add_argument(
        "--wait",
        nargs="?",
        const=WAIT_TIMEOUT,
        type=_seconds,
        metavar="SECONDS",
        help=f"wait for the job to end (at most SECONDS, default {WAIT_TIMEOUT})",
    )
    commands.add_parser("show", help="show a job of your own").add_argument("name")
    logs = commands.add_parser("logs", help="show a job's output")
    logs.add_argument("name")
    logs.add_argument("-f", "--follow", action="store_true", help="keep showing new output")
    logs.add_argument("-l", "--last", type=_seconds, help="show only the last LAST lines")
    listing = commands.add_parser("list", help="list your jobs")
    listing.add_argument(
        "-o",
        "--output",
        choices=("normal", "long", "name", "json"),
        default="normal",
        help="output format (default: normal)",
    )
    listing.add_argument("-l", "--long", action="store_true", help=argparse.SUPPRESS)
    commands.add_parser("delete", help="delete a job of your own").add_argument("name")
    commands.add_parser("flush", help="delete all your jobs")
    load = commands.add_parser("load", help="run the jobs a YAML file defines (as jobs.yaml)")
    load.add_argument("file", help="the YAML file")
    load.add_argument("--job", help="load this job of the file only")
    commands.add_parser("restart", help="restart a job").add_argument("name")
    commands.add_parser("quota", help="show your tool's quota and what it uses")
    return parser


def _seconds(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above 0")
    return int(text)


Handler = Callable[[argparse.Namespace, JobsService, Mapping[str, str]], Answer]


def _run(args: argparse.Namespace, service: JobsService, files: Mapping[str, str]) -> Answer:
    policy = service.policy()
    spec = JobSpec(
        name=args.name,
        command=args.command,
        image=args.image or policy.defaults.image,
        schedule=args.schedule,
        continuous=args.continuous,
        mem=args.mem,
        cpu=args.cpu,
        retry=args.retry,
        emails=args.emails,
        filelog=args.filelog is not False,
        filelog_stdout=args.filelog_stdout,
        filelog_stderr=args.filelog_stderr,
    )
    spec = with_home(spec, service.home())
    check_spec(spec)
    policy.image(spec.image)
    if service.job(spec.name) is not None:
        raise Conflict("A job with the same name exists already")
    check_quota(policy, service.tool(), _counted(service.jobs()), spec)
    service.run(spec)
    if args.wait is None:
        return Answer(0)
    return Answer(0, wait_for=spec.name, wait_timeout=args.wait)


def _show(args: argparse.Namespace, service: JobsService, files: Mapping[str, str]) -> Answer:
    return Answer(0, stdout=job_table(_existing(service, args.name)))


def _logs(args: argparse.Namespace, service: JobsService, files: Mapping[str, str]) -> Answer:
    view = _existing(service, args.name)
    if view.spec.filelog:
        paths = tuple(dict.fromkeys(p for p in (view.out_path, view.err_path) if p))
    else:
        paths = view.log_paths
    if not paths:
        raise NotFound(f"Job '{args.name}' does not have any logs available")
    return Answer(0, read_logs=paths, follow=args.follow, last_lines=args.last)


def _list(args: argparse.Namespace, service: JobsService, files: Mapping[str, str]) -> Answer:
    views = sorted(service.jobs(), key=lambda view: view.spec.name)
    warning = ""
    output = args.output
    if args.long:
        warning = "WARNING: the `--long` flag is deprecated, use `--output long` instead\n"
        output = "long"
    if output == "json":
        text = jobs_json(views)
    elif output == "name":
        text = job_names(views)
    else:
        text = jobs_table(views, long=output == "long")
    return Answer(0, stdout=text, stderr=warning)


def _delete(args: argparse.Namespace, service: JobsService, files: Mapping[str, str]) -> Answer:
    if not service.delete(args.name):
        raise _missing(args.name)
    return Answer(0)


def _restart(args: argparse.Namespace, service: JobsService, files: Mapping[str, str]) -> Answer:
    if not service.restart(args.name):
        raise _missing(args.name)
    return Answer(0)


def _flush(args: argparse.Namespace, service: JobsService, files: Mapping[str, str]) -> Answer:
    service.flush()
    return Answer(0)


def _load(args: argparse.Namespace, service: JobsService, files: Mapping[str, str]) -> Answer:
    text = files.get(args.file)
    if text is None:
        raise Refusal(f"Unable to read file '{args.file}'")
    read = parse_jobs_file(text, args.file)
    policy, home = service.policy(), service.home()
    specs = [
        with_home(replace(s, image=s.image or policy.defaults.image), home) for s in read.specs
    ]
    for spec in specs:
        try:
            check_spec(spec)
            policy.image(spec.image)
        except Refusal as refusal:
            raise JobsFileError(f"Invalid job {spec.name}: {refusal}") from refusal
    wanted = [spec for spec in specs if args.job is None or spec.name == args.job]
    if args.job is not None and not wanted:
        raise NotFound(f"Job '{args.job}' is not defined in '{args.file}'")
    views = service.jobs()
    plan = plan_load([view.spec for view in views], specs, args.job)
    # The jobs that stay (with --job, the others), then each loaded one, must fit; a
    # one-off job that has ended and is unchanged does not run again.
    others = [view for view in views if args.job is not None and view.spec.name != args.job]
    kept = _counted(others)
    ended = {view.spec.name for view in views if view.finished} & set(plan.unchanged)
    for spec in wanted:
        if spec.name not in ended:
            check_quota(policy, service.tool(), kept, spec)
            kept.append(spec)
    result = service.load(specs, args.job)
    lines = [f"WARNING: {warning}" for warning in read.warnings]
    lines += [f"INFO: job '{name}' added" for name in result.added]
    lines += [f"INFO: job '{name}' changed" for name in result.changed]
    lines += [f"INFO: job '{name}' deleted" for name in result.deleted]
    started = [n for n in read.waits if n in result.added or n in result.changed]
    if len(started) > 1:
        rest = ", ".join(f"'{name}'" for name in started[1:])
        lines.append(f"WARNING: waiting for job '{started[0]}' only, not for {rest}")
    lines.append(f"INFO: {len(wanted)} job(s) loaded successfully")
    stderr = "".join(f"{line}\n" for line in lines)
    return Answer(0, stderr=stderr, wait_for=started[0] if started else None)


def _images(args: argparse.Namespace, service: JobsService, files: Mapping[str, str]) -> Answer:
    return Answer(0, stdout=images_table(service.policy()))


def _quota(args: argparse.Namespace, service: JobsService, files: Mapping[str, str]) -> Answer:
    report = quota_of(service.policy(), service.tool(), _counted(service.jobs()))
    tables = quota_tables(report) + "\n" + databases_table(service.databases())
    return Answer(0, stdout=tables)


_HANDLERS: dict[str, Handler] = {
    "run": _run,
    "show": _show,
    "logs": _logs,
    "list": _list,
    "delete": _delete,
    "restart": _restart,
    "flush": _flush,
    "load": _load,
    "images": _images,
    "quota": _quota,
}


def _missing(name: str) -> NotFound:
    return NotFound(f"job '{name}' does not exist")


def _existing(service: JobsService, name: str) -> JobView:
    view = service.job(name)
    if view is None:
        raise _missing(name)
    return view


def _counted(views: Sequence[JobView]) -> list[JobSpec]:
    """The jobs that count against a quota: all but one-off jobs that have ended."""
    return [view.spec for view in views if not view.finished]
