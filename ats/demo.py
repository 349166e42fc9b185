"""`ats demo`: the whole job on a throwaway local wiki.

Starts (creating it if needed) a local MediaWiki with seeded users, writes a
configuration for it, installs the on-wiki templates, files sample requests as real
edits by their requesters, runs one clerk cycle and prints what happened. Then it
starts the bridge (`ats bridge serve`, a child process) with a stand-in OAuth provider
(`ats.devoauth`, since Debian's MediaWiki has no OAuth extension) so a requester can
log in and see their checklist, and, while it waits, `ats bot watch` so what happens
on the page is answered. Everything stops on Ctrl-C. Running it again reuses the same
wiki and store: the second cycle finds nothing new to say.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from ats.config import load_config
from ats.devoauth import DevOAuth
from ats.devwiki import DevWiki
from membership.store import Store

REQUEST_PAGE = "Toolserver/Requests"
RUN_PAGE = "Toolserver/Run"
ADMIN = "ChapterAdmin"

PAGE_HEADER = """This page is where established Wikimedians ask for an account on the \
chapter's shared server. File one request per section; the clerk bot answers within \
seconds.

{{ATS file request}}
"""

SAMPLES: list[tuple[str, str, str]] = [
    (
        "Veteran",
        "Account request: Veteran",
        """{{ATS request
 | type     = account
 | purpose  = Running my citation-cleanup scripts and a small report generator.
}}
I have been editing since 2020. ~~~~""",
    ),
    (
        "Newcomer",
        "Account request: Newcomer",
        """{{ATS request
 | type     = account
 | purpose  = I want to learn how bots work.
}}
~~~~""",
    ),
    (
        "Blocked Veteran",
        "Account request: Blocked Veteran",
        """{{ATS request
 | type     = account
 | purpose  = Hosting my maintenance bot.
}}
~~~~""",
    ),
    (
        "משתמש ותיק",
        "Tool request: hebrew-links",
        """{{ATS request
 | type        = tool
 | purpose     = Finds broken interlanguage links on Hebrew Wikipedia.
 | tool        = hebrew-links
 | license     = GPL-3.0-or-later
 | source      = https://example.org/hebrew-links.git
 | maintainers = משתמש ותיק
}}""",
    ),
    (
        "Ярослава",
        "Tool request: словник",
        """{{ATS request
 | type        = tool
 | purpose     = A dictionary lookup tool.
 | tool        = Slovnyk Tool
 | license     = CC-BY-NC-4.0
}}
~~~~""",
    ),
]


def write_config(
    wiki: DevWiki,
    root: Path,
    *,
    admins: tuple[str, ...] = (ADMIN,),
    request_page: str = REQUEST_PAGE,
    wiki_settings: str = "",
    extra: str = "",
) -> Path:
    """A configuration file for `wiki`, with its store in `root`.

    `wiki_settings` are more `[wiki]` lines; `extra` is appended after `[policy]`.
    """
    root.mkdir(parents=True, exist_ok=True)
    path = root / "ats.toml"
    admin_list = ", ".join(f'"{a}"' for a in admins)
    path.write_text(
        f"""# Generated for the local development wiki at {wiki.server}.
[wiki]
api = "{wiki.api_url}"
request_page = "{request_page}"
run_page = "{RUN_PAGE}"
{wiki_settings}
[bot]
username = "{wiki.bot_login_name}"
edit_interval = 0

[store]
path = "ats.sqlite"

[policy]
admins = [{admin_list}]
{extra}""",
        encoding="utf-8",
    )
    return path


def seed_requests(wiki: DevWiki) -> bool:
    """File the sample requests (each one a real edit by its requester), once."""
    marker = wiki.root / "demo-requests-filed"
    if marker.exists():
        return False
    wiki.edit_as(wiki.admin_user, REQUEST_PAGE, PAGE_HEADER, "Request page for the server")
    for user, heading, body in SAMPLES:
        text = wiki.page_text(REQUEST_PAGE).rstrip("\n") + f"\n\n== {heading} ==\n{body}\n"
        wiki.edit_as(user, REQUEST_PAGE, text, f"/* {heading} */ new section")
    marker.write_text("yes\n")
    return True


def bridge_section(bridge_url: str, provider: DevOAuth) -> str:
    """The `[bridge]` table for a bridge at `bridge_url` whose OAuth wiki is `provider`."""
    return f"""
[bridge]
url = "{bridge_url}"
oauth_version = 2
consumer_key = "{provider.consumer_key}"
oauth_index_url = "{provider.url}/index.php"
oauth_rest_url = "{provider.url}/rest.php"
"""


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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(root: Path, *, port: int | None = None, wait: bool = True) -> int:
    wiki = DevWiki.create(root / "wiki", port)
    print(f"starting the local wiki in {wiki.root} ...", flush=True)
    wiki.start()
    bridge_port = _free_port()
    bridge_url = f"http://127.0.0.1:{bridge_port}"
    provider = DevOAuth(callback_url=bridge_url + "/oauth/callback").start()
    children: list[subprocess.Popen] = []
    try:
        wiki.seed()
        config_path = write_config(wiki, root, extra=bridge_section(bridge_url, provider))
        _clerk_and_report(wiki, config_path)
        children.append(
            start_bridge(config_path, bridge_port, provider.consumer_secret, root / "bridge.log")
        )
        print(f"bridge:       {bridge_url}/")
        print(f"status page:  {bridge_url}/status")
        print(
            f"log in:       open {bridge_url}/login and type a requester's name on the "
            f"stand-in wiki's consent form (Veteran sees their checklist; {ADMIN} also "
            "gets the admin desk)"
        )
        if not wait:
            return 0
        children.append(start_watch(config_path, root / "bot-watch.log"))
        print(f"bot:          ats bot watch answers on the page (log: {root / 'bot-watch.log'})")
        print("\nThe wiki, the bridge and the bot stay up until you press Ctrl-C.", flush=True)
        signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops it as Ctrl-C does
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("\nstopping the bot, the bridge and the wiki ...")
    finally:
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
    store = Store(config.store_path)
    for record in store.requests(REQUEST_PAGE):
        behalf = f" (for {record.subject})" if record.on_behalf else ""
        print(f"  {record.state:18} {record.heading} — filed by {record.requester}{behalf}")
    store.close()
    print(f"store:        {config.store_path}")
    print(
        f"config:       {config.path} (bot password: export ATS_BOT_PASSWORD from "
        f"{wiki.state_path})"
    )
