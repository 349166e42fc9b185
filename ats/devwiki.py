"""A throwaway local MediaWiki owned by the project, for tests, demos and development.

``DevWiki`` installs Debian's MediaWiki 1.39 (``/usr/share/mediawiki``, never copied) into a
private directory with SQLite storage, serves it with PHP's built-in web server on 127.0.0.1,
and seeds it with requester accounts whose edit histories are real revisions dated in the past
(imported from a generated XML export), a chapter admin, a blocked user and the bot's account
with a BotPassword.  Everything the wiki owns lives under ``root``: ``conf/LocalSettings.php``,
``data/`` (the SQLite files), ``cache/``, ``server.log`` (the server's request log) and
``devwiki.json`` (port, generated passwords, server pid, seed state; mode 0600).  Maintenance
scripts and the web server find the configuration through an absolute ``MW_CONFIG_FILE``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import string
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import requests

__all__ = ["DevWiki", "DevWikiError", "SeedUser", "MEDIAWIKI_DIR"]

MEDIAWIKI_DIR = Path("/usr/share/mediawiki")
DB_NAME = "devwiki"
SITE_NAME = "DevWiki"
STATE_FILE = "devwiki.json"
KILL_SWITCH_PAGE = "Toolserver/Run"
BOT_GRANTS = "basic,highvolume,editpage,createeditmovepage"
# BotPassword secrets must be >= 32 characters drawn from [0-9a-w] (see LOCALWIKI.md).
BOT_PASSWORD_ALPHABET = string.digits + "abcdefghijklmnopqrstuvw"
_PASSWORD_ALPHABET = string.ascii_letters + string.digits
_SERVER_WORKERS = "4"
_API_REQUEST_RE = re.compile(rb"\] \S+:\d+ \[\d{3}\]: [A-Z]+ /api\.php(?:[?/\s]|$)", re.MULTILINE)
_EXPORT_NS = "http://www.mediawiki.org/xml/export-0.11/"
_PAGES_PER_USER = 8


class DevWikiError(RuntimeError):
    """The local wiki could not be installed, started, stopped or driven."""


@dataclass(frozen=True)
class SeedUser:
    """A seeded account as intended by ``DevWiki.seed()``."""

    name: str
    password: str
    editcount: int
    registered: datetime
    blocked: bool


@dataclass(frozen=True)
class _Persona:
    name: str
    age_days: int
    edits: int
    recent_edits: int  # edits within the last 55 days
    quiet_days: int = 0  # no edit in this many days before now (for dormant users)
    sysop: bool = False
    blocked: bool = False
    recent_days: int = 55  # the recent edits are spread over this many days before now


_YEAR = 365
PERSONAS: tuple[_Persona, ...] = (
    _Persona("ChapterAdmin", 5 * _YEAR, 600, 30, sysop=True),
    _Persona("Veteran", 6 * _YEAR, 650, 40),
    _Persona("Newcomer", 20, 12, 12),
    _Persona("Blocked Veteran", 7 * _YEAR, 700, 40, blocked=True),
    _Persona("Dormant", 9 * _YEAR, 900, 0, quiet_days=2 * _YEAR + 30),
    _Persona("Ярослава", 5 * _YEAR, 560, 30),
    _Persona("משתמש ותיק", 5 * _YEAR, 560, 30),
)
BLOCK_REASON = "Persistent vandalism"
BLOCK_EXPIRY = "1 month"
BLOCK_PERFORMER = "Admin"


def _random_password(length: int = 24, alphabet: str = _PASSWORD_ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _base36_sha1(text: str) -> str:
    """MediaWiki's rev_sha1: SHA-1 of the text in base 36, zero-padded to 31 characters."""
    value = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)  # noqa: S324 - not security
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while value:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
    return out.rjust(31, "0")


def _mw_timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spread(start: datetime, end: datetime, count: int) -> list[datetime]:
    """``count`` instants evenly spread over [start, end], whole seconds."""
    if count <= 0:
        return []
    if count == 1:
        return [end.replace(microsecond=0)]
    step = (end - start) / (count - 1)
    return [(start + step * i).replace(microsecond=0) for i in range(count)]


