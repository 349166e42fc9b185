"""``DevWiki``: a throwaway local MediaWiki owned by the project, for tests, demos and
development, as one object: create or load it, start and stop it, seed it, drive it.

It installs Debian's MediaWiki 1.39 (``/usr/share/mediawiki``, never copied) into a private
directory with SQLite storage (``install``), serves it with PHP's built-in web server on
127.0.0.1 (``server``), and seeds it with requester accounts whose edit histories are real
revisions dated in the past, a chapter admin, a blocked user and the bot's account with a
BotPassword (``seed``).  Everything the wiki owns lives under ``root`` (``local``);
``devwiki.json`` holds the port, the generated passwords, the server's pid and the seed
state (mode 0600).  Maintenance scripts and the web server find the configuration through
an absolute ``MW_CONFIG_FILE``.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests

from devtools.devwiki import client, server
from devtools.devwiki.copying import copy_tree
from devtools.devwiki.install import create_bot, install_mediawiki
from devtools.devwiki.local import STATE_FILE, LocalWiki
from devtools.devwiki.oauthext import Consumer, enable_oauth, register_consumer
from devtools.devwiki.php import DevWikiError, check_prerequisites
from devtools.devwiki.seed import SeedUser
from devtools.devwiki.seed import seed as seed_wiki
from devtools.devwiki.state import update_state
from devtools.ports import free_port


@dataclass
class DevWiki(LocalWiki):
    """A local MediaWiki under ``root``, served on ``127.0.0.1:port``."""

    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, root: Path, port: int | None = None, *, oauth: bool = False) -> DevWiki:
        """Install a wiki into ``root`` (or load the one already there); with ``oauth``,
        the real OAuth extension is loaded on it (``oauthext``)."""
        root = Path(root).resolve()
        if (root / STATE_FILE).exists():
            wiki = cls.load(root)
        else:
            check_prerequisites()
            wiki = cls(root=root, port=port if port is not None else free_port())
            install_mediawiki(wiki)
            create_bot(wiki)
            wiki._save_initial_state()
        if oauth:
            enable_oauth(wiki)
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

    @classmethod
    def copy(cls, source: Path, root: Path) -> DevWiki:
        """A copy of the stopped wiki in ``source`` in the new folder ``root``, on a port
        of its own, with the same accounts, passwords and seeded histories (``copying``)."""
        built = cls.load(source)
        if built.running():
            raise DevWikiError(f"the wiki in {source} is running: stop it before copying it")
        port = free_port()
        while port == built.port:
            port = free_port()
        copy_tree(built.root, Path(root), [(built.server, f"http://127.0.0.1:{port}")])
        update_state(Path(root) / STATE_FILE, port=port, pid=None)
        return cls.load(root)

    def start(self, timeout: float = 30) -> None:
        """Serve the wiki with ``php -S``; return once api.php answers."""
        if not self.running():
            server.adopt_orphan(self)
        if self.running():
            server.wait_ready(self, self._proc, timeout)
            return
        self._proc = server.start_server(self)
        try:
            server.wait_ready(self, self._proc, timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill the server's process group; no php process of this wiki survives."""
        server.stop_server(self, self._proc)
        self._proc = None

    def running(self) -> bool:
        """Whether this wiki's php server process is alive."""
        return server.server_running(self)

    # ------------------------------------------------------------------ seeding
    def seed(self) -> dict[str, SeedUser]:
        """Create the requester accounts, their past histories, the block and the kill switch.

        Idempotent: the plan (passwords, the instant "now" the histories are relative to) is
        stored in devwiki.json before anything is written, and a finished seed is only read
        back.  An interrupted seed is resumed with the same plan: the import does not duplicate
        revisions (each carries its sha1), and accounts and the block are created only once.
        """
        return seed_wiki(self)

    # ------------------------------------------------------------------ OAuth consumers
    def register_consumer(
        self, *, version: int, callback_url: str, name: str, owner: str | None = None
    ) -> Consumer:
        """An approved identity-only OAuth consumer (the wiki must have been created with
        ``oauth=True``)."""
        return register_consumer(
            self, version=version, callback_url=callback_url, name=name, owner=owner
        )

    # ------------------------------------------------------------------ driving the wiki
    def api_as(self, user: str) -> requests.Session:
        """An HTTP session logged in to the API as the seeded ``user`` (clientlogin)."""
        password = self.seed()[user].password
        return client.login(self.api_url, user, password, return_url=self.server)

    def rollback_as(self, user: str, title: str, last_editor: str) -> int:
        """Roll back ``last_editor``'s latest edits to ``title`` as ``user`` (a sysop);
        returns the new revision id."""
        return client.rollback(self.api_as(user), self.api_url, title, last_editor)

    def undo_as(self, user: str, title: str, undo: int, undoafter: int | None = None) -> int:
        """Undo revision ``undo`` of ``title`` (or, with ``undoafter``, every revision after
        ``undoafter`` up to ``undo``) as ``user``; returns the new revision id."""
        return client.undo(self.api_as(user), self.api_url, title, undo, undoafter)

    def page_text(self, title: str) -> str:
        """The current wikitext of ``title`` ("" if the page does not exist), over HTTP."""
        return client.page_text(self.api_url, title)

    # ------------------------------------------------------------------ counting requests
    def api_requests_since(self, offset: int) -> int:
        """How many api.php requests the server logged after byte ``offset`` of the log."""
        return client.api_requests_in_server_log(self.log_path, offset)

    def api_calls_since(self, offset: int) -> list[str]:
        """The API requests MediaWiki logged after byte ``offset`` of ``api_log_path``, one
        line each ("API POST ClerkBot 127.0.0.1 T=5ms action=query meta=globaluserinfo …")."""
        return client.api_calls_in_api_log(self.api_log_path, offset)

    def api_log_size(self) -> int:
        """The current size of ``api_log_path`` (an offset for ``api_calls_since``)."""
        return client.file_size(self.api_log_path)

    def log_size(self) -> int:
        """The current size of the server log in bytes (an offset for api_requests_since)."""
        return client.file_size(self.log_path)
