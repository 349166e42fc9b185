"""A throwaway farm of two local MediaWikis joined by the real CentralAuth, as on Meta-Wiki.

``DevFarm`` builds, serves and seeds two wikis on 127.0.0.1: ``metawiki`` (``farm.meta``, the
request wiki, with the bot's BotPassword and the kill-switch page) and ``enwiki``
(``farm.home``, where most personas edit).  Each is a ``FarmWiki``, a ``DevWiki`` with its own
``php -S``, ``conf/``, ``server.log`` and state file under ``root/<dbname>/``; both wikis'
SQLite files and CentralAuth's central database (``centralauth.sqlite``) share ``root/data``.
The extension is loaded where it lies (``centralauth_dir()``), never copied.  As on
Wikimedia's wikis, BotPasswords are global (kept in metawiki's table): the bot's one
BotPassword logs it in on both wikis.  ``devfarm.json`` (mode 0600) holds the ports, the
steward's and every seeded account's password and the seed plan, so create/start/seed are
idempotent and a farm killed half-way resumes.

Global accounts are made on metawiki (their home) and attached to enwiki; their edits are real
revisions in the past (one ``importDump.php`` per wiki for a whole batch of accounts), their
registration dates are set on each wiki's ``user`` table and in ``globaluser`` (the personas
are in ``devtools.devfarm.personas``, the central database in ``central``, the settings and
the batch script in ``settings``).

What ``meta=globaluserinfo`` answers about the hidden account (``hidden=lists``), checked by
tests/integration/test_devfarm.py: to an anonymous caller and to the bot alike, only
``{"missing": true}`` -- exactly what it says of a name nobody has -- because only a holder of
the global right ``centralauth-suppress`` (the farm's steward) sees a hidden account, and then
with ``"hidden": true``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from devtools.devfarm import central
from devtools.devfarm.central import STEWARD, DevFarmError
from devtools.devfarm.extension import centralauth_dir, missing_centralauth_reason
from devtools.devfarm.member import FarmWiki
from devtools.devfarm.personas import (
    BLOCKS,
    HIDDEN,
    HOME,
    LOCKED,
    META,
    PERSONAS,
    WIKIS,
    GlobalUserSpec,
)
from devtools.devfarm.settings import CENTRAL_DB, USERS_SCRIPT, run_users_script
from devtools.devwiki import client
from devtools.devwiki.copying import copy_tree
from devtools.devwiki.history import Persona, iso, mw_timestamp, parse_iso
from devtools.devwiki.install import create_bot, install_mediawiki
from devtools.devwiki.local import STATE_FILE as WIKI_STATE_FILE
from devtools.devwiki.local import random_password
from devtools.devwiki.php import DevWikiError, check_prerequisites
from devtools.devwiki.seed import KILL_SWITCH_PAGE, SeedUser
from devtools.devwiki.state import read_state, write_state
from devtools.ports import free_port

STATE_FILE = "devfarm.json"


@dataclass
class DevFarm:
    """metawiki and enwiki under ``root``, joined by CentralAuth."""

    root: Path
    meta: FarmWiki
    home: FarmWiki
    extension_dir: Path
    steward_password: str = field(default_factory=lambda: random_password(24), repr=False)

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
        check_prerequisites()
        root.mkdir(parents=True, exist_ok=True)
        if not state:
            meta_port = free_port()
            home_port = free_port()
            while home_port == meta_port:
                home_port = free_port()
            state = {
                "ports": {META: meta_port, HOME: home_port},
                "steward_password": random_password(24),
                "installed": False,
            }
            write_state(root / STATE_FILE, state)
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
    def copy(cls, source: Path, root: Path) -> DevFarm:
        """A copy of the stopped farm in ``source`` in the new folder ``root``, each wiki on
        a port of its own, with the same accounts and histories (``devwiki.copying``); the
        cookie names carry the new ports, so the copy's sessions stay apart from the
        original's."""
        built = cls.load(source)
        if any(wiki.running() for wiki in built.wikis.values()):
            raise DevFarmError(f"the farm in {source} is running: stop it before copying it")
        old = {name: wiki.port for name, wiki in built.wikis.items()}
        new: dict[str, int] = {}
        for name in WIKIS:
            port = free_port()
            while port in old.values() or port in new.values():
                port = free_port()
            new[name] = port
        replacements = [
            *((f"127.0.0.1:{old[name]}", f"127.0.0.1:{new[name]}") for name in WIKIS),
            # Cookie prefixes: settings.farm_settings.
            *((f"'{name}{old[name]}'", f"'{name}{new[name]}'") for name in WIKIS),
            (f"'centralauth{old[META]}_'", f"'centralauth{new[META]}_'"),
        ]
        root = Path(root).resolve()
        copy_tree(built.root, root, replacements)
        state = _read_json(root / STATE_FILE)
        state["ports"] = new
        write_state(root / STATE_FILE, state)
        for name in WIKIS:
            wiki_state = read_state(root / name / WIKI_STATE_FILE)
            wiki_state.update(port=new[name], pid=None)
            write_state(root / name / WIKI_STATE_FILE, wiki_state)
        return cls.load(root)

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
            plan = {"now": iso(datetime.now(UTC)), "done": False}
            self._update_state(seed=plan)
        now = parse_iso(plan["now"])
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
        now = parse_iso(self._state()["seed"]["now"])
        self._add(specs, now)
        users = self._seed_users()
        return {spec.name: users[spec.name] for spec in specs}

    def _add(self, specs: tuple[GlobalUserSpec, ...], now: datetime) -> None:
        state = self._state()
        accounts: dict[str, Any] = state.setdefault("accounts", {})
        for spec in specs:
            if spec.name not in accounts:
                accounts[spec.name] = {
                    "password": random_password(24),
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
        run_users_script(self.root / USERS_SCRIPT, self.meta, "create", batch)
        run_users_script(
            self.root / USERS_SCRIPT,
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
            # initEditCount.php counts revisions: give back the edits of every account (of
            # this batch or an earlier one) whose old edits were counted but not imported.
            wiki._set_edit_counts(
                {
                    user: account["edits"][name]
                    for user, account in accounts.items()
                    if account.get("counted_not_imported")
                }
            )
            wiki._set_registrations(
                {s.name: mw_timestamp(now - timedelta(days=s.age_days)) for s in specs}
            )
        central.set_registrations(
            self.central_db_path,
            {s.name: mw_timestamp(now - timedelta(days=s.age_days)) for s in specs},
        )
        self.meta.run_extension_maintenance("populateGlobalEditCount.php")

    def _import(self, wiki: FarmWiki, personas: tuple[Persona, ...], now: datetime) -> None:
        personas = tuple(p for p in personas if p.edits)
        if not personas:
            return
        wiki.import_history(personas, now)

    def _seed_users(self) -> dict[str, SeedUser]:
        state = self._state()
        now = parse_iso(state["seed"]["now"])
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
        try:
            return client.login(
                self.meta.api_url, STEWARD, self.steward_password, return_url=self.meta.server
            )
        except DevWikiError as exc:
            raise DevFarmError(f"{exc} (on {META})") from None

    def global_status(self, name: str) -> tuple[bool, int] | None:
        """(locked, hidden level) of ``name``'s global account, read from the central
        database; None if there is no such account."""
        return central.global_status(self.central_db_path, name)

    def _set_status(self, name: str, **params: str) -> None:
        current = self.global_status(name)
        if current is None:
            raise DevFarmError(f"no global account {name!r}")
        if central.already(current, params):
            return  # CentralAuth would answer that nothing changed
        central.set_account_status(self.steward_session(), self.meta.api_url, name, params)

    # ------------------------------------------------------------------ internals
    def _install(self) -> None:
        # Whatever an interrupted build left is thrown away: building again takes seconds.
        for folder in (self.meta.root, self.home.root, self.data_dir):
            shutil.rmtree(folder, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        # One after the other: both touch data/wikicache.sqlite.
        for wiki in self.wikis.values():
            install_mediawiki(wiki)
        central.create_tables(self.central_db_path, self.extension_dir)
        for wiki in self.wikis.values():
            wiki.run_extension_maintenance("migratePass0.php")
        self.meta.run_extension_maintenance(
            "migrateAccount.php", "--username", self.meta.admin_user, "--homewiki", META
        )
        create_bot(self.meta)
        run_users_script(
            self.root / USERS_SCRIPT,
            self.home,
            "attach",
            [{"name": self.meta.bot_user, "password": "", "sysop": False}],
        )
        run_users_script(
            self.root / USERS_SCRIPT,
            self.meta,
            "create",
            [{"name": STEWARD, "password": self.steward_password, "sysop": False}],
        )
        central.grant_steward(self.central_db_path)
        for wiki in self.wikis.values():
            wiki._save_initial_state()
        self._update_state(installed=True)

    def _state(self) -> dict[str, Any]:
        return _read_json(self.state_path)

    def _update_state(self, **changes: Any) -> None:
        state = self._state()
        state.update(changes)
        write_state(self.state_path, state)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return read_state(path)
    except (OSError, ValueError) as exc:
        raise DevFarmError(f"unreadable {path}: {exc}") from exc
