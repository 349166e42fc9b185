"""`toolforge webservice` (and `webservice`, Toolforge's older name): a tool's web
service, which is its continuous job named `webservice`.

    webservice [--backend B] [-m MEM] [-c CPU] [TYPE] start|stop|restart|status|logs [-f]
        [--command CMD]      (the `generic` type's server)

The types keep Toolforge's folder layout: `python3.11` serves the WSGI `app` of
`~/www/python/src/app.py` with gunicorn (with `~/www/python/venv` when there is one),
`php8.2` serves `~/public_html` with PHP (php-fpm; index.php first), `static` serves it
as files, and `generic --command CMD` runs any server that listens on the socket named
in `$ATS_WEB_SOCKET` (or on `$PORT`). The job's command is `ats-webservice TYPE …`, the
runner the hosts have (rendered by `ats host render`), so the job's definition says
which type runs; its limits, restarts, logs (`~/webservice.out`, `~/webservice.err`) and
quota are those of every job. The words are Toolforge's where it has them ("Your
webservice is not running", "Your job is already running"); `status` also says since
when and the address. Pure: the answer is built over a `JobsService`
(runtime/toolforge.py), as `toolforge jobs`'s is.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence

from membership.records import WEB_SERVICE_JOB
from policies.errors import Refusal
from runtime.jobspec import JobSpec, JobView, check_spec
from runtime.policy import check_quota
from runtime.toolforge import Answer, JobsService, ParserExit, QuietParser

JOB = WEB_SERVICE_JOB
RUNNER = "ats-webservice"
TYPES = ("python3.11", "php8.2", "static", "generic")
DEFAULT_TYPE = "python3.11"


def web_answer(
    argv: Sequence[str], service: JobsService, *, url: str, prog: str = "toolforge"
) -> Answer:
    """The answer to `argv` (`["webservice", …]`) for the tool `service` serves, whose
    address is `url`."""
    words = list(argv)
    if not words or words[0] != "webservice":
        return Answer(2, stderr=f"usage: {prog} webservice ...\n")
    parser = _parser("toolforge webservice" if prog == "toolforge" else "webservice")
    try:
        args = parser.parse_args(words[1:])
    except ParserExit as stop:
        return Answer(stop.code, stdout=stop.stdout, stderr=stop.stderr)
    try:
        return _act(args, service, url)
    except Refusal as refusal:
        return Answer(1, stderr=f"ERROR: {refusal}\n")


def web_type(view: JobView | None) -> str | None:
    """The type of the web service a job runs, if it is the runner's."""
    if view is None:
        return None
    words = shlex.split(view.spec.command)
    return words[1] if len(words) > 1 and words[0] == RUNNER else None


def _parser(prog: str) -> QuietParser:
    types = "\n".join(
        f"  * {name}" + (" (default)" if name == DEFAULT_TYPE else "") for name in TYPES
    )
    parser = QuietParser(
        prog=prog,
        description=f"A tool's web service, behind the chapter's front door.\n\nTypes:\n{types}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--backend",
        choices=["slurm", "kubernetes", "gridengine"],
        help="accepted for Toolforge's scripts; every service runs on Slurm",
    )
    parser.add_argument("-m", "--mem", dest="mem", help="memory, as for jobs (e.g. 512Mi)")
    parser.add_argument("-c", "--cpu", dest="cpu", help="CPU, as for jobs (e.g. 0.5)")
    parser.add_argument(
        "--command", help="generic: the server to run (it listens on $ATS_WEB_SOCKET or $PORT)"
    )
    parser.add_argument("-f", "--follow", action="store_true", help="logs: keep following")
    parser.add_argument(
        "words",
        nargs="+",
        metavar="[TYPE] ACTION",
        help="start, stop, restart, status or logs, after an optional type",
    )
    return parser


def _act(args: argparse.Namespace, service: JobsService, url: str) -> Answer:
    actions = ("start", "stop", "restart", "status", "logs")
    *types, action = args.words
    if action not in actions or len(types) > 1:
        return Answer(2, stderr=f"webservice: the action is one of {', '.join(actions)}\n")
    kind = types[0] if types else None
    if kind is not None and kind not in TYPES:
        listed = "\n".join(f"  * {name}" for name in TYPES)
        return Answer(1, stderr=f"type must be one of:\n{listed}\n")
    current = service.job(JOB)
    running = current is not None and web_type(current) is not None
    if action == "status":
        if not running or current is None:
            return Answer(0, stdout="Your webservice is not running\n")
        said = f"Your webservice of type {web_type(current)} is {current.status.lower()}"
        since = f" since {current.since}" if current.since else ""
        return Answer(0, stdout=f"{said} on backend slurm{since}, at {url}\n")
    if action == "stop":
        if current is None:
            return Answer(0, stdout="Your webservice is not running\n")
        service.delete(JOB)
        return Answer(0, stderr="Stopping webservice\n")
    if action == "logs":
        if current is None:
            return Answer(0, stdout="Your webservice is not running\n")
        paths = tuple(p for p in (current.out_path, current.err_path) if p) or current.log_paths
        return Answer(0, read_logs=paths, follow=args.follow)
    if action == "restart" and running:
        service.restart(JOB)
        return Answer(0, stderr="Restarting webservice\n")
    if action == "start" and current is not None:
        return Answer(1, stderr="Your job is already running\n")
    if current is not None:  # restart of a job that is not the runner's: replaced
        service.delete(JOB)
    spec = _spec(service, kind or web_type(current) or DEFAULT_TYPE, args)
    service.run(spec)
    return Answer(0, stderr=f"Starting webservice; it will answer at {url}\n")


def _spec(service: JobsService, kind: str, args: argparse.Namespace) -> JobSpec:
    words = [RUNNER, kind]
    if kind == "generic":
        if not args.command:
            raise Refusal("the generic type runs the server given with --command CMD")
        words += ["--", args.command]
    elif args.command:
        raise Refusal(f"--command is for the generic type; {kind} runs its own server")
    spec = JobSpec(
        name=JOB,
        command=shlex.join(words),
        image=service.policy().defaults.image,
        continuous=True,
        mem=args.mem,
        cpu=args.cpu,
    )
    check_spec(spec)
    check_quota(service.policy(), service.tool(), [view.spec for view in service.jobs()], spec)
    return spec
