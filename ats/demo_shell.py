"""The demo's last part: a shell on a login host for the approved sample member.

When run as root where mount namespaces can be made, `open_shell` starts a slapd
provider with syncprov (`devtools.devdirectory`, its data kept in the demo's folder),
points the configuration's `[provisioning]` at it, and carries the seeded Toolsmith to a
shell as a chapter would: Toolsmith files an account request and a tool request naming
themself as maintainer (real edits); signs in on the running bridge through the
stand-in OAuth provider, accepts the terms and adds a key the demo generated; the
demo's admin attests them and records the fee on the bridge, then approves both
requests on-wiki; a clerk cycle, the provisioning job (`ats provision run --once`) and
another cycle (the "done" replies) follow; `ats devhost start` runs the login host, with
its Slurm node and jobs service; Toolsmith starts the tool's continuous job over ssh
with `toolforge jobs run`. It prints the command that logs in as Toolsmith and
`become`s the tool, and how to look at the job. Each step is
skipped when an earlier run did it.

Without root or namespaces it prints one line saying why and the demo goes on. What it
started is returned as one child that stops like a process (`terminate`, `wait`), so
the demo stops it on Ctrl-C with its other children.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import requests

from ats.config import load_config
from devtools.bridgewalk import Visitor, WalkError
from devtools.devdirectory import BASE_DN, ROOT_DN, DevDirectory, DevDirectoryError
from devtools.devoauth import DevOAuth
from devtools.devwiki import DevWiki
from devtools.sample import ADMIN, REQUEST_PAGE
from membership.store import Store
from policies.fees import load_fees
from provisioning.loginhost import HostSettings, render

MEMBER, LOGIN = "Toolsmith", "toolsmith"
ACCOUNT = f"Account request: {MEMBER}"
ACCOUNT_BODY = """{{ATS request
 | type     = account
 | purpose  = Running my citation-cleanup scripts.
}}
~~~~"""
TOOL = "citation-bot"
# The tool's continuous job (no `$`: `become TOOL CMD` is `sudo -i`, which expands it).
JOB = "citations"
JOB_COMMAND = 'while true; do date -u "+%FT%TZ checking citations"; sleep 30; done'
# The tool's web page: its WSGI app, served by its web service behind the front door. It
# counts its visits in a database of its own (`USER__citations`), reached with the
# credentials the chapter put in its home (~/replica.my.cnf), as a Toolforge tool does.
WEB_APP = """import html
import os

import pymysql

CREDENTIALS = os.path.expanduser("~/replica.my.cnf")


