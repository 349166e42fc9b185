"""`ats ARGS` as a process of its own, forked from a process that has already imported the
project, instead of started afresh: what `subprocess.run([python, "-m", "ats.cli",
*ARGS], capture_output=True, text=True)` gives, without paying Python's start-up and the
project's imports (pywikibot, Flask, ldap3 …) at every call — about 0.6 s of CPU each, a
few hundred times a run.

The children come from a fork server (`multiprocessing`'s "forkserver"): a clean process,
started once per test process, that imports what the commands use and then only forks.
It never opens a store or a socket, so a child inherits no SQLite state (SQLite forbids
carrying an open database across a fork) and no descriptor of the tests. Each child is a
process apart: its own environment, standard streams, signal handlers, exit functions and
exit status, so nothing a command does (the pywikibot configuration it sets, a handler
it installs) reaches the tests or the next command. Tests about the process itself — its
start-up, a kill at a given moment — start the real `python -m ats.cli` instead.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from multiprocessing.context import ForkServerContext
from pathlib import Path

_CONTEXT: dict[str, ForkServerContext] = {}


def _context() -> ForkServerContext:
    """The fork server's context: one per test process, preloading `tests.cli_preload`."""
    if "ctx" not in _CONTEXT:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["tests.cli_preload"])
        _CONTEXT["ctx"] = ctx
    return _CONTEXT["ctx"]


class Child:
    """A command running in a forked process: `subprocess.Popen`'s `pid`, `returncode`,
    `poll`, `wait`, `send_signal`, `terminate` and `kill`."""

    def __init__(self, args: Sequence[str], process: multiprocessing.process.BaseProcess) -> None:
        self.args = ["ats", *args]
        self._process = process
        self.pid = process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        if self._process.exitcode is None:
            os.kill(self._process.pid or 0, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def start(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    output: Path,
    cwd: str | Path | None = None,
    stdin: Path | None = None,
) -> Child:
    """`ats ARGS` forked to run on (a server, a watcher), its standard output and error
    both written to the file `output`; stopped as a `subprocess.Popen` would be."""
    return Child(args, _spawn(args, env, cwd, stdin or os.devnull, output, output))


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 180,
    cwd: str | Path | None = None,
    input: str | None = None,  # noqa: A002 - subprocess.run's name
) -> subprocess.CompletedProcess[str]:
    """`ats ARGS` in a forked child, run to its end: its exit status, standard output and
    error as text. Raises `subprocess.TimeoutExpired` (after killing it) when it outlasts
    `timeout`."""
    with tempfile.TemporaryDirectory(prefix="ats-cli-") as folder:
        out, err, given = (Path(folder) / name for name in ("out", "err", "in"))
        given.write_text(input or "", encoding="utf-8")
        process = _spawn(args, env, cwd, given, out, err)
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(["ats", *args], timeout)
        return subprocess.CompletedProcess(
            ["ats", *args],
            process.exitcode,
            out.read_text("utf-8", errors="replace"),
            err.read_text("utf-8", errors="replace"),
        )


def _spawn(
    args: Sequence[str],
    env: Mapping[str, str] | None,
    cwd: str | Path | None,
    stdin: str | Path,
    stdout: str | Path,
    stderr: str | Path,
) -> multiprocessing.process.BaseProcess:
    """A child forked from the fork server, running `ats ARGS` with these streams (files),
    environment (the test's own when None) and folder (the test's when None)."""
    process = _context().Process(
        target=_main,
        args=(
            list(args),
            dict(os.environ if env is None else env),
            str(cwd or os.getcwd()),
            str(stdin),
            str(stdout),
            str(stderr),
        ),
    )
    process.start()
    return process


def _main(
    args: list[str], env: dict[str, str], cwd: str, stdin: str, stdout: str, stderr: str
) -> None:
    """In the child: the streams and environment of a process started with them, then
    `ats.cli.main(args)` and the exit functions; exits with the command's status."""
    code: int = 1
    try:
        given = os.open(stdin, os.O_RDONLY)
        out = os.open(stdout, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        err = out if stderr == stdout else os.open(stderr, os.O_WRONLY | os.O_CREAT, 0o600)
        for fd, target in ((given, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
        for fd in {given, out, err}:
            os.close(fd)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115
        # The handlers Python starts with: a broken pipe or socket is an OSError.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        for signum in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(signum, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        from ats.cli import main

        try:
            code = main(args)
        except SystemExit as exit_:
            if isinstance(exit_.code, int):
                code = exit_.code
            elif exit_.code is None:
                code = 0
            else:
                print(exit_.code, file=sys.stderr)
        except KeyboardInterrupt:
            code = 130
        except BaseException:  # noqa: BLE001 - as Python would: the traceback, status 1
            traceback.print_exc()
        atexit._run_exitfuncs()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
