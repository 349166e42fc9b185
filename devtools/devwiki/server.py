"""Serving a dev wiki: PHP's built-in web server (``php -S`` on 127.0.0.1, in a session of
its own so its workers stop with it), found again through ``/proc`` when the state file lost
track of it, stopped with its whole process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from devtools.devwiki.local import LocalWiki
from devtools.devwiki.php import MEDIAWIKI_DIR, DevWikiError, php
from devtools.devwiki.processes import (
    all_pids,
    cmdline,
    environ_has,
    pgid_members,
    pgid_of,
    process_alive,
)
from devtools.ports import port_in_use

SERVER_WORKERS = "4"


def start_server(wiki: LocalWiki) -> subprocess.Popen[bytes]:
    """Start ``php -S`` for ``wiki`` and record its pid; it may not answer yet."""
    if not wiki.config_path.exists():
        raise DevWikiError(f"no LocalSettings.php at {wiki.config_path}")
    if port_in_use(wiki.port):
        raise DevWikiError(
            f"port {wiki.port} on 127.0.0.1 is already in use by another process; "
            f"stop it or recreate the dev wiki in {wiki.root} with another port"
        )
    env = wiki._env()
    env["PHP_CLI_SERVER_WORKERS"] = SERVER_WORKERS
    wiki.log_path.parent.mkdir(parents=True, exist_ok=True)
    with wiki.log_path.open("ab") as log:
        proc = subprocess.Popen(
            [php(), "-S", f"127.0.0.1:{wiki.port}", "-t", str(MEDIAWIKI_DIR)],
            cwd=wiki.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # setsid: stop_server() kills the workers with the group
        )
    wiki._update_state(pid=proc.pid)
    return proc


def stop_server(wiki: LocalWiki, proc: subprocess.Popen[bytes] | None) -> None:
    """Kill the server's process group; no php process of this wiki survives."""
    pid = wiki._state().get("pid")
    pids: set[int] = set(orphan_servers(wiki))
    if isinstance(pid, int) and is_our_server(wiki, pid):
        pids.add(pid)
    own_group = os.getpgrp()
    groups = {g for g in map(pgid_of, pids) if g is not None and g != own_group}

    def reap() -> None:
        if proc is not None:
            proc.poll()

    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        for p in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            reap()
            if not _survivors(groups, pids):
                break
            time.sleep(0.05)
        if not _survivors(groups, pids):
            break
    reap()
    leftover = _survivors(groups, pids)
    if leftover:
        raise DevWikiError(f"php server processes {sorted(leftover)} survived SIGKILL")
    if pid is not None:
        wiki._update_state(pid=None)


def server_running(wiki: LocalWiki) -> bool:
    """Whether ``wiki``'s php server process is alive."""
    pid = wiki._state().get("pid")
    return isinstance(pid, int) and is_our_server(wiki, pid)


def is_our_server(wiki: LocalWiki, pid: int) -> bool:
    """Whether ``pid`` is a ``php -S`` serving MediaWiki on ``wiki``'s address."""
    if not process_alive(pid):
        return False
    argv = cmdline(pid)
    return (
        bool(argv)
        and "php" in Path(argv[0]).name
        and "-S" in argv
        and f"127.0.0.1:{wiki.port}" in argv
        and str(MEDIAWIKI_DIR) in argv
    )


def orphan_servers(wiki: LocalWiki) -> list[int]:
    """php servers for this wiki's address and docroot, whatever the state file says."""
    return [
        pid
        for pid in all_pids()
        if is_our_server(wiki, pid) and environ_has(pid, f"MW_CONFIG_FILE={wiki.config_path}")
    ]


def adopt_orphan(wiki: LocalWiki) -> None:
    """Record the pid of a server of this wiki that the state file lost track of."""
    for pid in orphan_servers(wiki):
        if pgid_of(pid) == pid:  # the setsid'd parent, not a worker
            wiki._update_state(pid=pid)
            return


def wait_ready(wiki: LocalWiki, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """Return once ``wiki``'s api.php answers; ``DevWikiError`` with the log's tail if it
    does not within ``timeout`` seconds or the server exits."""
    deadline = time.monotonic() + timeout
    params = {"action": "query", "meta": "siteinfo", "format": "json"}
    last_error: str = "no answer yet"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DevWikiError(
                f"php server exited with code {proc.returncode}; "
                f"see {wiki.log_path}:\n{log_tail(wiki.log_path)}"
            )
        try:
            resp = requests.get(wiki.api_url, params=params, timeout=10)
            if resp.ok and "query" in resp.json():
                return
            last_error = f"HTTP {resp.status_code}: {resp.text[:300]}"
        except (requests.RequestException, ValueError) as exc:
            last_error = str(exc)
        time.sleep(0.1)
    raise DevWikiError(
        f"the wiki at {wiki.api_url} did not answer within {timeout} s ({last_error}); "
        f"see {wiki.log_path}:\n{log_tail(wiki.log_path)}"
    )


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _survivors(groups: set[int], pids: set[int]) -> set[int]:
    alive = {p for p in pids if process_alive(p)}
    for pgid in groups:
        alive.update(pgid_members(pgid))
    return alive
