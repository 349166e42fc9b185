"""The bridge under load, beside a bare page of the same rows: `/status`, `/status.json`,
a member's `/me` and the admins' queue `/admin`, alone and while the bot and a
provisioning worker write to the same store.

It seeds a throwaway store (deterministic: the same store for the same `--requests`)
with N open requests in every open state (150 by default), a third as many closed ones
(the decided among them give the median time to a decision), a member with an account,
a key, the terms and two requests, and two admins. Then it starts, at once:

- the bridge, `ats bridge serve` (waitress, 8 threads) on a free port of 127.0.0.1 with
  random secrets; the member and an admin are signed in as the OAuth callback signs
  them in (`bridge.auth.sign_in`, in this process), and their cookies sent;
- the bare page (`bench/bare_page.py`, a process of its own): Flask, Jinja and waitress
  rendering the rows of `/status`'s table from the same store with one SELECT. Before
  anything is measured, the `<tbody>` rows of the English `/status` and of the bare
  page are compared, and the run stops if they differ by one byte.

Each page is driven over loopback with `wrk` when it is installed (Debian: `apt-get
install wrk`), else with a bounded Python load generator (threads, one
`requests.Session` each): a 2 s warm-up, then 10 s, at 1 and at 8 connections, in 3
rounds, each round taking the pages in another order. Reported: the median over the
rounds of requests per second, p50 and p99 latency, and the server's CPU per request
(from /proc: the bridge's process or the bare page's); `/status` ÷ the bare page is
the median of each round's ratio, so both sides of a ratio met the same machine.

Then, while the bot and a worker write (`--no-writers` skips it), every page once more
at 8 connections. The worker is the real `ats provision run --poll 1` on the dry-run
backend (it leases each job, records the account and finishes the job in the store, as
against a directory). The bot is `bench/cycle_writer.py`: the reads and transactions
of a cycle with something to say, every 2 s, through the store's methods — not the
clerk, which needs a wiki to read (its docstring says what it writes). The requests it
approves are the worker's jobs.

Last, the targets beside the figures: `/status` >= 0.6x the bare page at 1 and at 8
connections (0.5x with `--requests 1000` or more); `/me` and `/admin` >= 300 req/s at
8 connections; p99 < 150 ms at 8 connections for every page of the bridge under writes.

Run from the project root:
``.venv/bin/python bench/bench_bridge.py [--requests N] [--quick] [--python] [--no-writers]``
A default run takes about 7 minutes (5 pages x 2 loads x 3 rounds x 12 s, then 5 pages x
12 s under writes, and the seeding); `--requests 1000` a little more; `--quick` (one
round of 3 s after a 1 s warm-up) about a minute.
"""

from __future__ import annotations

import argparse
import contextlib
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from ats.demo import stop_process as stop  # noqa: E402
from devtools.ports import free_port  # noqa: E402
from membership.states import CLOSED, State  # noqa: E402
from membership.store import Store  # noqa: E402
from policies.terms import load_terms  # noqa: E402

PAGE = "Toolserver/Requests"
MEMBER = "Bench member"
ADMINS = ("Bench admin", "Second admin")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq7wDgO5m3m0n8rHj1bQ2pQ1pC2yq1zQ0S6c1VfQ9x1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BRIDGE_PAGES = ("/status", "/status.json", "/me", "/admin")
BARE = "bare page"
# The targets: /status against the bare page, the logged-in pages' rate, p99 under writes.
STATUS_RATIO, STATUS_RATIO_AT_1000 = 0.6, 0.5
LOGGED_IN_RPS = 300
P99_UNDER_WRITES_MS = 150