def visits():
    connection = pymysql.connect(read_default_file=CREDENTIALS, autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")
            database = f"{cursor.fetchone()[0]}__citations"
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}`")
            cursor.execute(f"USE `{database}`")
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS visits (id INT PRIMARY KEY, seen BIGINT NOT NULL)"
            )
            cursor.execute(
                "INSERT INTO visits VALUES (1, 1) ON DUPLICATE KEY UPDATE seen = seen + 1"
            )
            cursor.execute("SELECT seen FROM visits WHERE id = 1")
            return database, cursor.fetchone()[0]
    finally:
        connection.close()


def app(environ, start_response):
    database, seen = visits()
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [
        b"<!doctype html><title>citation-bot</title><h1>citation-bot</h1>"
        b"<p>citation-bot runs on American Toolserver.</p>"
        + f"<p>Seen {seen} times, counted in its database {html.escape(database)}.</p>".encode()
    ]
"""
WEB_DOMAIN = "toolserver.test"
TOOL_REQUEST = f"Tool request: {TOOL}"
TOOL_BODY = f"""{{{{ATS request
 | type        = tool
 | purpose     = Runs my citation-cleanup scripts on a schedule.
 | tool        = {TOOL}
 | license     = MIT
 | source      = https://example.org/{TOOL}.git
 | maintainers = {MEMBER}
}}}}
~~~~"""
TOOL_HOMES = "/home/tools"  # inside the login host's private /home


class ShellError(RuntimeError):
    """The shell part cannot go on (one line)."""


class DemoShell:
    """The directory and the login host, stopped together like one child process."""

    def __init__(self, folder: Path, directory: DevDirectory) -> None:
        self.folder, self.directory = folder, directory
        self.config: Path | None = None

    def poll(self) -> int | None:
        return self.directory.process.poll()

    def terminate(self) -> None:
        if self.config is not None:
            _ats(self.config, "devhost", "stop", "--dir", str(self.folder / "host"), password="")
        self.directory.stop()

    def wait(self, timeout: float | None = None) -> int:
        return self.directory.process.wait(timeout)

    def kill(self) -> None:
        self.directory.process.kill()


def why_no_shell() -> str:
    """Why the shell part cannot run here ("" when it can)."""
    if os.geteuid() != 0:
        return "it needs root (the login host runs in a mount namespace)"
    unshare = shutil.which("unshare")
    if unshare is None:
        return "unshare is missing (util-linux)"
    made = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "--", "true"],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        return f"a mount namespace cannot be made here ({made.stderr.strip() or 'refused'})"
    return ""


def open_shell(
    wiki: DevWiki, config_path: Path, bridge_url: str, provider: DevOAuth, root: Path
) -> list[subprocess.Popen]:
    """The shell part (see the module's docstring): what to stop at the end, or nothing
    when it was skipped. The demo stops its children with poll, terminate, wait and
    kill, which is all a `DemoShell` has to answer; it is handed over as one."""
    reason = why_no_shell()
    if reason:
        print(f"shell:        skipped: {reason}", flush=True)
        return []
    folder = shell_folder(root)
    folder.chmod(0o711)  # slapd (as openldap) reaches the directory's folder through it
    shell: DemoShell | None = None
    try:
        directory = _start_directory(folder)
        shell = DemoShell(folder, directory)
        shell.config = _configure(config_path, directory)
        key = _key(root / "shell")
        _journey(wiki, shell.config, bridge_url, provider, key, directory.password)
        port = _start_host(shell.config, folder / "host", directory.password)
        _run_job(key, port)
        web = _serve_page(key, port, folder / "host")
    except (ShellError, DevDirectoryError, WalkError, OSError) as error:
        print(f"shell:        skipped: {error}", flush=True)
        if shell is not None:
            shell.terminate()
        return []
    except BaseException:  # Ctrl-C on the way: nothing of it is left running
        if shell is not None:
            with uninterruptible():
                shell.terminate()
        raise
    print(f"shell:        ssh -i {key} -p {port} {LOGIN}@127.0.0.1 -t become {TOOL}")
    print(f"              ({MEMBER}'s key; `become {TOOL}` acts as the tool they maintain)")
    print(
        f"jobs:         {TOOL} runs the continuous job `{JOB}` on Slurm; after `become "
        f"{TOOL}`: toolforge jobs list, toolforge jobs logs {JOB} -f"
    )
    url, fetch = web
    print(f"web:          {url} ({TOOL}'s web service behind the front door; fetch it with:)")
    print(f"              {fetch}")
    return [cast(subprocess.Popen, shell)]


@contextlib.contextmanager
def uninterruptible() -> Iterator[None]:
    """Ctrl-C and SIGTERM ignored while stopping: a second press half-way would leave
    the daemons not yet stopped running, with nothing left that knows of them."""
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum in previous:
        signal.signal(signum, signal.SIG_IGN)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def shell_folder(root: Path) -> Path:
    """Where the directory and the login host of the demo in `root` live: slapd runs as
    openldap, which may not pass through a private folder (a home, say), so they are
    kept in a folder made under /var/tmp by the first run (named in `root`'s
    shell/folder) and reused by the next."""
    named = root / "shell" / "folder"
    if named.exists():
        folder = Path(named.read_text().strip())
        if folder.is_dir() and not folder.is_symlink() and folder.stat().st_uid == os.geteuid():
            return folder
    named.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="ats-demo-", dir="/var/tmp"))  # noqa: S108
    named.write_text(f"{folder}\n")
    return folder


