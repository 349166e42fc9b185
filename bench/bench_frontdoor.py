"""What the front door costs a tool's web service: the same requests straight to the
tool's server and through the front door, side by side in one run.

One dev login host with its front door (Caddy, HTTPS with its internal CA) and a tool
whose web service (`toolforge webservice generic start`: gunicorn, two sync workers, as
the python3.11 type runs it) listens on its Unix socket — which the front door forwards
to — and on a loopback port, so that a load generator can reach the very same server
straight. Two pages: `/`, 18 bytes that cost gunicorn almost nothing (the worst case
for the front door's share), and `/page`, a table of 100 rows built with escaping
(about 8 KB, a small tool's page).

Latency: `--requests` requests one after another on each side, interleaved, over
kept-alive connections (straight: HTTP/1.1 over the tool's socket, reached through the
login host's /proc/PID/root; through: HTTPS to the front door with the tool's name):
the median and the 99th percentile. Throughput: `wrk` (2 threads, 8 connections,
`--seconds` each) on each side, `--rounds` rounds with the order alternated, medians;
with the CPU seconds each process used per request (from /proc), so that the front
door's own cost per request is read apart from the machine it shares.

Run as root from the project root (wrk is installed by scripts/setup):
``.venv/bin/python bench/bench_frontdoor.py [--requests 2000] [--seconds 5] [--rounds 3]
[--layout shared|pinned|both]``: throughput is measured with everything sharing the CPUs,
then with the front door on a CPU of its own (see `throughput`).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.devhost import DevHost  # noqa: E402
from devtools.ports import free_port  # noqa: E402
from tests.integration.loginhost_site import Site, close_site, open_site  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

DOMAIN = "ts.example"
APP = """from html import escape

ROWS = [(n, f"Item <{n}> & co", f"Editor {n % 17}", n * 3.7) for n in range(100)]


def page(title, rows):
    cells = "".join(
        f"<tr><td>{n}</td><td><a href='/item/{n}'>{escape(name)}</a></td>"
        f"<td>{escape(editor)}</td><td>{score:.1f}</td></tr>"
        for n, name, editor, score in rows
    )
    head = f"<!doctype html><title>{escape(title)}</title><h1>{escape(title)}</h1>"
    return f"{head}<table>{cells}</table>"


def app(environ, start_response):
    if environ["PATH_INFO"] == "/page":
        body = page("Recent items", ROWS).encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from mytool\\n"]
"""
# The same gunicorn the python3.11 type runs, on the tool's socket and on a loopback port.
SERVE = """#!/bin/sh
exec /usr/bin/gunicorn --bind "unix:$ATS_WEB_SOCKET" --bind 127.0.0.1:{port} --workers 2 \\
    --chdir "$HOME/www/python/src" app:app
"""
PATHS = ("/", "/page")


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("mytool.local")
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def straight(path: str) -> Callable[[], http.client.HTTPConnection]:
    return lambda: UnixConnection(path)


def through(port: int, ca: Path) -> Callable[[], http.client.HTTPConnection]:
    context = ssl.create_default_context(cafile=str(ca))
    host = f"mytool.{DOMAIN}"

    def connect() -> http.client.HTTPConnection:
        connection = http.client.HTTPSConnection(host, port, context=context)
        connection.sock = context.wrap_socket(
            socket.create_connection(("127.0.0.1", port)), server_hostname=host
        )
        return connection

    return connect


def one(connection: http.client.HTTPConnection) -> float:
    started = time.perf_counter()
    connection.request("GET", "/")
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200 and body == b"hello from mytool\n", (response.status, body)
    return time.perf_counter() - started


def latency(sides: dict[str, Callable[[], http.client.HTTPConnection]], count: int) -> None:
    connections = {name: make() for name, make in sides.items()}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(count):
        for name, connection in connections.items():
            times[name].append(one(connection))
    print("| side | median ms | p99 ms |\n|---|---:|---:|")
    for name, found in times.items():
        found.sort()
        p99 = found[int(len(found) * 0.99) - 1]
        print(f"| {name} | {statistics.median(found) * 1000:.2f} | {p99 * 1000:.2f} |")
    added = statistics.median(times["front door"]) - statistics.median(times["straight"])
    print(f"\nthe front door adds {added * 1000:.2f} ms at the median")


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by the processes of each name (caddy, gunicorn, wrk)."""
    used: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if name in ("caddy", "gunicorn"):
            used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return used


@dataclass(frozen=True)
class Served:
    """The processes serving the bench: the tool's gunicorns and the front door's Caddy."""

    tool_uid: int
    caddy_pid: int

    def app(self) -> list[int]:
        return processes("gunicorn", uid=self.tool_uid)

    def door(self) -> list[int]:
        return processes("caddy", under=self.caddy_pid)


def processes(name: str, *, uid: int | None = None, under: int | None = None) -> list[int]:
    """The processes called `name`: of user `uid`, or `under` (itself or a descendant)."""
    found = []
    for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields.get("Name", "").strip() != name:
            continue
        if uid is not None and int(fields["Uid"].split()[0]) != uid:
            continue
        if under is not None and not _descends(pid, under):
            continue
        found.append(pid)
    return found


