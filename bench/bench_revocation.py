"""How long a revocation takes to reach what already runs on a login host.

One dev login host (`ats devhost`: a syncrepl replica of a slapd provider with the
shipped access rules, SSSD, sshd, sudo, `ats-host-mounts` and `ats-session-guard` in a
private mount namespace) for all rounds. Each round a new member joins the tool
`mytool`, logs in (an open `ssh` session holding the tool's group) and starts a process
as the tool from that login; then it times:

- removed → ended: from the directory's change (the tool's group without them, as the
  worker's `maintainers` job writes it) to the moment their session and their process
  as the tool have both ended;
- suspended → ended: another new member's open session and process as the tool, from
  the worker's suspend job to both ended.

Ended is polled every 0.2 s. Run as root from the project root:
``.venv/bin/python bench/bench_revocation.py [--rounds N]`` (about 15 s a round).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import Stopwatch, spread  # noqa: E402
from membership import accounts  # noqa: E402
from provisioning.worker import provision_person, provision_tool, run_once  # noqa: E402
from tests.integration.loginhost_site import (  # noqa: E402
    Session,
    Site,
    close_site,
    ended_within,
    open_site,
    processes,
    start_as_tool,
)


def _member(site: Site, name: str) -> str:
    """A new member `name`, maintainer of mytool with Alice; their wiki username."""
    site.ssh.key(name)
    wiki_user = name.capitalize()
    provision_person(site.store, site.ldap, wiki_user, [site.ssh.public(name)])
    provision_tool(site.store, site.ldap, "mytool", ["Alice", wiki_user], by="bench")
    return wiki_user


def _holding(site: Site, name: str, marker: str) -> Session:
    session = Session(site, name, "id -nG; exec sleep 600")
    assert "tools.mytool" in session.first.split(), session.first
    start_as_tool(site, name, marker)
    return session


def one_round(site: Site, number: int, watch: Stopwatch) -> None:
    tool = site.tool_uid()
    removed = f"r{number}"
    _member(site, removed)
    session = _holding(site, removed, f"7{number:03d}")
    try:
        with watch.step("removed co-maintainer → session and tool process ended"):
            provision_tool(site.store, site.ldap, "mytool", ["Alice"], by="bench")
            ended_within(
                lambda: not session.alive() and not processes(tool, f"sleep 7{number:03d}")
            )
    finally:
        session.end()
    suspended = f"s{number}"
    wiki_user = _member(site, suspended)
    session = _holding(site, suspended, f"8{number:03d}")
    try:
        with watch.step("suspended member → session and tool process ended"):
            accounts.enqueue_suspend(site.store, wiki_user, "bench")
            outcome = run_once(site.store, site.ldap)
            assert outcome is not None and outcome.ok, outcome
            ended_within(
                lambda: not session.alive() and not processes(tool, f"sleep 8{number:03d}")
            )
    finally:
        session.end()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_revocation: run as root (the login host is a mount namespace)")
        return 2
    site = open_site()
    rounds = []
    try:
        for number in range(args.rounds):
            watch = Stopwatch()
            one_round(site, number, watch)
            rounds.append(watch.times)
            print(f"round {number + 1}: " + ", ".join(f"{v:.1f} s" for v in watch.times.values()))
    finally:
        close_site(site)
    spread(rounds, decimals=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
