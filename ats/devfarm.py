"""A throwaway farm of two local MediaWikis joined by the real CentralAuth, as on Meta-Wiki.

``DevFarm`` builds, serves and seeds two wikis on 127.0.0.1: ``metawiki`` (``farm.meta``, the
request wiki, with the bot's BotPassword and the kill-switch page) and ``enwiki``
(``farm.home``, where most personas edit).  Each is a ``FarmWiki``, a ``DevWiki`` with its own
``php -S``, ``conf/``, ``server.log`` and state file under ``root/<dbname>/``; both wikis'
SQLite files and CentralAuth's central database (``centralauth.sqlite``) share ``root/data``.
The extension is loaded where it lies (``centralauth_dir()``), never copied.  As on
Wikimedia's wikis, BotPasswords are global (kept in metawiki's table): the bot's one BotPassword
logs it in on both wikis.  ``devfarm.json``
(mode 0600) holds the ports, the steward's and every seeded account's password and the seed
plan, so create/start/seed are idempotent and a farm killed half-way resumes.

Global accounts are made on metawiki (their home) and attached to enwiki; their edits are real
revisions in the past (one ``importDump.php`` per wiki for a whole batch of accounts), their
registration dates are set on each wiki's ``user`` table and in ``globaluser``.  A persona's
"recent" edits fall in the 54 days before the seed (so "the last 55 days" still holds a day
later); its older edits end 400 days before it (``Long Gone``'s 760 days), so any activity
window from 55 to 400 days counts the same recent edits.

What ``meta=globaluserinfo`` answers about the hidden account (``hidden=lists``), checked by
tests/integration/test_devfarm.py: to an anonymous caller and to the bot alike, only
``{"missing": true}`` -- exactly what it says of a name nobody has -- because only a holder of
the global right ``centralauth-suppress`` (the farm's steward) sees a hidden account, and then
with ``"hidden": true``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from ats.devwiki import (
    KILL_SWITCH_PAGE,
    MEDIAWIKI_DIR,
    DevWiki,
    DevWikiError,
    SeedUser,
    _check_prerequisites,
    _free_port,
    _iso,
    _mw_timestamp,
    _Persona,
    _php_string,
    _random_password,
)

__all__ = [
    "DevFarm",
    "DevFarmError",
    "FarmWiki",
    "GlobalUserSpec",
    "PERSONAS",
    "centralauth_dir",
    "default_centralauth_dir",
    "missing_centralauth_reason",
]

STATE_FILE = "devfarm.json"
META = "metawiki"
HOME = "enwiki"
WIKIS = (META, HOME)
SITE_NAMES = {META: "MetaWiki", HOME: "EnWiki"}
CENTRAL_DB = "centralauth"
STEWARD = "Steward"
STEWARD_GROUP = "steward"
# Locking needs centralauth-lock; hiding (and seeing a hidden account) centralauth-suppress.
STEWARD_RIGHTS = ("centralauth-lock", "centralauth-suppress")
_USERS_SCRIPT = "farmUsers.php"
_YEAR = 365
_OLD_EDITS_END_DAYS = 400
_RECENT_DAYS = 54


class DevFarmError(DevWikiError):
    """The local farm could not be built, started, seeded or driven."""


def centralauth_dir() -> Path | None:
    """The CentralAuth extension to load: ``$ATS_CENTRALAUTH_DIR`` if set, else
    ``../shared/mediawiki-centralauth`` beside the project checkout; None if it is not there.

    The folder holds ``CentralAuth/extension.json``.
    """
    configured = os.environ.get("ATS_CENTRALAUTH_DIR")
    folder = Path(configured) if configured else default_centralauth_dir()
    if (folder / "CentralAuth" / "extension.json").is_file():
        return folder.resolve()
    return None


def missing_centralauth_reason() -> str:
    """One line saying where the extension was looked for (when ``centralauth_dir()`` is
    None)."""
    configured = os.environ.get("ATS_CENTRALAUTH_DIR")
    where = (
        f"{configured} (ATS_CENTRALAUTH_DIR)"
        if configured
        else f"{default_centralauth_dir()} (or set ATS_CENTRALAUTH_DIR)"
    )
    return f"the CentralAuth extension (CentralAuth/extension.json) is not in {where}"


def default_centralauth_dir() -> Path:
    """Where the extension is looked for without ``$ATS_CENTRALAUTH_DIR``."""
    checkout = Path(__file__).resolve().parent.parent
    return checkout.parent / "shared" / "mediawiki-centralauth"


@dataclass(frozen=True)
class GlobalUserSpec:
    """A global account to create: its age and, per wiki, (edits, edits in the last 55 days).

    It is attached to every wiki of the farm, with no edits where ``edits`` names none.
    Every edit is a revision unless ``old_revisions`` is set: then only that many of the
    edits before the recent ones are (the recent ones always are), and the wiki's edit count
    is set to the full number -- for benchmarks of many accounts, where importing tens of
    thousands of old revisions would take minutes and nothing reads them.
    """

    name: str
    age_days: int
    edits: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    quiet_days: int | None = None  # old edits end this many days ago (default: see below)
    sysop_on: tuple[str, ...] = ()
    old_revisions: int | None = None

    def persona(self, wiki: str) -> _Persona:
        total, recent = self.edits.get(wiki, (0, 0))
        if self.old_revisions is not None:
            total = recent + min(total - recent, self.old_revisions)
        quiet = self.quiet_days
        if quiet is None:
            # Older edits stay out of a year's window when the account is old enough.
            quiet = _OLD_EDITS_END_DAYS if self.age_days > _OLD_EDITS_END_DAYS + 30 else 61
        # Recent edits within 54 days, so "in the last 55 days" holds for a day after the seed.
        return _Persona(
            self.name, self.age_days, total, recent, quiet_days=quiet, recent_days=_RECENT_DAYS
        )


PERSONAS: tuple[GlobalUserSpec, ...] = (
    GlobalUserSpec("Wanderer", 5 * _YEAR, {HOME: (800, 40)}),
    GlobalUserSpec("Split Editor", 3 * _YEAR, {HOME: (400, 6), META: (200, 6)}),
    GlobalUserSpec("Long Gone", 8 * _YEAR, {HOME: (900, 0)}, quiet_days=2 * _YEAR + 30),
    GlobalUserSpec("Locked Out", 5 * _YEAR, {HOME: (700, 30)}),
    GlobalUserSpec("Blocked Abroad", 5 * _YEAR, {HOME: (700, 30)}),
    GlobalUserSpec("Hidden Account", 5 * _YEAR, {HOME: (700, 30)}),
    GlobalUserSpec("Later Locked", 5 * _YEAR, {HOME: (700, 30)}),
    GlobalUserSpec("ChapterAdmin", 5 * _YEAR, {META: (600, 30)}, sysop_on=(META,)),
)
LOCKED = ("Locked Out",)
HIDDEN = ("Hidden Account",)
BLOCKS = {"Blocked Abroad": (HOME, "Edit warring on enwiki", "1 month")}


@dataclass
class FarmWiki(DevWiki):
    """One wiki of a ``DevFarm``: a ``DevWiki`` in ``<farm root>/<dbname>`` whose SQLite files
    live in the farm's shared ``data/`` and whose settings load CentralAuth."""

    farm: DevFarm | None = field(default=None, repr=False, compare=False)

    @property
    def db_name(self) -> str:
        return self.root.name

    @property
    def site_name(self) -> str:
        return SITE_NAMES.get(self.root.name, self.root.name)

    @property
    def data_dir(self) -> Path:
        return self.root.parent / "data"

    def seed(self) -> dict[str, SeedUser]:
        """The farm's accounts (``api_as`` logs in with these passwords)."""
        if self.farm is None:
            raise DevFarmError(f"{self.root} is not attached to its farm")
        return self.farm.seed()

    def _extra_settings(self) -> str:
        if self.farm is None:
            raise DevFarmError(f"{self.root} is not attached to its farm")
        return self.farm._farm_settings(self)

    def _env(self) -> dict[str, str]:
        env = super()._env()
        # CentralAuth's maintenance scripts find MediaWiki through it.
        env["MW_INSTALL_PATH"] = str(MEDIAWIKI_DIR)
        return env

    def run_extension_maintenance(self, script: str, *args: str, stdin: str | None = None) -> str:
        """Run CentralAuth's ``maintenance/<script>`` against this wiki."""
        folder = self.farm.extension_dir if self.farm is not None else None
        if folder is None:
            raise DevFarmError("the CentralAuth extension is not available")
        path = folder / "CentralAuth" / "maintenance" / script
        return self.run_maintenance(str(path), *args, stdin=stdin)


