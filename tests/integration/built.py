"""The servers a test run builds once and copies to each worker: the local wiki, the wiki
with the real OAuth extension and the CentralAuth farm (`built_once`).

A build takes a minute or two of PHP, and a worker that needs one waits for it. So the
run starts them early: as soon as the first worker has collected the tests, it starts
a process of its own per kind its tests will need (`start_builds`), and the workers run
tests that need none meanwhile (`tests/conftest.py` orders those first). A builder holds
its kind's lock, so a fixture asking for that kind waits for it; a kind already built is
left alone. Run by hand: `python -m tests.integration.built FOLDER KIND`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from devtools.devfarm import DevFarm, centralauth_dir
from devtools.devwiki import DevWiki
from devtools.devwiki.oauthext import oauth_dir


def _wiki(folder: Path, *, oauth: bool = False) -> None:
    wiki = DevWiki.create(folder / "wiki", oauth=oauth)
    try:
        wiki.start()
        wiki.seed()
    finally:
        wiki.stop()


def _farm(folder: Path) -> None:
    farm = DevFarm.create(folder / "farm")
    try:
        farm.start()
        farm.seed()
    finally:
        farm.stop()


# Each kind: how it is built into a folder, the folder inside it that holds the wiki or
# farm, and whether this machine can build it.
KINDS: dict[str, tuple[Callable[[Path], None], str, Callable[[], bool]]] = {
    "wiki": (_wiki, "wiki", lambda: True),
    "oauthwiki": (lambda f: _wiki(f, oauth=True), "wiki", lambda: oauth_dir() is not None),
    "farm": (_farm, "farm", lambda: centralauth_dir() is not None),
}
# The fixtures that need each kind (`tests/integration/conftest.py`).
NEEDED_BY = {
    "devwiki": "wiki",
    "demo_folder": "wiki",
    "realoauth_wiki": "oauthwiki",
    "farm": "farm",
}


@contextlib.contextmanager
def _locked(shared: Path, name: str) -> Iterator[None]:
    with (shared / f"built-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def built_once(shared: Path, name: str) -> Path:
    """The stopped wiki (or farm) of kind `name` under `shared`, to copy: built once per
    test run however many workers ask, the first building it under a lock while the others
    wait. A build cut short is made again from scratch by the next one that asks."""
    build, inside, _ = KINDS[name]
    folder = shared / f"built-{name}"
    with _locked(shared, name):
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder / inside


def shared_folder(basetemp: Path) -> Path:
    """Where a run keeps what it builds once: beside the xdist workers' own folders (their
    parent), or the run's own folder without xdist."""
    return basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp


def start_builds(shared: Path, fixtures: set[str]) -> None:
    """Start building the kinds the `fixtures` need, each in a process of its own."""
    kinds = sorted({NEEDED_BY[f] for f in fixtures if f in NEEDED_BY})
    for kind in kinds:
        if not KINDS[kind][2]():
            continue  # the fixture says why (a skip, or a failure in CI)
        with (shared / f"built-{kind}.log").open("a") as log:
            subprocess.Popen(  # noqa: S603 - this module, by its name
                [sys.executable, "-m", "tests.integration.built", str(shared), kind],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=Path(__file__).resolve().parents[2],
            )


def main(argv: list[str]) -> int:
    shared, kind = Path(argv[0]), argv[1]
    built_once(shared, kind)
    print(f"built {kind} in {shared}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