def _start_directory(folder: Path) -> DevDirectory:
    secret = folder / "directory-password"
    if not secret.exists():
        secret.write_text(secrets.token_urlsafe(16))
        secret.chmod(0o600)
    settings = HostSettings("ldap://127.0.0.1/", "ldap://127.0.0.1/", BASE_DN, ROOT_DN)
    files = {item.path: item.text for item in render(settings)}
    schemas = {name: files[f"ldap/{name}"] for name in ("openssh-lpk.schema", "sudo.schema")}
    return DevDirectory.start(
        folder / "directory",
        secret.read_text().strip(),
        schemas,
        database_extra=files["ldap/provider.conf"],
    )


def _configure(config_path: Path, directory: DevDirectory) -> Path:
    """Provisioning to the directory, appended to the demo's configuration."""
    with config_path.open("a", encoding="utf-8") as config:
        config.write(f"""
[provisioning]
backend = "ldap"
ldap_url = "{directory.url}"
base_dn = "{directory.base_dn}"
bind_dn = "{directory.root_dn}"
login_host = "127.0.0.1"
tool_home_root = "{TOOL_HOMES}"

[web]
domain = "{WEB_DOMAIN}"
""")
    return config_path


def _key(folder: Path) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = folder / f"{LOGIN}.key"
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{LOGIN}@demo", "-f", str(key)],
            check=True,
        )
    return key


def _journey(
    wiki: DevWiki, config_path: Path, bridge_url: str, provider: DevOAuth, key: Path, password: str
) -> None:
    """Carry Toolsmith's requests to `done` (each step only if still to do)."""
    for heading, body in ((ACCOUNT, ACCOUNT_BODY), (TOOL_REQUEST, TOOL_BODY)):
        if f"== {heading} ==" not in wiki.page_text(REQUEST_PAGE):
            text = wiki.page_text(REQUEST_PAGE).rstrip("\n") + f"\n\n== {heading} ==\n{body}\n"
            wiki.edit_as(MEMBER, REQUEST_PAGE, text, f"/* {heading} */ new section")
    _cycle(config_path)
    if _state(config_path, ACCOUNT) in ("awaiting-identity", "awaiting-requester"):
        provider.login_as(MEMBER, _user_id(wiki, MEMBER), editcount=580)
        member = Visitor(bridge_url)
        member.sign_in(MEMBER)
        member.accept_terms()
        member.add_key(key.with_suffix(".key.pub").read_text().strip())
        provider.login_as(ADMIN, _user_id(wiki, ADMIN), groups=("*", "user", "sysop"))
        admin = Visitor(bridge_url)
        admin.sign_in(ADMIN)
        admin.attest(MEMBER)
        fees = load_fees()
        amount = f"{fees.annual_fee // 100}.{fees.annual_fee % 100:02d}"
        admin.record_payment(MEMBER, amount, fees.currency, f"DEMO-{time.time_ns()}")
    for heading in (ACCOUNT, TOOL_REQUEST):
        if _state(config_path, heading) not in ("approved", "provisioning", "done"):
            _approve(wiki, heading)
    _cycle(config_path)
    _ats(config_path, "provision", "run", "--once", password=password)
    _cycle(config_path)
    if _state(config_path, TOOL_REQUEST) != "done":
        raise ShellError(f"{MEMBER}'s tool request is {_state(config_path, TOOL_REQUEST)}")


def _user_id(wiki: DevWiki, name: str) -> int:
    """The local wiki's id of `name` (the stand-in vouches for the same account)."""
    answer = requests.get(
        wiki.api_url,
        params={"action": "query", "list": "users", "ususers": name, "format": "json"},
        timeout=30,
    )
    answer.raise_for_status()
    [user] = answer.json()["query"]["users"]
    if "userid" not in user:
        raise ShellError(f"the local wiki has no user {name!r} (seed it again)")
    return int(user["userid"])


def _approve(wiki: DevWiki, heading: str) -> None:
    """The admin's `{{ATS approve}}` at the end of the section `heading`."""
    text = wiki.page_text(REQUEST_PAGE)
    start = text.index(f"== {heading} ==")
    end = text.find("\n== ", start + 1)
    end = len(text.rstrip("\n")) if end == -1 else end
    text = text[:end].rstrip("\n") + "\n:{{ATS approve}} ~~~~" + text[end:]
    wiki.edit_as(ADMIN, REQUEST_PAGE, text, f"/* {heading} */ approve")