def seed(store: Store, count: int, now: datetime) -> None:
    """`count` open requests in every open state and `count // 3` closed ones, filed
    over the 90 days before `now`; the member's account, key, terms and requests."""
    rng = random.Random(7)
    open_states = [s for s in State if s not in CLOSED]
    closed_states = sorted(CLOSED)
    with store.transaction():
        for i in range(count + count // 3):
            closed = i >= count
            states = closed_states if closed else open_states
            state = states[i % len(states)]
            filed = now - timedelta(days=rng.uniform(0, 90))
            record = store.add_request(
                page=PAGE,
                key=f"bench-{i}",
                heading=f"Account request: Bench user {i}",
                requester=f"Bench user {i}",
                subject=f"Bench user {i}",
                type="tool" if i % 5 == 0 else "account",
                fields={"purpose": "benchmarking the bridge", "tool": f"benchtool{i}"},
                content_hash=f"h{i}",
                intro_revid=1000 + i,
                intro_timestamp=filed.isoformat(timespec="seconds"),
                state=str(state),
                detail={},
            )
            if state in (State.DONE, State.DECLINED, State.APPROVED):
                store.add_decision(
                    record.id,
                    kind="decline" if state == State.DECLINED else "approve",
                    params={},
                    wikitext="{{ATS approve}}",
                    ordinal=0,
                    revid=5000 + i,
                    actor=ADMINS[i % 2],
                    honoured=True,
                    reason="",
                )
        store.record_identity(MEMBER, "central-member", 2)
        store.accept_terms(MEMBER, load_terms().version)
        store.add_ssh_key(MEMBER, type="ssh-ed25519", bits=256, key=KEY, fingerprint="SHA256:b")
        store.record_account("benchmember", "person", MEMBER, 20_000)
        for i, (kind, state) in enumerate((("account", State.DONE), ("tool", State.RECEIVED))):
            store.add_request(
                page=PAGE,
                key=f"member-{i}",
                heading=f"{kind.title()} request: {MEMBER}",
                requester=MEMBER,
                subject=MEMBER,
                type=kind,
                fields={"purpose": "benchmarking /me", "tool": "benchtool"},
                content_hash=f"m{i}",
                intro_revid=9000 + i,
                intro_timestamp=(now - timedelta(days=3 - i)).isoformat(timespec="seconds"),
                state=str(state),
                detail={},
            )


# -- processes -------------------------------------------------------------------------


def write_config(root: Path, port: int) -> Path:
    config = root / "ats.toml"
    admins = ", ".join(f'"{name}"' for name in ADMINS)
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
[provisioning]
backend = "dry-run"
reconcile_seconds = 0
[policy]
admins = [{admins}]
""",
        encoding="utf-8",
    )
    return config


def session_cookie(config: Path, username: str) -> str:
    """A signed-in session of `username`, made as the OAuth callback makes it: the
    `Cookie` header that carries it."""
    import flask

    from ats.commands.bridge import bridge_settings
    from ats.config import load_config
    from bridge import auth, create_app

    app = create_app(bridge_settings(load_config(config)))
    with app.test_request_context("/"):
        auth.sign_in(username, f"central-{username}", (), 2)
        response = app.response_class()
        app.session_interface.save_session(app, flask.session, response)
    return response.headers["Set-Cookie"].split(";", 1)[0]


def started(
    command: list[str], log: Path, url: str, what: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """`command` started, once `url` answers 200 (within 20 s)."""
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"), cwd=BENCH.parent
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(requests.ConnectionError):
            if requests.get(url, timeout=2).ok:
                return process
        time.sleep(0.1)
    stop(process)
    sys.exit(f"{what} did not start:\n{log.read_text()}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


# -- the same rows ---------------------------------------------------------------------


def table_rows(html: str) -> list[str]:
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    return re.findall(r"<tr>.*?</tr>", body.group(1), re.S) if body else []


def check_same_rows(status_url: str, bare_url: str, expected: int) -> None:
    """Stop the run unless the bridge's rows and the bare page's are the same bytes (a
    second look first: a row's "days waiting" may have turned between the two reads)."""
    for _ in range(2):
        bridge = table_rows(requests.get(status_url, timeout=10).text)
        bare = table_rows(requests.get(bare_url, timeout=10).text)
        if bridge == bare and len(bridge) == expected:
            return
    if len(bridge) != len(bare) or len(bridge) != expected:
        sys.exit(
            f"rows differ: the bridge shows {len(bridge)}, the bare page {len(bare)}, "
            f"{expected} are open"
        )
    first = next(i for i, (a, b) in enumerate(zip(bridge, bare, strict=True)) if a != b)
    sys.exit(f"row {first} differs:\n  bridge: {bridge[first]}\n  bare:   {bare[first]}")


# -- load ------------------------------------------------------------------------------


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load_wrk(url: str, duration: float, connections: int, headers: dict[str, str]) -> dict:
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:.0f}s", "--latency"]
    command += ["--timeout", "10s"]  # as the Python generator: a slow answer is measured
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=duration + 30, check=True
    ).stdout
    percentile = {
        int(p): _ms(v, u)
        for p, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    }
    done = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: .*timeout (\d+)", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {
        "requests": int(done.group(1)) if done else 0,
        "rps": float(rate.group(1)) if rate else 0.0,
        "p50": percentile.get(50, 0.0),
        "p99": percentile.get(99, 0.0),
        "errors": (int(errors.group(1)) if errors else 0)
        + (int(sockets.group(1)) if sockets else 0),
    }


