"""What the front door costs a tool's web service: the same requests straight to the
tool's server and through the front door, side by side in one run.

One dev login host with its front door (Caddy, HTTPS with its internal CA) and a tool
whose web service (`toolforge webservice python3.11 start`: gunicorn, two sync workers,
on its Unix socket) answers a small page. The client keeps its connection open on both
sides: straight, HTTP/1.1 over the tool's socket (reached through the login host's
/proc/PID/root); through the front door, HTTPS to its loopback port with the tool's
name. Each round: `--requests` requests one after another on each side, interleaved
(latency: the median and the 99th percentile), then `--seconds` seconds of 8 clients
at once on each side, each a process (throughput).

Run as root from the project root:
``.venv/bin/python bench/bench_frontdoor.py [--requests 2000] [--seconds 5]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import ssl
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.devhost import DevHost  # noqa: E402
from tests.integration.loginhost_site import Site, close_site, open_site  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

DOMAIN = "ts.example"
APP = """def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from mytool\\n"]
"""


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


def throughput(make: Callable[[], http.client.HTTPConnection], seconds: float) -> float:
    """Requests a second that 8 clients get, each a process of its own (threads would
    share one interpreter: the client, not the server, would be measured)."""
    counts = multiprocessing.get_context("fork").Array("i", 8)
    start = time.monotonic() + 0.5
    deadline = start + seconds

    def client(slot: int) -> None:
        connection = make()
        one(connection)
        while time.monotonic() < start:
            time.sleep(0.01)
        while time.monotonic() < deadline:
            one(connection)
            counts[slot] += 1

    workers = [
        multiprocessing.get_context("fork").Process(target=client, args=(slot,))
        for slot in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / seconds


def prepare(site: Site) -> tuple[str, int, Path]:
    home = site.host / "home" / "tools" / "mytool"
    app = home / "www" / "python" / "src" / "app.py"
    app.parent.mkdir(parents=True, exist_ok=True)
    app.write_text(APP)
    for path in (app, app.parent, app.parent.parent, app.parent.parent.parent):
        shutil.chown(path, site.tool_uid(), site.tool_uid())
    started = site.ssh.run("alice", "become mytool toolforge webservice python3.11 start")
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
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_frontdoor: run as root (the login host is a mount namespace)")
        return 2
    site = open_site(uid_range=(80000, 89999), config_extra=f'\n[web]\ndomain = "{DOMAIN}"\n')
    try:
        path, port, ca = prepare(site)
        sides = {"straight": straight(path), "front door": through(port, ca)}
        wait_until(lambda: _answers(sides["front door"]), 30, what="the front door's route")
        latency(sides, args.requests)
        rates = {name: throughput(make, args.seconds) for name, make in sides.items()}
        print("\n| side | requests/s, 8 clients |\n|---|---:|")
        for name, rate in rates.items():
            print(f"| {name} | {rate:.0f} |")
        print(f"\nthrough the front door: {rates['front door'] / rates['straight']:.2f}× straight")
        print(json.dumps({"rates": rates}))
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