def _cycle(config_path: Path) -> None:
    from ats import wiring

    wiring.clerk(load_config(config_path)).run_once()


def _state(config_path: Path, heading: str) -> str:
    store = Store(load_config(config_path).store_path)
    try:
        found = [r.state for r in store.requests(REQUEST_PAGE) if r.heading == heading]
    finally:
        store.close()
    return found[0] if found else "missing"


def _run_job(key: Path, port: int) -> None:
    """Toolsmith starts the tool's continuous job as a maintainer does: over ssh,
    `become`, `toolforge jobs run` (a job that is there already is left as it is)."""
    listed = _as_tool(key, port, "toolforge", "jobs", "list", "--output", "name")
    if JOB in listed.stdout.split():
        return
    started = _as_tool(
        key,
        port,
        "toolforge",
        "jobs",
        "run",
        JOB,
        "--continuous",
        "--image",
        "bookworm",
        "--command",
        f"'{JOB_COMMAND}'",
    )
    if started.returncode != 0:
        raise ShellError(f"the tool's job did not start: {started.stderr.strip()}")


def _serve_page(key: Path, port: int, host_folder: Path) -> tuple[str, str]:
    """Toolsmith gives the tool a page (`~/www/python/src/app.py`) and starts its web
    service with `toolforge webservice`; its address and the `curl` that fetches it."""
    from devtools.devhost import DevHost

    write = "'mkdir -p www/python/src && cat > www/python/src/app.py'"
    placed = _as_tool(key, port, "sh", "-c", write, given=WEB_APP)
    if placed.returncode != 0:
        raise ShellError(f"the tool's page could not be written: {placed.stderr.strip()}")
    # The page keeps its count in the tool's database: the chapter's databases service
    # writes the tool's credentials within seconds of the tool's making.
    until = "'until [ -r replica.my.cnf ]; do sleep 0.1; done'"
    waited = _as_tool(key, port, "timeout", "30", "sh", "-c", until)
    if waited.returncode != 0:
        raise ShellError("the tool's ~/replica.my.cnf did not appear")
    status = _as_tool(key, port, "toolforge", "webservice", "status")
    if "is not running" in status.stdout:
        started = _as_tool(key, port, "toolforge", "webservice", "python3.11", "start")
        if started.returncode != 0:
            raise ShellError(f"the tool's web service did not start: {started.stderr.strip()}")
    host = DevHost(host_folder)
    state = host.running()
    if state is None or not state.web_port:
        raise ShellError("the login host runs no front door")
    name = f"{TOOL}.{state.web_domain}"
    url = f"https://{name}:{state.web_port}/"
    ca = host.front_door().root_cert()
    return url, f"curl --cacert {ca} --resolve {name}:{state.web_port}:127.0.0.1 {url}"


def _as_tool(
    key: Path, port: int, *command: str, given: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`command` run by Toolsmith over ssh after `become` the tool (`given` on its input)."""
    login = ["ssh", "-i", str(key), "-p", str(port), "-o", "BatchMode=yes"]
    login += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    login += ["-o", "LogLevel=ERROR", f"{LOGIN}@127.0.0.1", "become", TOOL]
    return subprocess.run(
        [*login, *command], input=given, capture_output=True, text=True, timeout=60, check=False
    )


def _start_host(config_path: Path, folder: Path, password: str) -> int:
    started = _ats(
        config_path, "devhost", "start", "--dir", str(folder), "--user", LOGIN, password=password
    )
    if started.returncode != 0:
        raise ShellError(started.stderr.strip() or "the login host did not start")
    return int(started.stdout.strip().splitlines()[-1].split()[2])


def _ats(config_path: Path, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ats.cli", "--config", str(config_path), *args]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "ATS_LDAP_PASSWORD": password},
        timeout=300,
        check=False,
    )
    if done.returncode != 0 and args[:2] == ("provision", "run"):
        raise ShellError(f"provisioning failed: {done.stderr.strip()[-200:]}")
    return done
