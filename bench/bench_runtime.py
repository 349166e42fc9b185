"""How fast tools' jobs start, come back and are listed, on the dev login host's real
Slurm node, driven as a maintainer drives them.

One dev login host (`ats devhost`: SSSD, sshd, sudo, a Slurm node with MUNGE and the
jobs service `ats runtime serve` in a private mount namespace) for all rounds. The
tool's client (`toolforge jobs`, as the tool, inside the namespace: no ssh in the
figures) asks the service. Each round times:

- run → running: from `toolforge jobs run` (a continuous job) to its process running;
- kill -9 → running again: SIGKILL to that process, to a new one running;
- list, 100 jobs (after the other rounds): `toolforge jobs list` for a tool with 100
  jobs (put in the store, scheduled far away, so Slurm runs none of them).

And once, a scheduled job (`* * * * *`): how many seconds after its minute it started
(`--schedule-rounds N` minutes, 1 by default; each waits for the next minute).

Run as root from the project root:
``.venv/bin/python bench/bench_runtime.py [--rounds N] [--schedule-rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import Stopwatch, spread  # noqa: E402
from runtime.jobspec import JobSpec  # noqa: E402
from tests.integration.loginhost_site import Site, close_site, open_site, processes  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

TOOL = "mytool"


def toolforge(site: Site, *words: str) -> subprocess.CompletedProcess[str]:
    """`toolforge jobs WORDS` as the tool, inside the login host."""
    command = [*site.nsenter, "runuser", "-u", f"tools.{TOOL}", "--"]
    command += ["env", f"HOME=/home/tools/{TOOL}", "toolforge", "jobs", *words]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def one_round(site: Site, number: int, watch: Stopwatch) -> None:
    uid = site.tool_uid()
    marker = f"sleep {9000 + number}"
    with watch.step("run → running"):
        toolforge(site, "run", f"r{number}", "--continuous", "--command", f"exec {marker}")
        first = wait_until(lambda: processes(uid, marker), 30, interval=0.05)
    with watch.step("kill -9 → running again"):
        os.kill(first[0], signal.SIGKILL)
        wait_until(
            lambda: [pid for pid in processes(uid, marker) if pid not in first], 30, interval=0.05
        )
    toolforge(site, "delete", f"r{number}")


def listing(site: Site, rounds: int) -> list[dict[str, float]]:
    """`list` for a tool with 100 jobs (put in the store directly: the quota would not
    allow so many), `rounds` times."""
    for number in range(100):
        spec = JobSpec(f"idle{number:03d}", "true", "bookworm", schedule="0 0 1 1 *")
        site.store.put_tool_job(TOOL, spec.name, spec.to_text())
    times = []
    for _ in range(rounds):
        watch = Stopwatch()
        with watch.step("list, 100 jobs"):
            listed = toolforge(site, "list")
        assert listed.stdout.count(" schedule: ") == 100, listed.stdout
        times.append(watch.times)
    return times


def scheduled_lateness(site: Site) -> float:
    """Seconds after its minute a `* * * * *` job started (one minute waited)."""
    ticks = site.host / "home" / "tools" / TOOL / "ticks.txt"
    ticks.unlink(missing_ok=True)
    toolforge(
        site, "run", "tick", "--command", "date +%s.%N >> ticks.txt", "--schedule", "* * * * *"
    )
    wait_until(lambda: ticks.exists() and ticks.read_text().strip(), 75, interval=0.1)
    toolforge(site, "delete", "tick")
    started = float(ticks.read_text().split()[0])
    return started - int(started) // 60 * 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--schedule-rounds", type=int, default=1)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_runtime: run as root (the login host is a mount namespace)")
        return 2
    site = open_site()
    rounds = []
    try:
        for number in range(args.rounds):
            watch = Stopwatch()
            one_round(site, number, watch)
            rounds.append(watch.times)
            print(f"round {number + 1}: " + ", ".join(f"{v:.2f} s" for v in watch.times.values()))
        late = [scheduled_lateness(site) for _ in range(args.schedule_rounds)]
        print(f"scheduled job started {', '.join(f'{s:.1f}' for s in late)} s after its minute")
        lists = listing(site, args.rounds)
    finally:
        close_site(site)
    spread(rounds, decimals=2)
    spread(lists, decimals=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
