"""What judging new requesters costs on Meta-Wiki, on a farm with the real CentralAuth.

A farm of two wikis (`devtools.devfarm`: metawiki, where requests are filed, and enwiki)
gets 50 global accounts: 25 who edit on metawiki and 25 who edit on enwiki (600 edits
each, 20 of them in the last 54 days; 40 of the 600 are imported as revisions, the
rest only counted). For 1, 10 and 50 new requesters, spread over the two wikis, one
edit files their requests on a fresh request page and `ats bot run --once` judges
them, as a user runs it. The API requests each wiki served are counted from
MediaWiki's own API log (which holds the parameters of POSTs too; the total is checked
against the `php -S` request log), by kind: `meta=globaluserinfo` (target: one per
new requester), `list=usercontribs` (target: about one per wiki per 50 requesters) and
everything else (reading the page and its history, logging in, saving the replies).

Run from the project root: ``.venv/bin/python bench/bench_central.py [--keep DIR]``
(about 30 s; it builds, starts and stops its own farm). Needs the
CentralAuth extension (``../shared/mediawiki-centralauth`` or ``$ATS_CENTRALAUTH_DIR``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.devfarm import HOME, META, DevFarm, GlobalUserSpec, centralauth_dir  # noqa: E402
from devtools.sample import write_config  # noqa: E402

SIZES = (1, 10, 50)


def requesters() -> list[str]:
    """50 names, alternating between the two wikis so any first N are spread over both."""
    return [f"Bench {'Meta' if i % 2 else 'Home'} {i}" for i in range(50)]


def specs() -> list[GlobalUserSpec]:
    return [
        GlobalUserSpec(
            name, 3 * 365, {META if "Meta" in name else HOME: (600, 20)}, old_revisions=20
        )
        for name in requesters()
    ]


def request_page(names: list[str]) -> str:
    sections = [
        f"== Account request: {name} ==\n{{{{ATS request\n | type = account\n"
        f" | username = {name}\n | purpose = Benchmark.\n}}}}\n~~~~\n"
        for name in names
    ]
    return "Requests for accounts.\n\n" + "\n".join(sections)


def count(farm: DevFarm, offsets: dict[str, tuple[int, int]]) -> dict[str, dict[str, int]]:
    """API requests per wiki since `offsets`, by kind (from MediaWiki's own API log, which
    holds POSTs' parameters too), checked against the web server's count."""
    result = {}
    for name, wiki in farm.wikis.items():
        server_offset, api_offset = offsets[name]
        calls = wiki.api_calls_since(api_offset)
        guis = sum(" meta=globaluserinfo" in call for call in calls)
        contribs = sum(" list=usercontribs" in call for call in calls)
        served = wiki.api_requests_since(server_offset)
        if served != len(calls):
            raise SystemExit(
                f"{name}: the server served {served} API requests, the API logged {len(calls)}"
            )
        result[name] = {
            "all": len(calls),
            "globaluserinfo": guis,
            "usercontribs": contribs,
            "other": len(calls) - guis - contribs,
        }
    return result


def cycle(farm: DevFarm, config: Path) -> dict[str, dict[str, int]]:
    env = {**os.environ, "ATS_BOT_PASSWORD": farm.meta.bot_password}
    offsets = {n: (w.log_size(), w.api_log_size()) for n, w in farm.wikis.items()}
    done = subprocess.run(
        [sys.executable, "-m", "ats.cli", "--config", str(config), "bot", "run", "--once"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"cycle failed:\n{done.stdout}\n{done.stderr}")
    return count(farm, offsets)


def run(root: Path) -> None:
    if centralauth_dir() is None:
        raise SystemExit("the CentralAuth extension is not there (see ATS_CENTRALAUTH_DIR)")
    farm = DevFarm.load(root / "farm") if (root / "farm").exists() else None
    farm = farm or DevFarm.create(root / "farm")
    farm.start()
    try:
        farm.seed()
        farm.add_global_users(specs())
        names = requesters()
        print("new requesters | wiki     | globaluserinfo | usercontribs | other | all")
        for size in SIZES:
            title = f"Toolserver/Requests/Central bench {size}"
            farm.meta.edit_as(farm.meta.admin_user, title, request_page(names[:size]), "bench")
            config = write_config(farm.meta, root / f"bot-{size}", request_page=title)
            figures = cycle(farm, config)
            for wiki, kinds in figures.items():
                print(
                    f"{size:>14} | {wiki:<8} | {kinds['globaluserinfo']:>14} | "
                    f"{kinds['usercontribs']:>12} | {kinds['other']:>5} | {kinds['all']:>3}"
                )
            again = cycle(farm, config)
            print(
                f"{'(unchanged)':>14} | both     | "
                f"{sum(k['globaluserinfo'] for k in again.values()):>14} | "
                f"{sum(k['usercontribs'] for k in again.values()):>12} | "
                f"{sum(k['other'] for k in again.values()):>5} | "
                f"{sum(k['all'] for k in again.values()):>3}"
            )
    finally:
        farm.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the farm here and keep it")
    args = parser.parse_args()
    if args.keep:
        run(args.keep)
        return
    with tempfile.TemporaryDirectory(prefix="ats-bench-central-") as folder:
        run(Path(folder))


if __name__ == "__main__":
    main()