def _descends(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def pin(cpus: str, pids: list[int]) -> None:
    """Every thread of these processes on `cpus` (taskset's list form)."""
    for pid in pids:
        taskset = ["taskset", "-a", "-p", "-c", cpus, str(pid)]
        subprocess.run(taskset, capture_output=True, check=True)


def wrk(url: str, seconds: float, hosts: Path, cpus: str = "") -> tuple[float, dict[str, float]]:
    """Requests a second that wrk gets from `url`, and the CPU seconds caddy and gunicorn
    used per request meanwhile. wrk runs in a mount namespace of its own whose
    /etc/hosts names the tool's host (the machine's is left alone), on `cpus` if given."""
    before = cpu_seconds()
    pinned = f"taskset -c {cpus} " if cpus else ""
    command = f"mount --bind {hosts} /etc/hosts && exec {pinned}wrk -t2 -c8 -d{seconds:g}s {url}"
    done = subprocess.run(
        ["unshare", "--mount", "sh", "-c", command], capture_output=True, text=True, check=True
    )
    after = cpu_seconds()
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", done.stdout)
    assert found and not errors, done.stdout
    rate = float(found.group(1))
    per_request = {name: (after[name] - before.get(name, 0.0)) / (rate * seconds) for name in after}
    return rate, per_request


def throughput(
    port: int, straight_port: int, seconds: float, rounds: int, layout: str, served: Served
) -> None:
    """wrk on each side. `shared`: wrk, gunicorn and Caddy on every CPU, as they come.
    `pinned`: wrk and the tool's gunicorn on the first CPU in both runs, Caddy alone on
    the second, as a front door on a host (or cores) of its own: the tool's server gets
    the same CPU on both sides, and what the ratio then measures is whether the front
    door holds the tool back."""
    cpus = os.sched_getaffinity(0)
    if layout == "pinned":
        if len(cpus) < 2:
            print("\n(pinned: needs two CPUs; skipped)")
            return
        first, second = sorted(cpus)[:2]
        pin(str(first), served.app())
        pin(str(second), served.door())
        wrk_cpus = str(first)
        print(f"\nPinned: wrk and gunicorn on CPU {first}, Caddy on CPU {second}.")
    else:
        everywhere = ",".join(map(str, sorted(cpus)))
        pin(everywhere, served.app() + served.door())
        wrk_cpus = ""
        print(f"\nShared: wrk, gunicorn and Caddy on CPUs {everywhere}.")
    sides = {
        "straight": f"http://127.0.0.1:{straight_port}",
        "front door": f"https://mytool.{DOMAIN}:{port}",
    }
    with tempfile.NamedTemporaryFile("w", suffix=".hosts") as hosts:
        hosts.write(f"127.0.0.1 localhost mytool.{DOMAIN}\n")
        hosts.flush()
        os.chmod(hosts.name, 0o644)
        print(
            "| page | straight req/s | front door req/s | ratio "
            "| app ms CPU/req | front door ms CPU/req |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        results = {}
        for path in PATHS:
            rates: dict[str, list[float]] = {name: [] for name in sides}
            caddy: list[float] = []
            app: list[float] = []
            for round_ in range(rounds):
                order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
                for name in order:
                    rate, used = wrk(sides[name] + path, seconds, Path(hosts.name), wrk_cpus)
                    rates[name].append(rate)
                    if name == "front door":
                        caddy.append(used.get("caddy", 0.0))
                    else:
                        app.append(used.get("gunicorn", 0.0))
            straight_rate = statistics.median(rates["straight"])
            door_rate = statistics.median(rates["front door"])
            print(
                f"| `{path}` | {straight_rate:.0f} | {door_rate:.0f} | "
                f"{door_rate / straight_rate:.2f}× | {statistics.median(app) * 1000:.3f} "
                f"| {statistics.median(caddy) * 1000:.3f} |"
            )
            results[path] = {"straight": rates["straight"], "front door": rates["front door"]}
        print(json.dumps(results))


def prepare(site: Site, straight_port: int) -> tuple[str, int, Path]:
    uid = site.tool_uid()
    home = site.host / "home" / "tools" / "mytool"
    app = home / "www" / "python" / "src" / "app.py"
    app.parent.mkdir(parents=True, exist_ok=True)
    app.write_text(APP)
    serve = home / "serve.sh"
    serve.write_text(SERVE.format(port=straight_port))
    serve.chmod(0o755)
    for path in (app, app.parent, app.parent.parent, app.parent.parent.parent, serve):
        shutil.chown(path, uid, uid)
    command = "become mytool toolforge webservice generic start --command ./serve.sh"
    started = site.ssh.run("alice", command)
    assert started.returncode == 0, started.stderr
    host = DevHost(site.host)
    state = host.running()
    assert state is not None
    path = f"/proc/{state.namespace_pid}/root/run/ats-web/mytool/web.sock"
    ca = host.front_door().root_cert()
    wait_until(lambda: os.path.exists(path), 30, what="the tool's socket")
    return path, state.web_port, ca


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--layout",
        choices=("shared", "pinned", "both"),
        default="both",
        help="where wrk, the tool's server and Caddy run (see throughput())",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_frontdoor: run as root (the login host is a mount namespace)")
        return 2
    if shutil.which("wrk") is None:
        print("bench_frontdoor: wrk is missing (scripts/setup installs it)")
        return 2
    site = open_site(uid_range=(80000, 89999), config_extra=f'\n[web]\ndomain = "{DOMAIN}"\n')
    try:
        straight_port = free_port()
        path, port, ca = prepare(site, straight_port)
        caddy = DevHost(site.host).front_door().running()
        assert caddy is not None
        served = Served(site.tool_uid(), caddy.pid)
        sides = {"straight": straight(path), "front door": through(port, ca)}
        wait_until(lambda: _answers(sides["front door"]), 30, what="the front door's route")
        latency(sides, args.requests)
        for layout in ("shared", "pinned") if args.layout == "both" else (args.layout,):
            throughput(port, straight_port, args.seconds, args.rounds, layout, served)
    finally:
        close_site(site)
    return 0


def _answers(make: Callable[[], http.client.HTTPConnection]) -> bool:
    try:
        return one(make()) > 0
    except (AssertionError, OSError):
        return False


if __name__ == "__main__":
    sys.exit(main())
