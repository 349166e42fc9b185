"""The bridge's public status page under load: throughput and latency of `/status` and
`/status.json`.

Seeds a throwaway store with 200 requests in every state (a quarter of them decided,
so the median time to a decision has data), starts `ats bridge serve` (waitress, its
default 8 threads) on a free port of 127.0.0.1 with random secrets, and drives each
page over loopback with `wrk` when it is installed (Debian: `apt-get install wrk`),
else with a bounded Python load generator (threads, one `requests.Session` each).
Reports requests per second, p50/p99 latency and the server's CPU per request.
Everything is bounded in time: by default about 30 s in all.

Run from the project root:
``.venv/bin/python bench/bench_bridge.py [--duration S] [--connections N] [--python]``
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.ports import free_port  # noqa: E402
from membership.states import State  # noqa: E402
from membership.store import Store  # noqa: E402

PAGE = "Toolserver/Requests"
REQUESTS = 200
PATHS = ("/status", "/status.json")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def seed(store: Store, count: int = REQUESTS) -> None:
    """`count` requests spread over the states, filed over the last 90 days."""
    rng = random.Random(7)
    states = list(State)
    now = datetime.now(UTC)
    for i in range(count):
        state = states[i % len(states)]
        filed = now - timedelta(days=rng.uniform(0, 90))
        record = store.add_request(
            page=PAGE,
            key=f"bench-{i}",
            heading=f"Account request: Bench user {i}",
            requester=f"Bench user {i}",
            subject=f"Bench user {i}",
            type="tool" if i % 5 == 0 else "account",
            fields={"purpose": "benchmarking the status page"},
            content_hash=f"h{i}",
            intro_revid=1000 + i,
            intro_timestamp=filed.isoformat(timespec="seconds"),
            state=state,
            detail={},
        )
        if i % 4 == 0:
            store.add_decision(
                record.id,
                kind="approve" if i % 8 == 0 else "decline",
                params={},
                wikitext="{{ATS approve}}",
                ordinal=0,
                revid=5000 + i,
                actor="ChapterAdmin",
                honoured=True,
                reason="",
            )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def start_bridge(root: Path, port: int) -> subprocess.Popen:
    config = root / "ats.toml"
    config.write_text(
        f"""[wiki]
api = "https://127.0.0.1:9/w/api.php"  # never contacted: no page here logs in
request_page = "{PAGE}"
[bot]
username = "ClerkBot@clerk"
[store]
path = "ats.sqlite"
[bridge]
url = "http://127.0.0.1:{port}"
consumer_key = "bench-consumer"
""",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "ATS_SESSION_KEY": secrets.token_urlsafe(32),
        "ATS_OAUTH_SECRET": secrets.token_hex(20),
    }
    ats = [sys.executable, "-m", "ats.cli", "--config", str(config), "bridge", "serve"]
    process = subprocess.Popen(
        [*ats, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(root / "bridge.log").open("wb"),
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/status", timeout=2).ok:
                return process
        except requests.ConnectionError:
            time.sleep(0.1)
        if process.poll() is not None:
            break
    process.kill()
    sys.exit("the bridge did not start:\n" + (root / "bridge.log").read_text())


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load_wrk(url: str, duration: float, connections: int) -> dict[str, float]:
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:.0f}s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=duration + 30,
        check=True,
    ).stdout
    percentile = dict(
        (int(p), _ms(v, u))
        for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    )
    done = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": int(done.group(1)) if done else 0,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": percentile[50],
        "p99": percentile[99],
        "errors": int(errors.group(1)) if errors else 0,
    }


def load_python(url: str, duration: float, connections: int, cap: int = 200_000) -> dict:
    """`connections` threads, each with its own keep-alive session, for `duration` seconds."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration

    def worker() -> None:
        mine, bad = [], 0
        with requests.Session() as http:
            while time.perf_counter() < stop_at and len(mine) < cap // connections:
                start = time.perf_counter()
                response = http.get(url, timeout=10)
                mine.append(time.perf_counter() - start)
                bad += not response.ok
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": cuts[49] * 1000,
        "p99": cuts[98] * 1000,
        "errors": errors[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per page (10)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--python", action="store_true", help="use the Python load generator")
    args = parser.parse_args()
    use_wrk = bool(shutil.which("wrk")) and not args.python
    generator = "wrk" if use_wrk else "python threads + requests.Session"

    with tempfile.TemporaryDirectory(prefix="ats-bench-bridge-") as tmp:
        root = Path(tmp)
        store = Store(root / "ats.sqlite")
        seed(store)
        store.close()
        port = free_port()
        bridge = start_bridge(root, port)
        try:
            base = f"http://127.0.0.1:{port}"
            print(f"store: {REQUESTS} requests; bridge pid {bridge.pid} on {base}")
            print(
                f"load: {generator}, {args.connections} connections, "
                f"{args.duration:.0f} s per page, after a 2 s warm-up"
            )
            print()
            print(
                "| page | bytes | requests | req/s | p50 ms | p99 ms | server CPU ms/req | errors |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for path in PATHS:
                url = base + path
                size = len(requests.get(url, timeout=5).content)
                load_python(url, 2, args.connections)  # warm-up
                cpu_before = cpu_seconds(bridge.pid)
                if use_wrk:
                    result = load_wrk(url, args.duration, args.connections)
                else:
                    result = load_python(url, args.duration, args.connections)
                cpu = cpu_seconds(bridge.pid) - cpu_before
                per_request = 1000 * cpu / max(1, result["requests"])
                print(
                    f"| `{path}` | {size:,} | {result['requests']:,} | {result['rps']:,.0f} "
                    f"| {result['p50']:.1f} | {result['p99']:.1f} | {per_request:.2f} "
                    f"| {result['errors']} |",
                    flush=True,
                )
            check = Store(root / "ats.sqlite")
            print(f"\nsessions stored after the run: {check.db['sessions'].count}")
            check.close()
        finally:
            bridge.terminate()
            bridge.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
