"""The tool databases' reconciler over N accounts (1,000 by default: 80% members, 20%
tools) against a real MariaDB: the first pass that makes every user and file, a report
and a pass with nothing to do, a report and `--fix` with drift planted in 5% of them;
then, with `ats databases serve` running over those accounts, the time from a new
account (its store row and home) to a `replica.my.cnf` the `mariadb` client logs in
with, and from a suspension to the user locked.

Run from the project root as root: ``.venv/bin/python bench/bench_databases.py
[--accounts N] [--rounds R] [--interval S]`` (needs Debian's mariadb-server and
mariadb-client). It starts its own throwaway MariaDB on a free port of 127.0.0.1, a
store and homes owned by made-up uids in temporary folders, and removes them at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ats.commands.database_access import reconciler  # noqa: E402
from ats.config import load_config  # noqa: E402
from bench.timing import measured  # noqa: E402
from databases.plan import lines  # noqa: E402
from devtools.devmariadb import DevMariaDB  # noqa: E402
from membership.store import Store  # noqa: E402

FIRST_UID = 700000


def config_text(root: Path, socket: str, port: int) -> str:
    return f"""[wiki]
api = "http://127.0.0.1:9/api.php"
request_page = "Toolserver/Requests"
[bot]
username = "ClerkBot@clerk"
[store]
path = "ats.sqlite"
[provisioning]
backend = "unix"
root = "{root}"
[databases]
admin_socket = "{socket}"
client_port = {port}
"""


def add_account(store: Store, root: Path, index: int) -> tuple[str, int, Path]:
    """Account number `index` (every fifth a tool), its store row and home."""
    uid = FIRST_UID + index
    if index % 5 == 4:
        name, kind, home = f"tool{index}", "tool", root / "data" / "project" / f"tool{index}"
        store.record_account(name, "tool", name, uid)
    else:
        name, kind, home = f"member{index}", "person", root / "home" / f"member{index}"
        store.record_account(name, "person", f"Member{index}", uid)
    home.mkdir(mode=0o750)
    os.chown(home, uid, uid)
    return kind, uid, home


def row(label: str, n: int, found: int, cost: object) -> None:
    print(f"| {label} | {n:,} | {found:,} | {cost.wall:.2f} s | {cost.per(n)} |")  # type: ignore[attr-defined]


def works(uid: int, cnf: Path) -> bool:
    done = subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "mariadb",
         f"--defaults-file={cnf}", "-N", "-e", "SELECT 1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.returncode == 0


def wait(condition: object, timeout: float = 120) -> float:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise SystemExit("bench: gave up waiting")
        time.sleep(0.01)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--interval", type=float, default=5.0, help="the service's interval")
    args = parser.parse_args()
    n = args.accounts
    folder = Path(tempfile.mkdtemp(prefix="ats-bench-databases-"))
    folder.chmod(0o755)
    root = folder / "root"
    for part in ("home", "data/project"):
        (root / part).mkdir(parents=True)
    for path in (root, root / "home", root / "data", root / "data" / "project"):
        path.chmod(0o755)
    server = DevMariaDB(folder / "mariadb")
    state = server.start()
    service = None
    try:
        (folder / "ats.toml").write_text(config_text(root, state.socket, state.port))
        config = load_config(folder / "ats.toml")
        store = Store(folder / "ats.sqlite")
        accounts = [add_account(store, root, index) for index in range(n)]
        print("| run | accounts | differences | wall | wall per account | CPU per account |")
        print("|---|---:|---:|---:|---:|---:|")
        with reconciler(config) as work:
            steps, _ = work.drift()
            done, cost = measured(work.converge)
            row("first pass: every user and file made", n, len(done.fixed), cost)
            drift, cost = measured(work.drift)
            row("report, no drift", n, len(lines(drift[0])), cost)
            done, cost = measured(work.converge)
            row("a pass with nothing to do", n, len(done.fixed), cost)
            for index in range(0, n, 20):  # 5%: a file lost, a grant revoked, a lock lifted
                kind, uid, home = accounts[index]
                user = f"{'s' if kind == 'tool' else 'u'}{uid}"
                if index % 60 == 0:
                    (home / "replica.my.cnf").unlink()
                elif index % 60 == 20:
                    server.sql(f"REVOKE ALL PRIVILEGES ON `{user}\\_\\_%`.* FROM '{user}'@'%'")
                else:
                    server.sql(f"GRANT SELECT ON mysql.* TO '{user}'@'%'")
            drift, cost = measured(work.drift)
            row("report, 5% drifted", n, len(lines(drift[0])), cost)
            done, cost = measured(work.converge)
            row("--fix, 5% drifted", n, len(done.fixed), cost)
            assert not done.failed and work.drift() == ([], [])

        # The service over these accounts: a new account, then a suspension.
        log = (folder / "serve.log").open("w")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        service = subprocess.Popen(
            [sys.executable, "-m", "ats.cli", "--config", str(folder / "ats.toml"),
             "databases", "serve", "--interval", str(args.interval)],
            stdout=log, stderr=log, env=env,
        )  # fmt: skip
        time.sleep(1)
        to_file, to_lock = [], []
        for round_ in range(args.rounds):
            time.sleep(args.interval * (round_ + 1) / (args.rounds + 1))  # phases apart
            kind, uid, home = add_account(store, root, n + round_)
            to_file.append(wait(lambda: works(uid, home / "replica.my.cnf")))  # noqa: B023
            name = home.name
            store.set_account_suspended(name, "bench")
            cnf = home / "replica.my.cnf"
            to_lock.append(wait(lambda: not works(uid, cnf)))  # noqa: B023
        print()
        print(f"`ats databases serve --interval {args.interval:g}` over {n:,} accounts:")
        print()
        print("| from … to … | min | median | max |")
        print("|---|---:|---:|---:|")
        for label, values in (
            ("a new account to a working replica.my.cnf", to_file),
            ("a suspension to its user locked", to_lock),
        ):
            print(
                f"| {label} | {min(values):.2f} s | {statistics.median(values):.2f} s "
                f"| {max(values):.2f} s |"
            )
        store.close()
    finally:
        if service is not None:
            service.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.wait(30)
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
