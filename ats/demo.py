"""`ats demo`: the whole job on a throwaway local wiki.

Starts (creating it if needed) a local MediaWiki with seeded users (`devtools.devwiki`),
writes a configuration for it, installs the on-wiki templates, files sample requests as
real edits by their requesters (`devtools.sample`), runs one clerk cycle and prints what
happened. Then it starts the bridge (`ats bridge serve`, a child process) with a stand-in
OAuth provider (`devtools.devoauth`, since Debian's MediaWiki has no OAuth extension) so a
requester can log in and see their checklist, and, while it waits, `ats bot watch` so what
happens on the page is answered. Everything stops on Ctrl-C. Running it again reuses the
same wiki and store: the second cycle finds nothing new to say.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from ats.config import load_config
from ats.demo_shell import open_shell, uninterruptible
from devtools.devoauth import DevOAuth
from devtools.devwiki import DevWiki
from devtools.ports import free_port
from devtools.sample import (
    ADMINS,
    PEOPLE,
    REQUEST_PAGE,
    SAMPLES,
    bridge_section,
    seed_requests,
    write_config,
)
from membership.store import Store


def start_bridge(config_path: Path, port: int, oauth_secret: str, log: Path) -> subprocess.Popen:
    """`ats bridge serve` as a child process, returned once it answers."""
    env = {
        **os.environ,
        "ATS_SESSION_KEY": secrets.token_urlsafe(32),
        "ATS_OAUTH_SECRET": oauth_secret,
        # The stand-in provider speaks plain http; only this bridge may accept that.
        "OAUTHLIB_INSECURE_TRANSPORT": "1",
    }
    command = [sys.executable, "-m", "ats.cli", "--config", str(config_path), "bridge", "serve"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text("utf-8", "replace").splitlines()[-10:]
            raise RuntimeError("the bridge did not start:\n" + "\n".join(tail))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2):
                return process
        except OSError:
            time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(f"the bridge did not answer within 30 s (log: {log})")


def start_watch(config_path: Path, log: Path) -> subprocess.Popen:
    """`ats bot watch` as a child process (its output goes to `log`)."""
    command = [sys.executable, "-m", "ats.cli", "--config", str(config_path), "bot", "watch"]
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(root: Path, *, port: int | None = None, wait: bool = True, shell: bool = True) -> int:
    wiki = DevWiki.create(root / "wiki", port)
    print(f"starting the local wiki in {wiki.root} ...", flush=True)
    wiki.start()
    bridge_port = free_port()
    bridge_url = f"http://127.0.0.1:{bridge_port}"
    # The stand-in asks who you are at every login: anyone can be anyone, any time.
    provider = DevOAuth(
        callback_url=bridge_url + "/oauth/callback", ask_every_time=True, people=PEOPLE
    ).start()
    children: list[subprocess.Popen] = []
    try:
        wiki.seed()
        config_path = write_config(
            wiki, root, extra=bridge_section(bridge_url, provider), admins=ADMINS
        )
        _clerk_and_report(wiki, config_path)
        children.append(
            start_bridge(config_path, bridge_port, provider.consumer_secret, root / "bridge.log")
        )
        print(f"bridge:       {bridge_url}/")
        print(f"status page:  {bridge_url}/status")
        print(
            f"log in:       open {bridge_url}/login; the stand-in wiki asks who you are "
            "every time (log out, then log in as someone else):"
        )
        for name, who in PEOPLE:
            print(f"                {name:16} {who}")
        if not wait:
            return 0
        if shell:
            children.extend(open_shell(wiki, config_path, bridge_url, provider, root))
        else:
            print("shell:        skipped: --no-shell", flush=True)
        children.append(start_watch(config_path, root / "bot-watch.log"))
        print(f"bot:          ats bot watch answers on the page (log: {root / 'bot-watch.log'})")
        print("\nThe wiki, the bridge and the bot stay up until you press Ctrl-C.", flush=True)
        signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops it as Ctrl-C does
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopping the bot, the bridge and the wiki ...", flush=True)
    finally:
        with uninterruptible():
            for child in reversed(children):
                stop_process(child)
            provider.stop()
            wiki.stop()
    return 0


def _clerk_and_report(wiki: DevWiki, config_path: Path) -> None:
    """Install the templates, file the samples, run one cycle and print what happened."""
    from ats import wiring

    config = load_config(config_path)
    os.environ["ATS_BOT_PASSWORD"] = wiki.bot_password
    installed = wiring.install_templates(config)
    print(f"templates installed: {len(installed)} pages")
    if seed_requests(wiki):
        print(f"filed {len(SAMPLES)} sample requests as their requesters")
    report = wiring.clerk(config).run_once()
    page_url = f"{wiki.server}/index.php?title={quote(REQUEST_PAGE)}"
    print()
    print(f"request page: {page_url}")
    print(f"bot cycle:    {report.summary()}")
    with contextlib.closing(Store(config.store_path)) as store:
        for record in store.requests(REQUEST_PAGE):
            behalf = f" (for {record.subject})" if record.on_behalf else ""
            print(f"  {record.state:18} {record.heading} — filed by {record.requester}{behalf}")
    print(f"store:        {config.store_path}")
    print(
        f"config:       {config.path} (bot password: export ATS_BOT_PASSWORD from "
        f"{wiki.state_path})"
    )