@dataclass
class DevFarm:
    """metawiki and enwiki under ``root``, joined by CentralAuth."""

    root: Path
    meta: FarmWiki
    home: FarmWiki
    extension_dir: Path
    steward_password: str = field(default_factory=lambda: _random_password(24), repr=False)

    # ------------------------------------------------------------------ addresses
    @property
    def state_path(self) -> Path:
        return self.root / STATE_FILE

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def central_db_path(self) -> Path:
        return self.data_dir / f"{CENTRAL_DB}.sqlite"

    @property
    def wikis(self) -> dict[str, FarmWiki]:
        return {META: self.meta, HOME: self.home}

    def wiki(self, name: str) -> FarmWiki:
        try:
            return self.wikis[name]
        except KeyError:
            raise DevFarmError(
                f"no wiki {name!r} in the farm (it has {', '.join(WIKIS)})"
            ) from None

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, root: Path) -> DevFarm:
        """Build the farm in ``root`` (or load the one already there; a build that was
        interrupted is started again from scratch)."""
        root = Path(root).resolve()
        extension = centralauth_dir()
        if extension is None:
            raise DevFarmError(missing_centralauth_reason())
        state = _read_json(root / STATE_FILE)
        if state.get("installed"):
            return cls.load(root)
        _check_prerequisites()
        root.mkdir(parents=True, exist_ok=True)
        if not state:
            meta_port = _free_port()
            home_port = _free_port()
            while home_port == meta_port:
                home_port = _free_port()
            state = {
                "ports": {META: meta_port, HOME: home_port},
                "steward_password": _random_password(24),
                "installed": False,
            }
            _write_json(root / STATE_FILE, state)
        farm = cls._from_state(root, state, extension)
        farm._install()
        return farm

    @classmethod
    def load(cls, root: Path) -> DevFarm:
        """The farm previously created in ``root``."""
        root = Path(root).resolve()
        extension = centralauth_dir()
        if extension is None:
            raise DevFarmError(missing_centralauth_reason())
        state = _read_json(root / STATE_FILE)
        if not state.get("installed"):
            raise DevFarmError(f"no finished dev farm in {root}; create one with DevFarm.create()")
        farm = cls._from_state(root, state, extension)
        for name in WIKIS:
            wiki = FarmWiki.load(root / name)
            wiki.farm = farm  # type: ignore[attr-defined]  # FarmWiki.load returns a FarmWiki
            setattr(farm, "meta" if name == META else "home", wiki)
        return farm

    @classmethod
    def _from_state(cls, root: Path, state: dict[str, Any], extension: Path) -> DevFarm:
        ports = state["ports"]
        farm = cls(
            root=root,
            meta=FarmWiki(root=root / META, port=int(ports[META])),
            home=FarmWiki(root=root / HOME, port=int(ports[HOME])),
            extension_dir=extension,
            steward_password=state["steward_password"],
        )
        # One BotPassword, metawiki's, logs the bot in on both wikis.
        farm.home.bot_password = farm.meta.bot_password
        farm.meta.farm = farm
        farm.home.farm = farm
        return farm

    def start(self, timeout: float = 30) -> None:
        """Serve both wikis; return once both APIs answer."""
        try:
            for wiki in self.wikis.values():
                wiki.start(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop both wikis' servers."""
        errors = []
        for wiki in self.wikis.values():
            try:
                wiki.stop()
            except DevWikiError as exc:
                errors.append(str(exc))
        if errors:
            raise DevFarmError("; ".join(errors))

    def running(self) -> bool:
        return all(wiki.running() for wiki in self.wikis.values())

    # ------------------------------------------------------------------ counting requests
    def log_sizes(self) -> dict[str, int]:
        """Each wiki's server log size: offsets for ``api_requests_since``."""
        return {name: wiki.log_size() for name, wiki in self.wikis.items()}

    def api_requests_since(self, offsets: Mapping[str, int]) -> dict[str, int]:
        """api.php requests each wiki served since ``offsets`` (from ``log_sizes``)."""
        return {
            name: wiki.api_requests_since(offsets.get(name, 0)) for name, wiki in self.wikis.items()
        }

    # ------------------------------------------------------------------ seeding
    def seed(self) -> dict[str, SeedUser]:
        """Create the personas (see PERSONAS), the block, the lock, the hidden account and the
        kill switch; return every account the farm made, bulk ones included.

        Idempotent and resumable like ``DevWiki.seed``: the plan is saved first, a finished
        seed is only read back.  The lock and the hiding go through the API, so the farm is
        started first if it is not running.
        """
        state = self._state()
        plan = state.get("seed")
        if not plan:
            plan = {"now": _iso(datetime.now(UTC)), "done": False}
            self._update_state(seed=plan)
        now = _parse_iso(plan["now"])
        if not plan.get("done"):
            self.start()
            self._add(PERSONAS, now)
            for name, (wiki, reason, expiry) in BLOCKS.items():
                self.block(name, wiki=wiki, reason=reason, expiry=expiry)
            for name in LOCKED:
                self.lock(name)
            for name in HIDDEN:
                self._set_status(name, hidden="lists", reason="Hidden for the tests")
            self.meta.edit_as(
                self.meta.admin_user, KILL_SWITCH_PAGE, "true", "Bot kill switch: true = may run"
            )
            for each in self.wikis.values():
                each.run_maintenance("rebuildrecentchanges.php")
                each.run_maintenance("initSiteStats.php", "--update")
            plan["done"] = True
            self._update_state(seed=plan)
        return self._seed_users()

    def add_global_users(self, specs: Iterable[GlobalUserSpec]) -> dict[str, SeedUser]:
        """Create global accounts in bulk: one user-creating process and one import per
        wiki for the whole batch.  Returns the new accounts.  The histories are relative to
        the seed's "now" (the farm is seeded first if it is not)."""
        specs = tuple(specs)
        self.seed()
        now = _parse_iso(self._state()["seed"]["now"])
        self._add(specs, now)
        users = self._seed_users()
        return {spec.name: users[spec.name] for spec in specs}

    def _add(self, specs: tuple[GlobalUserSpec, ...], now: datetime) -> None:
        state = self._state()
        accounts: dict[str, Any] = state.setdefault("accounts", {})
        for spec in specs:
            if spec.name not in accounts:
                accounts[spec.name] = {
                    "password": _random_password(24),
                    "age_days": spec.age_days,
                    "edits": {w: spec.edits.get(w, (0, 0))[0] for w in WIKIS},
                    "counted_not_imported": spec.old_revisions is not None,
                }
        self._update_state(accounts=accounts)
        batch = [
            {
                "name": spec.name,
                "password": accounts[spec.name]["password"],
                "sysop": META in spec.sysop_on,
            }
            for spec in specs
        ]
        self._users_script(self.meta, "create", batch)
        self._users_script(
            self.home,
            "attach",
            [
                {**entry, "sysop": HOME in spec.sysop_on}
                for entry, spec in zip(batch, specs, strict=True)
            ],
        )
        # The two imports (most of the time taken) write different SQLite files: run them
        # side by side.
        with ThreadPoolExecutor(max_workers=len(WIKIS)) as pool:
            for future in [
                pool.submit(self._import, wiki, tuple(spec.persona(name) for spec in specs), now)
                for name, wiki in self.wikis.items()
            ]:
                future.result()
        for name, wiki in self.wikis.items():
            wiki.run_maintenance("initEditCount.php")
            self._restore_counted_edits(wiki, name, accounts)
            wiki._set_registrations(
                {s.name: _mw_timestamp(now - timedelta(days=s.age_days)) for s in specs}
            )
        with self._central() as db, db:
            for spec in specs:
                db.execute(
                    "UPDATE globaluser SET gu_registration = ? WHERE gu_name = ?",
                    (_mw_timestamp(now - timedelta(days=spec.age_days)), spec.name),
                )
        self.meta.run_extension_maintenance("populateGlobalEditCount.php")

    @staticmethod
    def _restore_counted_edits(wiki: FarmWiki, name: str, accounts: dict[str, Any]) -> None:
        """initEditCount.php counts revisions: give back the edits of every account (of this
        batch or an earlier one) whose old edits were counted but not imported."""
        counted = {
            user: account["edits"][name]
            for user, account in accounts.items()
            if account.get("counted_not_imported")
        }
        if not counted:
            return
        with contextlib.closing(sqlite3.connect(wiki.db_path, timeout=30)) as db, db:
            db.executemany(
                "UPDATE user SET user_editcount = ? WHERE user_name = ?",
                [(count, user) for user, count in counted.items()],
            )

    def _import(self, wiki: FarmWiki, personas: tuple[_Persona, ...], now: datetime) -> None:
        personas = tuple(p for p in personas if p.edits)
        if not personas:
            return
        wiki.import_history(personas, now)

    def _seed_users(self) -> dict[str, SeedUser]:
        state = self._state()
        now = _parse_iso(state["seed"]["now"])
        blocked = set(BLOCKS)
        return {
            name: SeedUser(
                name=name,
                password=account["password"],
                editcount=sum(account["edits"].values()),
                registered=now - timedelta(days=account["age_days"]),
                blocked=name in blocked,
            )
            for name, account in state.get("accounts", {}).items()
        }

    # ------------------------------------------------------------------ stewards' actions
    def lock(self, name: str, reason: str = "Cross-wiki abuse") -> None:
        """Lock ``name``'s global account (action=setglobalaccountstatus as the steward)."""
        self._set_status(name, locked="lock", reason=reason)

    def unlock(self, name: str, reason: str = "Appeal accepted") -> None:
        """Unlock ``name``'s global account."""
        self._set_status(name, locked="unlock", reason=reason)

    def block(
        self,
        name: str,
        wiki: str = HOME,
        reason: str = "Edit warring on enwiki",
        expiry: str = "1 month",
    ) -> None:
        """Block ``name`` sitewide on one wiki, without autoblock (every client here is
        127.0.0.1)."""
        self.wiki(wiki)._block(name, reason=reason, expiry=expiry)

    def steward_session(self) -> requests.Session:
        """An HTTP session on metawiki logged in as the steward."""
        session = requests.Session()
        api = self.meta.api_url
        token = session.get(
            api,
            params={"action": "query", "meta": "tokens", "type": "login", "format": "json"},
            timeout=30,
        ).json()["query"]["tokens"]["logintoken"]
        result = session.post(
            api,
            data={
                "action": "clientlogin",
                "username": STEWARD,
                "password": self.steward_password,
                "logintoken": token,
                "loginreturnurl": self.meta.server,
                "format": "json",
            },
            timeout=30,
        ).json()
        if result.get("clientlogin", {}).get("status") != "PASS":
            raise DevFarmError(f"login as {STEWARD} on {META} failed: {result}")
        return session

    def global_status(self, name: str) -> tuple[bool, int] | None:
        """(locked, hidden level) of ``name``'s global account, read from the central
        database; None if there is no such account."""
        with self._central() as db:
            row = db.execute(
                "SELECT gu_locked, gu_hidden_level FROM globaluser WHERE gu_name = ?", (name,)
            ).fetchone()
        return None if row is None else (bool(row[0]), int(row[1]))

    def _set_status(self, name: str, **params: str) -> None:
        current = self.global_status(name)
        if current is None:
            raise DevFarmError(f"no global account {name!r}")
        wanted_lock = {"lock": True, "unlock": False}.get(params.get("locked", ""))
        wanted_hidden = {"": 0, "lists": 1, "suppressed": 2}.get(params.get("hidden", "-"))
        if (wanted_lock is None or wanted_lock == current[0]) and (
            wanted_hidden is None or wanted_hidden == current[1]
        ):
            return  # already so: CentralAuth would answer that nothing changed
        session = self.steward_session()
        token = session.get(
            self.meta.api_url,
            params={
                "action": "query",
                "meta": "tokens",
                "type": "setglobalaccountstatus",
                "format": "json",
            },
            timeout=30,
        ).json()["query"]["tokens"]["setglobalaccountstatustoken"]
        result = session.post(
            self.meta.api_url,
            data={
                "action": "setglobalaccountstatus",
                "user": name,
                "token": token,
                "format": "json",
                "formatversion": 2,
                **params,
            },
            timeout=30,
        ).json()
        if "error" in result or "setglobalaccountstatus" not in result:
            raise DevFarmError(f"setglobalaccountstatus {params} for {name!r} failed: {result}")

    # ------------------------------------------------------------------ internals
    def _install(self) -> None:
        # Whatever an interrupted build left is thrown away: building again takes seconds.
        for folder in (self.meta.root, self.home.root, self.data_dir):
            shutil.rmtree(folder, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        # One after the other: both touch data/wikicache.sqlite.
        for wiki in self.wikis.values():
            wiki._install_mediawiki()
        self._create_central_tables()
        for wiki in self.wikis.values():
            wiki.run_extension_maintenance("migratePass0.php")
        self.meta.run_extension_maintenance(
            "migrateAccount.php", "--username", self.meta.admin_user, "--homewiki", META
        )
        self._write_users_script()
        self.meta._create_bot()
        self._users_script(
            self.home, "attach", [{"name": self.meta.bot_user, "password": "", "sysop": False}]
        )
        self._users_script(
            self.meta,
            "create",
            [{"name": STEWARD, "password": self.steward_password, "sysop": False}],
        )
        self._grant_steward()
        for wiki in self.wikis.values():
            wiki._save_initial_state()
        self._update_state(installed=True)

    def _farm_settings(self, wiki: FarmWiki) -> str:
        servers = ", ".join(
            f"'{name}' => 'http://127.0.0.1:{w.port}'" for name, w in self.wikis.items()
        )
        sites = ", ".join(f"'{name}' => '{SITE_NAMES[name]}'" for name in WIKIS)
        extension = self.extension_dir / "CentralAuth" / "extension.json"
        meta_port = self.meta.port
        return (
            "\n# --- added by ats.devfarm: one wiki of a CentralAuth farm ---\n"
            f"$wgLocalDatabases = [ {', '.join(repr(n) for n in WIKIS)} ];\n"
            "$wgConf->wikis = $wgLocalDatabases;\n"
            "$wgConf->suffixes = [ 'wiki' ];\n"
            "$wgConf->settings = [\n"
            f"    'wgServer' => [ {servers} ],\n"
            f"    'wgCanonicalServer' => [ {servers} ],\n"
            "    'wgScriptPath' => [ 'default' => '' ],\n"
            "    'wgArticlePath' => [ 'default' => '/index.php/$1' ],\n"
            f"    'wgSitename' => [ {sites} ],\n"
            "    'wgLanguageCode' => [ 'default' => 'en' ],\n"
            "];\n"
            f"wfLoadExtension( 'CentralAuth', {_php_string(str(extension))} );\n"
            f"$wgCentralAuthDatabase = '{CENTRAL_DB}';\n"
            "$wgCentralAuthAutoMigrate = true;\n"
            "$wgCentralAuthAutoMigrateNonGlobalAccounts = true;\n"
            "$wgCentralAuthCookies = true;\n"
            "# BotPasswords are global, as on Wikimedia's wikis: one table, metawiki's.\n"
            f"$wgBotPasswordsDatabase = '{META}';\n"
            "# Cookies ignore the port: names of this farm's own keep two farms apart.\n"
            f"$wgCookiePrefix = '{wiki.db_name}{wiki.port}';\n"
            f"$wgCentralAuthCookiePrefix = 'centralauth{meta_port}_';\n"
            "# Throwaway accounts: 30000 PBKDF2 rounds cost 0.1 s for each one made.\n"
            "$wgPasswordConfig['pbkdf2']['cost'] = '1000';\n"
        )

    def _create_central_tables(self) -> None:
        schema = self.extension_dir / "CentralAuth" / "schema" / "sqlite" / "tables-generated.sql"
        try:
            sql = schema.read_text(encoding="utf-8").replace("/*_*/", "")
        except OSError as exc:
            raise DevFarmError(f"cannot read CentralAuth's schema {schema}: {exc}") from exc
        with contextlib.closing(sqlite3.connect(self.central_db_path)) as db:
            db.executescript(sql)

    def _grant_steward(self) -> None:
        with self._central() as db, db:
            row = db.execute(
                "SELECT gu_id FROM globaluser WHERE gu_name = ?", (STEWARD,)
            ).fetchone()
            if row is None:
                raise DevFarmError(f"no global account {STEWARD!r} in {self.central_db_path}")
            for right in STEWARD_RIGHTS:
                db.execute(
                    "INSERT OR IGNORE INTO global_group_permissions VALUES (?, ?)",
                    (STEWARD_GROUP, right),
                )
            db.execute(
                "INSERT OR IGNORE INTO global_user_groups (gug_user, gug_group) VALUES (?, ?)",
                (row[0], STEWARD_GROUP),
            )

    def _central(self) -> contextlib.closing[sqlite3.Connection]:
        return contextlib.closing(sqlite3.connect(self.central_db_path, timeout=30))

    def _write_users_script(self) -> None:
        (self.root / _USERS_SCRIPT).write_text(_USERS_PHP, encoding="utf-8")

    def _users_script(self, wiki: FarmWiki, mode: str, users: list[dict[str, Any]]) -> None:
        """Create (on the home wiki) or attach (elsewhere) a batch of accounts in one php."""
        if not users:
            return
        script = self.root / _USERS_SCRIPT
        if not script.exists():
            self._write_users_script()
        out = wiki.run_maintenance(str(script), mode, stdin=json.dumps(users))
        if "ok" not in out.split():
            raise DevFarmError(f"{_USERS_SCRIPT} {mode} on {wiki.db_name} failed: {out.strip()}")

    def _state(self) -> dict[str, Any]:
        return _read_json(self.state_path)

    def _update_state(self, **changes: Any) -> None:
        state = self._state()
        state.update(changes)
        _write_json(self.state_path, state)


def _parse_iso(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DevFarmError(f"unreadable {path}: {exc}") from exc


def _write_json(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(state, out, indent=2, ensure_ascii=False)
        out.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


# A maintenance script for batches: createAndPromote.php and CentralAuth's
# createLocalAccount.php cost one php process (~0.5 s) per account; this does a whole
# batch, read as JSON from stdin, in one.  "create" makes the account the way
# createAndPromote.php does (CentralAuth's hook makes and attaches the global account);
# "attach" makes the local account of an existing global one.  Existing accounts are
# left as they are (apart from groups), so a batch can be run again.
_USERS_PHP = r"""<?php
require_once getenv( 'MW_INSTALL_PATH' ) . '/maintenance/Maintenance.php';

use MediaWiki\Auth\AuthManager;
use MediaWiki\Extension\CentralAuth\CentralAuthServices;
use MediaWiki\MediaWikiServices;

class FarmUsers extends Maintenance {
	public function __construct() {
		parent::__construct();
		$this->addArg( 'mode', 'create or attach' );
	}

	public function execute() {
		$mode = $this->getArg( 0 );
		$users = json_decode( stream_get_contents( STDIN ), true );
		$services = MediaWikiServices::getInstance();
		$groups = $services->getUserGroupManager();
		foreach ( $users as $spec ) {
			$user = $services->getUserFactory()->newFromName( $spec['name'] );
			if ( !$user ) {
				$this->fatalError( "invalid username {$spec['name']}" );
			}
			if ( $user->idForName() === 0 ) {
				if ( $mode === 'create' ) {
					$status = $services->getAuthManager()->autoCreateUser(
						$user, AuthManager::AUTOCREATE_SOURCE_MAINT, false
					);
					if ( !$status->isGood() ) {
						$this->fail( $spec, Status::wrap( $status ) );
					}
					$status = $user->changeAuthenticationData( [
						'username' => $user->getName(),
						'password' => $spec['password'],
						'retype' => $spec['password'],
					] );
					if ( !$status->isGood() ) {
						$this->fail( $spec, Status::wrap( $status ) );
					}
				} else {
					$status = CentralAuthServices::getForcedLocalCreationService()
						->attemptAutoCreateLocalUserFromName( $spec['name'] );
					if ( !$status->isGood() ) {
						$this->fail( $spec, Status::wrap( $status ) );
					}
				}
				$user = $services->getUserFactory()->newFromName( $spec['name'] );
				SiteStatsUpdate::factory( [ 'users' => 1 ] )->doUpdate();
			}
			if ( !empty( $spec['sysop'] ) ) {
				$groups->addUserToMultipleGroups( $user, [ 'sysop' ] );
			}
		}
		$this->output( "ok\n" );
	}

	private function fail( array $spec, Status $status ) {
		$this->fatalError( "{$spec['name']}: " . $status->getWikiText( false, false, 'en' ) );
	}
}

$maintClass = FarmUsers::class;
require_once RUN_MAINTENANCE_IF_MAIN;
"""