def load_python(
    url: str, duration: float, connections: int, headers: dict[str, str], cap: int = 200_000
) -> dict:
    """`connections` threads, each with its own keep-alive session, for `duration` seconds;
    anything but a 200 (a redirect to the sign-in page, say) is an error."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration

    def worker() -> None:
        mine: list[float] = []
        bad = 0
        with requests.Session() as http:
            http.headers.update(headers)
            while time.perf_counter() < stop_at and len(mine) < cap // connections:
                start = time.perf_counter()
                response = http.get(url, timeout=10, allow_redirects=False)
                mine.append(time.perf_counter() - start)
                bad += response.status_code != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    begun = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - begun
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": cuts[49] * 1000,
        "p99": cuts[98] * 1000,
        "errors": errors[0],
    }


@dataclass(frozen=True)
class Target:
    """A page to drive: where, with which headers, and the process that serves it."""

    name: str
    url: str
    headers: dict[str, str]
    server: subprocess.Popen


@dataclass(frozen=True)
class Load:
    generate: Callable[..., dict]
    duration: float
    warm_up: float

    def measure(self, target: Target, connections: int) -> dict[str, float]:
        load_python(target.url, self.warm_up, connections, target.headers)
        cpu_before = cpu_seconds(target.server.pid)
        result = self.generate(target.url, self.duration, connections, target.headers)
        cpu = cpu_seconds(target.server.pid) - cpu_before
        return {**result, "cpu": 1000 * cpu / max(1, result["requests"])}


# -- report ----------------------------------------------------------------------------

HEADER = (
    "| page | connections | req/s | p50 ms | p99 ms | server CPU ms/req | errors |\n"
    "|---|---:|---:|---:|---:|---:|---:|"
)


def row(name: str, connections: int, runs: list[dict[str, float]]) -> str:
    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    return (
        f"| `{name}` | {connections} | {median('rps'):,.0f} | {median('p50'):.1f} "
        f"| {median('p99'):.1f} | {median('cpu'):.2f} | {sum(r['errors'] for r in runs):.0f} |"
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def targets(
    rounds: list[dict[tuple[str, int], dict]], under_writes: dict[str, dict], count: int
) -> list[str]:
    """The targets as table rows; one whose load was not run says so."""
    wanted = STATUS_RATIO_AT_1000 if count >= 1000 else STATUS_RATIO
    lines = ["| target | figure | |", "|---|---:|---|"]

    def median(page: str, connections: int, figure: str) -> float | None:
        if (page, connections) not in rounds[0]:
            return None
        return statistics.median(r[(page, connections)][figure] for r in rounds)

    for n in (1, 8):
        ratio = None
        if ("/status", n) in rounds[0]:
            ratio = statistics.median(
                r[("/status", n)]["rps"] / r[(BARE, n)]["rps"] for r in rounds
            )
        label = f"`/status` ÷ bare page, {n} connection{'s' * (n > 1)}, {count} open"
        lines.append(
            target_row(f"{label} (>= {wanted}x)", ratio, "x", ratio is not None and ratio >= wanted)
        )
    for page in ("/me", "/admin"):
        rate = median(page, 8, "rps")
        ok = rate is not None and rate >= LOGGED_IN_RPS
        lines.append(
            target_row(f"`{page}` at 8 connections (>= {LOGGED_IN_RPS} req/s)", rate, "req/s", ok)
        )
    for page in BRIDGE_PAGES:
        p99 = under_writes[page]["p99"] if page in under_writes else None
        ok = p99 is not None and p99 < P99_UNDER_WRITES_MS
        label = f"`{page}` p99 at 8 connections under writes (< {P99_UNDER_WRITES_MS} ms)"
        lines.append(target_row(label, p99, "ms", ok))
    return lines


def target_row(label: str, value: float | None, unit: str, ok: bool) -> str:
    if value is None:
        return f"| {label} | not measured | |"
    shown = f"{value:.2f}x" if unit == "x" else f"{value:,.1f} {unit}"
    return f"| {label} | {shown} | {verdict(ok)} |"


# -- the run ---------------------------------------------------------------------------


@contextlib.contextmanager
def running() -> Iterator[list[subprocess.Popen]]:
    """A list to put processes in; every one is stopped on the way out, whatever happens."""
    processes: list[subprocess.Popen] = []
    try:
        yield processes
    finally:
        for process in reversed(processes):
            stop(process)


def writers(root: Path, config: Path, processes: list[subprocess.Popen]) -> Callable[[], str]:
    """Start the cycle writer and the worker; the function that stops them and says
    what they did."""
    cycles_out, jobs_out = root / "cycles.out", root / "worker.out"
    python = sys.executable
    cycle_writer = subprocess.Popen(
        [python, str(BENCH / "cycle_writer.py"), str(root / "ats.sqlite"), PAGE],
        stdout=cycles_out.open("wb"),
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [python, "-m", "ats.cli", "--config", str(config), "provision", "run", "--poll", "1"],
        stdout=jobs_out.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=BENCH.parent,
    )
    processes += [cycle_writer, worker]

    def stopped() -> str:
        for name, process, out in (
            ("the cycle writer", cycle_writer, cycles_out),
            ("the worker", worker, jobs_out),
        ):
            if process.poll() is not None:  # it stopped on its own: no writes were measured
                sys.exit(f"{name} stopped early:\n{out.read_text()}")
        stop(cycle_writer)
        stop(worker)
        said = cycles_out.read_text().strip().splitlines()
        done = len(re.findall(r"^job \d+ .*: done", jobs_out.read_text(), re.M))
        failed = len(re.findall(r"^job \d+ .*: (will retry|failed)", jobs_out.read_text(), re.M))
        return (
            f"the bot's cycles: {said[-1] if said else 'none'}; the worker: {done} jobs done, "
            f"{failed} failed"
        )

    return stopped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=150, help="open requests (150)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per page (10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (3)")
    parser.add_argument("--quick", action="store_true", help="one round of 3 s: a smoke run")
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[1, 8], help="concurrent clients (1 8)"
    )
    parser.add_argument("--python", action="store_true", help="use the Python load generator")
    parser.add_argument("--no-writers", action="store_true", help="skip the run under writes")
    args = parser.parse_args()
    rounds, duration, warm_up = args.rounds, args.duration, 2.0
    if args.quick:
        rounds, duration, warm_up = 1, 3.0, 1.0
    use_wrk = bool(shutil.which("wrk")) and not args.python
    load = Load(load_wrk if use_wrk else load_python, duration, warm_up)
    generator = "wrk" if use_wrk else "python threads + requests.Session"

    with tempfile.TemporaryDirectory(prefix="ats-bench-bridge-") as tmp, running() as processes:
        root = Path(tmp)
        store_path = root / "ats.sqlite"
        store = Store(store_path)
        seed(store, args.requests, datetime.now(UTC))
        store.close()
        bridge_port, bare_port = free_port(), free_port()
        config = write_config(root, bridge_port)
        os.environ["ATS_SESSION_KEY"] = secrets.token_urlsafe(32)
        os.environ["ATS_OAUTH_SECRET"] = secrets.token_hex(20)
        member, admin = session_cookie(config, MEMBER), session_cookie(config, ADMINS[0])
        base = f"http://127.0.0.1:{bridge_port}"
        ats = [sys.executable, "-m", "ats.cli", "--config", str(config), "bridge", "serve"]
        bridge = started(
            [*ats, "--port", str(bridge_port)], root / "bridge.log", f"{base}/status", "the bridge"
        )
        processes.append(bridge)
        bare_url = f"http://127.0.0.1:{bare_port}/"
        bare_page = [sys.executable, str(BENCH / "bare_page.py"), str(store_path), str(bare_port)]
        bare = started(bare_page, root / "bare.log", bare_url, "the bare page")
        processes.append(bare)

        open_count = args.requests + 1  # and the member's tool request
        check_same_rows(f"{base}/status", bare_url, open_count)
        pages = [
            Target("/status", f"{base}/status", {}, bridge),
            Target("/status.json", f"{base}/status.json", {}, bridge),
            Target("/me", f"{base}/me", {"Cookie": member}, bridge),
            Target("/admin", f"{base}/admin", {"Cookie": admin}, bridge),
            Target(BARE, bare_url, {}, bare),
        ]
        for target in pages:
            answer = requests.get(
                target.url, headers=target.headers, allow_redirects=False, timeout=10
            )
            if answer.status_code != 200:
                sys.exit(f"{target.name} answers {answer.status_code}, not 200")
        print(
            f"store: {open_count} open requests, {args.requests // 3} closed; "
            f"bridge pid {bridge.pid}, bare page pid {bare.pid}; the rows are the same bytes"
        )
        print(
            f"load: {generator}; {duration:.0f} s per page after a {warm_up:.0f} s warm-up, "
            f"at {' and '.join(map(str, args.connections))} connections, {rounds} round(s); "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}\n",
            flush=True,
        )

        results: list[dict[tuple[str, int], dict]] = []
        for number in range(rounds):
            turn = number % len(pages)
            measured: dict[tuple[str, int], dict] = {}
            for target in pages[turn:] + pages[:turn]:
                for connections in args.connections:
                    measured[(target.name, connections)] = load.measure(target, connections)
            results.append(measured)
            print(f"round {number + 1} of {rounds} done", flush=True)
        print(f"\nMedians of {rounds} round(s):\n\n{HEADER}")
        for target in pages:
            for connections in args.connections:
                runs = [r[(target.name, connections)] for r in results]
                print(row(target.name, connections, runs))

        under_writes: dict[str, dict] = {}
        if not args.no_writers:
            stop_writers = writers(root, config, processes)
            time.sleep(2)  # the first cycles and jobs under way
            for target in pages:
                under_writes[target.name] = load.measure(target, 8)
            said = stop_writers()
            print(f"\nWhile the bot and a worker write ({said}):\n\n{HEADER}")
            for target in pages:
                print(row(target.name, 8, [under_writes[target.name]]))

        print("\nTargets:\n")
        print("\n".join(targets(results, under_writes, args.requests)))
        check = Store(store_path)
        print(f"\nsessions stored after the run: {check.db['sessions'].count}")
        check.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
