"""A local MediaWiki's folder, addresses and credentials, and the writes every seed makes.

``LocalWiki`` is what installing, serving, seeding and driving a dev wiki share: where its
files are (``conf/LocalSettings.php``, ``data/`` for the SQLite files, ``cache/``,
``server.log``, ``api.log`` and the state file), where it answers, its admin and bot
accounts, and the writes made through maintenance scripts or straight into its SQLite
database (accounts, registration dates, blocks, imported histories).  A wiki of a farm
(``devtools.devfarm``) changes its database name, site name, SQLite folder, environment and
settings through the hooks below.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import string
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devtools.devwiki.history import Persona, export_xml, mw_timestamp
from devtools.devwiki.php import DevWikiError, run_script
from devtools.devwiki.state import read_state, update_state, write_state

DB_NAME = "devwiki"
SITE_NAME = "DevWiki"
STATE_FILE = "devwiki.json"
# BotPassword secrets must be >= 32 characters drawn from [0-9a-w] (see LOCALWIKI.md).
BOT_PASSWORD_ALPHABET = string.digits + "abcdefghijklmnopqrstuvw"
PASSWORD_ALPHABET = string.ascii_letters + string.digits
BLOCK_REASON = "Persistent vandalism"
BLOCK_EXPIRY = "1 month"
BLOCK_PERFORMER = "Admin"


def random_password(length: int = 24, alphabet: str = PASSWORD_ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class LocalWiki:
    """A local MediaWiki under ``root``, served on ``127.0.0.1:port``."""

    root: Path
    port: int
    admin_user: str = "Admin"
    admin_password: str = field(default_factory=lambda: random_password(24), repr=False)
    bot_user: str = "ClerkBot"
    bot_appid: str = "clerk"
    bot_password: str = field(
        default_factory=lambda: random_password(32, BOT_PASSWORD_ALPHABET), repr=False
    )

    # Hooks for a wiki that is one of several (devtools.devfarm): its database name, site
    # name, SQLite folder and extra LocalSettings lines.
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

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["MW_CONFIG_FILE"] = str(self.config_path)
        env.pop("PHP_CLI_SERVER_WORKERS", None)
        return env

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

    # ------------------------------------------------------------------ state file
    def _state(self) -> dict[str, Any]:
        return read_state(self.state_path)

    def _update_state(self, **changes: Any) -> None:
        update_state(self.state_path, **changes)

    def _save_initial_state(self) -> None:
        write_state(
            self.state_path,
            {
                "port": self.port,
                "admin_user": self.admin_user,
                "admin_password": self.admin_password,
                "bot_user": self.bot_user,
                "bot_appid": self.bot_appid,
                "bot_password": self.bot_password,
                "pid": None,
            },
        )

    # ------------------------------------------------------------------ writing to the wiki
    def run_maintenance(self, script: str, *args: str, stdin: str | None = None) -> str:
        """Run ``maintenance/<script>`` (or the script at an absolute path, e.g. an
        extension's) against this wiki; return its stdout."""
        return run_script(script, args, cwd=self.root, env=self._env(), stdin=stdin)

    def edit_as(self, user: str, title: str, text: str, summary: str = "") -> None:
        """Save ``text`` to ``title`` as a real revision by ``user`` (no-op if unchanged)."""
        self.run_maintenance("edit.php", "-u", user, "-s", summary, title, stdin=text)

    def create_user(
        self, name: str, password: str, *, sysop: bool = False, bot: bool = False
    ) -> None:
        """Create ``name`` (or, if it exists, set its password and add the groups)."""
        args = [*(["--sysop"] if sysop else []), *(["--bot"] if bot else [])]
        if self._user_exists(name):
            args.append("--force")
        self.run_maintenance("createAndPromote.php", *args, name, password)

    def import_history(self, personas: tuple[Persona, ...], now: datetime) -> None:
        """Import every persona's past edits (dated relative to ``now``) as real revisions.

        Resumable: each revision carries its sha1, so an import run again adds nothing twice.
        """
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", suffix=".xml", dir=self.root, delete=False
        ) as dump:
            dump.write(export_xml(personas, now, sitename=SITE_NAME, dbname=DB_NAME))
        try:
            self.run_maintenance("importDump.php", "--no-updates", dump.name)
        finally:
            Path(dump.name).unlink(missing_ok=True)

    def _user_exists(self, name: str) -> bool:
        if not self.db_path.exists():
            return False
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=30)) as db:
            row = db.execute("SELECT 1 FROM user WHERE user_name = ?", (name,)).fetchone()
        return row is not None

    def _set_registrations(self, registrations: dict[str, str]) -> None:
        touched = mw_timestamp(datetime.now(UTC))
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=30)) as db, db:
            for name, stamp in registrations.items():
                cur = db.execute(
                    "UPDATE user SET user_registration = ?, user_touched = ? WHERE user_name = ?",
                    (stamp, touched, name),
                )
                if cur.rowcount != 1:
                    raise DevWikiError(f"no user {name!r} in {self.db_path}")

    def _set_edit_counts(self, counts: dict[str, int]) -> None:
        """Set accounts' edit counts, by name."""
        if not counts:
            return
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=30)) as db, db:
            db.executemany(
                "UPDATE user SET user_editcount = ? WHERE user_name = ?",
                [(count, user) for user, count in counts.items()],
            )

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