def _edit_times(persona: _Persona, now: datetime) -> list[datetime]:
    registered = now - timedelta(days=persona.age_days)
    first = registered + timedelta(hours=1)
    recent_start = max(first, now - timedelta(days=persona.recent_days))
    recent = _spread(recent_start, now - timedelta(hours=1), persona.recent_edits)
    old_count = persona.edits - persona.recent_edits
    old_end = now - timedelta(days=max(61, persona.quiet_days))
    old = _spread(first, old_end, old_count)
    return old + recent


def _process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state follows the parenthesised command name; a zombie is as good as dead.
    return stat.rsplit(")", 1)[-1].split()[0] not in {"Z", "X"}


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _pgid_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        # fields: state ppid pgrp ...
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
            members.append(int(entry.name))
    return members


@dataclass
class DevWiki:
    """A local MediaWiki under ``root``, served on ``127.0.0.1:port``."""

    root: Path
    port: int
    admin_user: str = "Admin"
    admin_password: str = field(default_factory=lambda: _random_password(24), repr=False)
    bot_user: str = "ClerkBot"
    bot_appid: str = "clerk"
    bot_password: str = field(
        default_factory=lambda: _random_password(32, BOT_PASSWORD_ALPHABET), repr=False
    )
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    # Hooks for a wiki that is one of several (ats.devfarm): its database name, site name,
    # SQLite folder and extra LocalSettings lines.
    @property
    def db_name(self) -> str:
        return DB_NAME

    @property
    def site_name(self) -> str:
        return SITE_NAME

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def _extra_settings(self) -> str:
        """More LocalSettings.php lines, appended after the project's own."""
        return ""

    # ------------------------------------------------------------------ addresses
    @property
    def server(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.server}/api.php"

    @property
    def index_url(self) -> str:
        return f"{self.server}/index.php"

    @property
    def rest_url(self) -> str:
        return f"{self.server}/rest.php"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    @property
    def api_log_path(self) -> Path:
        """MediaWiki's own log of API requests: one line each, with its parameters."""
        return self.root / "api.log"

    @property
    def config_path(self) -> Path:
        return self.root / "conf" / "LocalSettings.php"

    @property
    def state_path(self) -> Path:
        return self.root / STATE_FILE

    @property
    def db_path(self) -> Path:
        return self.data_dir / f"{self.db_name}.sqlite"

    @property
    def bot_login_name(self) -> str:
        """The BotPassword login name, ``ClerkBot@clerk``."""
        return f"{self.bot_user}@{self.bot_appid}"

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, root: Path, port: int | None = None) -> DevWiki:
        """Install a wiki into ``root`` (or load the one already there)."""
        root = Path(root).resolve()
        if (root / STATE_FILE).exists():
            return cls.load(root)
        _check_prerequisites()
        wiki = cls(root=root, port=port if port is not None else _free_port())
        wiki._install()
        return wiki

    @classmethod
    def load(cls, root: Path) -> DevWiki:
        """The wiki previously created in ``root``."""
        root = Path(root).resolve()
        state_path = root / STATE_FILE
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DevWikiError(
                f"no dev wiki in {root} (missing {STATE_FILE}); create one with DevWiki.create()"
            ) from None
        except (OSError, ValueError) as exc:
            raise DevWikiError(f"unreadable {state_path}: {exc}") from exc
        try:
            return cls(
                root=root,
                port=int(state["port"]),
                admin_user=state["admin_user"],
                admin_password=state["admin_password"],
                bot_user=state["bot_user"],
                bot_appid=state["bot_appid"],
                bot_password=state["bot_password"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DevWikiError(f"{state_path} lacks {exc}: not a dev wiki state file") from exc

    def start(self, timeout: float = 30) -> None:
        """Serve the wiki with ``php -S``; return once api.php answers."""
        if not self.running():
            self._adopt_orphan()
        if self.running():
            self._wait_ready(timeout)
            return
        if not self.config_path.exists():
            raise DevWikiError(f"no LocalSettings.php at {self.config_path}")
        if _port_in_use(self.port):
            raise DevWikiError(
                f"port {self.port} on 127.0.0.1 is already in use by another process; "
                f"stop it or recreate the dev wiki in {self.root} with another port"
            )
        php = _php()
        env = self._env()
        env["PHP_CLI_SERVER_WORKERS"] = _SERVER_WORKERS
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            proc = subprocess.Popen(
                [php, "-S", f"127.0.0.1:{self.port}", "-t", str(MEDIAWIKI_DIR)],
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # setsid: stop() kills the workers with the group
            )
        self._proc = proc
        self._update_state(pid=proc.pid)
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill the server's process group; no php process of this wiki survives."""
        pid = self._state().get("pid")
        pids: set[int] = set(self._orphan_servers())
        if isinstance(pid, int) and self._is_our_server(pid):
            pids.add(pid)
        own_group = os.getpgrp()
        groups = {g for g in map(_pgid_of, pids) if g is not None and g != own_group}
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            for pgid in groups:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, sig)
            for p in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(p, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                self._reap()
                if not self._survivors(groups, pids):
                    break
                time.sleep(0.05)
            if not self._survivors(groups, pids):
                break
        self._reap()
        leftover = self._survivors(groups, pids)
        if leftover:
            raise DevWikiError(f"php server processes {sorted(leftover)} survived SIGKILL")
        self._proc = None
        if pid is not None:
            self._update_state(pid=None)

    def running(self) -> bool:
        """Whether this wiki's php server process is alive."""
        pid = self._state().get("pid")
        return isinstance(pid, int) and self._is_our_server(pid)

    # ------------------------------------------------------------------ driving the wiki
    def run_maintenance(self, script: str, *args: str, stdin: str | None = None) -> str:
        """Run ``maintenance/<script>`` (or the script at an absolute path, e.g. an
        extension's) against this wiki; return its stdout."""
        path = (
            Path(script) if Path(script).is_absolute() else MEDIAWIKI_DIR / "maintenance" / script
        )
        if not path.exists():
            raise DevWikiError(f"no maintenance script {path}")
        try:
            done = subprocess.run(
                [_php(), str(path), *args],
                cwd=self.root,
                env=self._env(),
                input=stdin if stdin is not None else "",
                capture_output=True,
                text=True,
                encoding="utf-8",
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise DevWikiError(f"{script} timed out after {exc.timeout} s") from exc
        if done.returncode != 0:
            raise DevWikiError(
                f"{script} {' '.join(args)} failed with exit code {done.returncode}:\n"
                f"{done.stderr.strip()}\n{done.stdout.strip()}".rstrip()
            )
        return done.stdout

    def edit_as(self, user: str, title: str, text: str, summary: str = "") -> None:
        """Save ``text`` to ``title`` as a real revision by ``user`` (no-op if unchanged)."""
        self.run_maintenance("edit.php", "-u", user, "-s", summary, title, stdin=text)

    def api_as(self, user: str) -> requests.Session:
        """An HTTP session logged in to the API as the seeded ``user`` (clientlogin)."""
        session = requests.Session()
        password = self.seed()[user].password
        token = session.get(
            self.api_url,
            params={"action": "query", "meta": "tokens", "type": "login", "format": "json"},
            timeout=30,
        ).json()["query"]["tokens"]["logintoken"]
        result = session.post(
            self.api_url,
            data={
                "action": "clientlogin",
                "username": user,
                "password": password,
                "logintoken": token,
                "loginreturnurl": self.server,
                "format": "json",
            },
            timeout=30,
        ).json()
        if result.get("clientlogin", {}).get("status") != "PASS":
            raise DevWikiError(f"login as {user} failed: {result}")
        return session

    def rollback_as(self, user: str, title: str, last_editor: str) -> int:
        """Roll back ``last_editor``'s latest edits to ``title`` as ``user`` (a sysop);
        returns the new revision id."""
        session = self.api_as(user)
        token = self._token(session, "rollback")
        result = session.post(
            self.api_url,
            data={
                "action": "rollback",
                "title": title,
                "user": last_editor,
                "token": token,
                "format": "json",
            },
            timeout=30,
        ).json()
        if "rollback" not in result:
            raise DevWikiError(f"rollback of {title} failed: {result}")
        return int(result["rollback"]["revid"])

    def undo_as(self, user: str, title: str, undo: int, undoafter: int | None = None) -> int:
        """Undo revision ``undo`` of ``title`` (or, with ``undoafter``, every revision after
        ``undoafter`` up to ``undo``) as ``user``; returns the new revision id."""
        session = self.api_as(user)
        data: dict[str, Any] = {
            "action": "edit",
            "title": title,
            "undo": undo,
            "token": self._token(session, "csrf"),
            "format": "json",
        }
        if undoafter is not None:
            data["undoafter"] = undoafter
        result = session.post(self.api_url, data=data, timeout=30).json()
        if result.get("edit", {}).get("result") != "Success":
            raise DevWikiError(f"undo on {title} failed: {result}")
        return int(result["edit"]["newrevid"])

    def _token(self, session: requests.Session, kind: str) -> str:
        data = session.get(
            self.api_url,
            params={"action": "query", "meta": "tokens", "type": kind, "format": "json"},
            timeout=30,
        ).json()
        return data["query"]["tokens"][f"{kind}token"]

    def page_text(self, title: str) -> str:
        """The current wikitext of ``title`` ("" if the page does not exist), over HTTP."""
        response = requests.get(
            self.api_url,
            params={  # type: ignore[arg-type]  # str and int values only
                "action": "query",
                "prop": "revisions",
                "titles": title,
                "rvprop": "content",
                "rvslots": "main",
                "format": "json",
                "formatversion": 2,
            },
            timeout=30,
        )
        response.raise_for_status()
        page = response.json()["query"]["pages"][0]
        if page.get("missing"):
            return ""
        return page["revisions"][0]["slots"]["main"]["content"]

    def create_user(
        self, name: str, password: str, *, sysop: bool = False, bot: bool = False
    ) -> None:
        """Create ``name`` (or, if it exists, set its password and add the groups)."""
        args = [*(["--sysop"] if sysop else []), *(["--bot"] if bot else [])]
        if self._user_exists(name):
            args.append("--force")
        self.run_maintenance("createAndPromote.php", *args, name, password)

    def api_requests_since(self, offset: int) -> int:
        """How many api.php requests the server logged after byte ``offset`` of the log."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                data = log.read()
        except FileNotFoundError:
            return 0
        return len(_API_REQUEST_RE.findall(data))

    def api_calls_since(self, offset: int) -> list[str]:
        """The API requests MediaWiki logged after byte ``offset`` of ``api_log_path``, one
        line each ("API POST ClerkBot 127.0.0.1 T=5ms action=query meta=globaluserinfo …")."""
        try:
            with self.api_log_path.open("rb") as log:
                log.seek(offset)
                data = log.read()
        except FileNotFoundError:
            return []
        text = data.decode("utf-8", errors="replace")
        return [line for line in text.splitlines() if " API " in f" {line}"]

    def api_log_size(self) -> int:
        """The current size of ``api_log_path`` (an offset for ``api_calls_since``)."""
        try:
            return self.api_log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_size(self) -> int:
        """The current size of the server log in bytes (an offset for api_requests_since)."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    # ------------------------------------------------------------------ seeding
    def seed(self) -> dict[str, SeedUser]:
        """Create the requester accounts, their past histories, the block and the kill switch.

        Idempotent: the plan (passwords, the instant "now" the histories are relative to) is
        stored in devwiki.json before anything is written, and a finished seed is only read
        back.  An interrupted seed is resumed with the same plan: the import does not duplicate
        revisions (each carries its sha1), and accounts and the block are created only once.
        """
        state = self._state()
        seed_state = state.get("seed")
        if not seed_state:
            seed_state = {
                "now": _iso(datetime.now(UTC)),
                "done": False,
                "passwords": {p.name: _random_password(24) for p in PERSONAS},
            }
            self._update_state(seed=seed_state)
        now = datetime.strptime(seed_state["now"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        users = {
            p.name: SeedUser(
                name=p.name,
                password=seed_state["passwords"][p.name],
                editcount=p.edits,
                registered=now - timedelta(days=p.age_days),
                blocked=p.blocked,
            )
            for p in PERSONAS
        }
        if seed_state.get("done"):
            return users

        for persona in PERSONAS:
            self.create_user(persona.name, users[persona.name].password, sysop=persona.sysop)
        self.import_history(PERSONAS, now)
        self.run_maintenance("initEditCount.php")
        self._set_registrations({n: _mw_timestamp(u.registered) for n, u in users.items()})
        for persona in PERSONAS:
            if persona.blocked:
                self._block(persona.name)
        self.edit_as(self.admin_user, KILL_SWITCH_PAGE, "true", "Bot kill switch: true = may run")
        self.run_maintenance("rebuildrecentchanges.php")
        self.run_maintenance("initSiteStats.php", "--update")
        seed_state["done"] = True
        self._update_state(seed=seed_state)
        return users

    def import_history(self, personas: tuple[_Persona, ...], now: datetime) -> None:
        """Import every persona's past edits (dated relative to ``now``) as real revisions.

        Resumable: each revision carries its sha1, so an import run again adds nothing twice.
        """
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", suffix=".xml", dir=self.root, delete=False
        ) as dump:
            dump.write(_export_xml(personas, now))
        try:
            self.run_maintenance("importDump.php", "--no-updates", dump.name)
        finally:
            Path(dump.name).unlink(missing_ok=True)

    # ------------------------------------------------------------------ internals
    def _install(self) -> None:
        self._install_mediawiki()
        self._create_bot()
        self._save_initial_state()

    def _install_mediawiki(self) -> None:
        """install.php into ``root`` with SQLite files in ``data_dir``, then the settings."""
        (self.root / "conf").mkdir(parents=True, exist_ok=True)
        (self.root / "cache").mkdir(exist_ok=True)
        data_dir = self.data_dir
        if self.config_path.exists() or self.db_path.exists():
            raise DevWikiError(
                f"{self.root} holds a half-made wiki ({STATE_FILE} missing); remove it first"
            )
        self._run_php(
            "install.php",
            "--dbtype",
            "sqlite",
            "--dbpath",
            str(data_dir),
            "--dbname",
            self.db_name,
            "--server",
            self.server,
            "--scriptpath",
            "",
            "--lang",
            "en",
            "--skins",
            "Vector",
            "--pass",
            self.admin_password,
            "--confpath",
            str(self.config_path.parent),
            self.site_name,
            self.admin_user,
            with_config=False,
        )
        if not self.config_path.exists():  # install.php exits 0 even when it cannot write it
            raise DevWikiError(f"install.php did not write {self.config_path}")
        extensions = ""
        if (MEDIAWIKI_DIR / "extensions" / "ParserFunctions" / "extension.json").exists():
            extensions = "wfLoadExtension( 'ParserFunctions' );\n"
        with self.config_path.open("a", encoding="utf-8") as conf:
            conf.write(
                "\n# --- added by ats.devwiki ---\n"
                f"$wgCacheDirectory = {_php_string(str(self.root / 'cache'))};\n"
                "$wgEnableBotPasswords = true;\n"
                "$wgRateLimits = [];\n"
                "$wgGroupPermissions['user']['noratelimit'] = true;\n"
                "$wgPasswordAttemptThrottle = [];\n"
                "$wgAccountCreationThrottle = 0;\n"
                "$wgShowExceptionDetails = true;\n"
                "# Every API request with its parameters (MediaWiki redacts passwords and\n"
                "# tokens): what benchmarks count by kind, POSTs included.\n"
                f"$wgDebugLogGroups['api'] = {_php_string(str(self.api_log_path))};\n"
                "# A throwaway wiki: no fsync per commit (importing 4000 revisions: 19 s -> 8 s).\n"
                "$wgDBservers = [ [ 'host' => '', 'dbname' => $wgDBname, 'user' => '',\n"
                "    'password' => '', 'type' => 'sqlite', 'load' => 1, 'flags' => DBO_DEFAULT,\n"
                "    'variables' => [ 'synchronous' => 'OFF' ] ] ];\n"
                f"{extensions}"
                f"{self._extra_settings()}"
            )

    def _create_bot(self) -> None:
        """The bot's account and its BotPassword."""
        self.run_maintenance("createAndPromote.php", "--bot", self.bot_user, _random_password(24))
        self.run_maintenance(
            "createBotPassword.php",
            "--appid",
            self.bot_appid,
            "--grants",
            BOT_GRANTS,
            self.bot_user,
            self.bot_password,
        )

    def _save_initial_state(self) -> None:
        self._write_state(
            {
                "port": self.port,
                "admin_user": self.admin_user,
                "admin_password": self.admin_password,
                "bot_user": self.bot_user,
                "bot_appid": self.bot_appid,
                "bot_password": self.bot_password,
                "pid": None,
            }
        )

    def _run_php(self, script: str, *args: str, with_config: bool = True) -> str:
        if with_config:
            return self.run_maintenance(script, *args)
        env = {k: v for k, v in self._env().items() if k != "MW_CONFIG_FILE"}
        done = subprocess.run(
            [_php(), str(MEDIAWIKI_DIR / "maintenance" / script), *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise DevWikiError(
                f"{script} failed with exit code {done.returncode}:\n"
                f"{done.stderr.strip()}\n{done.stdout.strip()}".rstrip()
            )
        return done.stdout

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MW_CONFIG_FILE"] = str(self.config_path)
        env.pop("PHP_CLI_SERVER_WORKERS", None)
        return env

    def _state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _write_state(self, state: dict[str, Any]) -> None:
        tmp = self.state_path.with_suffix(".json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(state, out, indent=2, ensure_ascii=False)
            out.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.state_path)

    def _update_state(self, **changes: Any) -> None:
        state = self._state()
        state.update(changes)
        self._write_state(state)

    def _server_argv_marker(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _is_our_server(self, pid: int) -> bool:
        if not _process_alive(pid):
            return False
        argv = _cmdline(pid)
        return (
            bool(argv)
            and "php" in Path(argv[0]).name
            and "-S" in argv
            and self._server_argv_marker() in argv
            and str(MEDIAWIKI_DIR) in argv
        )

    def _orphan_servers(self) -> list[int]:
        """php servers for this wiki's address and docroot, whatever devwiki.json says."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and self._is_our_server(int(entry.name)):
                with contextlib.suppress(OSError):
                    environ = (entry / "environ").read_bytes()
                    if f"MW_CONFIG_FILE={self.config_path}".encode() not in environ.split(b"\0"):
                        continue
                found.append(int(entry.name))
        return found

    def _adopt_orphan(self) -> None:
        """Record the pid of a server of this wiki that devwiki.json lost track of."""
        for pid in self._orphan_servers():
            if _pgid_of(pid) == pid:  # the setsid'd parent, not a worker
                self._update_state(pid=pid)
                return

    def _survivors(self, groups: set[int], pids: set[int]) -> set[int]:
        alive = {p for p in pids if _process_alive(p)}
        for pgid in groups:
            alive.update(_pgid_members(pgid))
        return alive

    def _reap(self) -> None:
        if self._proc is not None:
            self._proc.poll()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        params = {"action": "query", "meta": "siteinfo", "format": "json"}
        last_error: str = "no answer yet"
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise DevWikiError(
                    f"php server exited with code {self._proc.returncode}; "
                    f"see {self.log_path}:\n{self._log_tail()}"
                )
            try:
                resp = requests.get(self.api_url, params=params, timeout=10)
                if resp.ok and "query" in resp.json():
                    return
                last_error = f"HTTP {resp.status_code}: {resp.text[:300]}"
            except (requests.RequestException, ValueError) as exc:
                last_error = str(exc)
            time.sleep(0.1)
        raise DevWikiError(
            f"the wiki at {self.api_url} did not answer within {timeout} s ({last_error}); "
            f"see {self.log_path}:\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _user_exists(self, name: str) -> bool:
        if not self.db_path.exists():
            return False
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=30)) as db:
            row = db.execute("SELECT 1 FROM user WHERE user_name = ?", (name,)).fetchone()
        return row is not None

    def _set_registrations(self, registrations: dict[str, str]) -> None:
        touched = _mw_timestamp(datetime.now(UTC))
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=30)) as db, db:
            for name, stamp in registrations.items():
                cur = db.execute(
                    "UPDATE user SET user_registration = ?, user_touched = ? WHERE user_name = ?",
                    (stamp, touched, name),
                )
                if cur.rowcount != 1:
                    raise DevWikiError(f"no user {name!r} in {self.db_path}")

    def _block(self, name: str, reason: str = BLOCK_REASON, expiry: str = BLOCK_EXPIRY) -> None:
        out = self.run_maintenance(
            "blockUsers.php",
            "--performer",
            BLOCK_PERFORMER,
            "--reason",
            reason,
            "--expiry",
            expiry,
            # Every client of this wiki is 127.0.0.1: an autoblock would block them all.
            "--disable-autoblock",
            stdin=name + "\n",
        )
        # blockUsers.php reports failures on stdout and still exits 0.
        if "succeeded" not in out and "already blocked" not in out:
            raise DevWikiError(f"blocking {name!r} failed: {out.strip()}")


def _pgid_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _php_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _php() -> str:
    php = shutil.which("php")
    if php is None:
        raise DevWikiError(
            "php is not installed (need Debian's php-cli, php-sqlite3, php-intl, php-mbstring, "
            "php-xml and mediawiki packages; see LOCALWIKI.md)"
        )
    return php


def _check_prerequisites() -> None:
    _php()
    if not (MEDIAWIKI_DIR / "maintenance" / "install.php").exists():
        raise DevWikiError(f"MediaWiki is not installed at {MEDIAWIKI_DIR} (apt-get mediawiki)")


def _export_xml(personas: tuple[_Persona, ...], now: datetime) -> str:
    """An XML export (schema 0.11) of every persona's past edits to Sandbox/<name>/<n>."""
    parts = [
        f'<mediawiki xmlns="{_EXPORT_NS}" version="0.11" xml:lang="en">\n'
        "  <siteinfo>\n"
        f"    <sitename>{SITE_NAME}</sitename>\n"
        f"    <dbname>{DB_NAME}</dbname>\n"
        "    <case>first-letter</case>\n"
        "    <namespaces>\n"
        '      <namespace key="0" case="first-letter" />\n'
        "    </namespaces>\n"
        "  </siteinfo>\n"
    ]
    for persona in personas:
        pages: dict[int, list[tuple[int, datetime]]] = {}
        for index, when in enumerate(_edit_times(persona, now)):
            pages.setdefault(index % _PAGES_PER_USER + 1, []).append((index + 1, when))
        user = escape(persona.name)
        for page_no, revisions in pages.items():
            parts.append(
                "  <page>\n"
                f"    <title>{escape(f'Sandbox/{persona.name}/{page_no}')}</title>\n"
                "    <ns>0</ns>\n"
            )
            for number, when in revisions:
                text = (
                    f"Edit {number} of {persona.edits} by [[User:{persona.name}]] at {_iso(when)}."
                )
                parts.append(
                    "    <revision>\n"
                    f"      <timestamp>{_iso(when)}</timestamp>\n"
                    f"      <contributor><username>{user}</username></contributor>\n"
                    f"      <comment>{escape(f'Seed edit {number}')}</comment>\n"
                    "      <model>wikitext</model>\n"
                    "      <format>text/x-wiki</format>\n"
                    f"      <text bytes={quoteattr(str(len(text.encode())))}"
                    f' xml:space="preserve">{escape(text)}</text>\n'
                    f"      <sha1>{_base36_sha1(text)}</sha1>\n"
                    "    </revision>\n"
                )
            parts.append("  </page>\n")
    parts.append("</mediawiki>\n")
    return "".join(parts)
