"""Fixtures for tests that drive a real local MediaWiki (see devtools.devwiki)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

# The development tools (the local wiki, the farm, the stand-in OAuth provider),
# re-exported so that test modules may take them from this conftest.
from devtools.devfarm import (  # noqa: F401 - re-exported to the test modules
    META,
    PERSONAS,
    STEWARD,
    DevFarm,
    DevFarmError,
    FarmWiki,
    GlobalUserSpec,
    centralauth_dir,
    default_centralauth_dir,
    missing_centralauth_reason,
)
from devtools.devoauth import DevOAuth
from devtools.devwiki import (  # noqa: F401 - re-exported to the test modules
    BOT_PASSWORD_ALPHABET,
    KILL_SWITCH_PAGE,
    MEDIAWIKI_DIR,
    DevWiki,
    DevWikiError,
    SeedUser,
)
from devtools.devwiki.oauthext import missing_oauth_reason, oauth_dir
from membership.store import Store
from tests import forked_cli
from tests.builders import request_section
from tests.integration.built import built_once, shared_folder
from tests.integration.mariadb import Server as MariaDB
from tests.integration.mariadb import start_server
from tests.integration.slapd import Slapd

_HERE = Path(__file__).parent.resolve()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration as ``integration``."""
    for item in items:
        if _HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


def require_mediawiki() -> None:
    """Fail (never skip) when the local MediaWiki cannot be run on this machine."""
    if shutil.which("php") is None:
        pytest.fail(
            "php is not installed: the integration tests need Debian's mediawiki, php-cli, "
            "php-sqlite3, php-intl, php-mbstring and php-xml packages (see LOCALWIKI.md)",
            pytrace=False,
        )
    if not (MEDIAWIKI_DIR / "maintenance" / "install.php").exists():
        pytest.fail(f"MediaWiki is not installed at {MEDIAWIKI_DIR}", pytrace=False)


@pytest.fixture(scope="session")
def devwiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevWiki]:
    """A seeded local wiki, served for the whole session and stopped at its end: this
    worker's copy of the run's one build."""
    require_mediawiki()
    yield from _served_copy(tmp_path_factory, "wiki")


def _built(tmp_path_factory: pytest.TempPathFactory, kind: str) -> Path:
    """The run's one build of `kind` (tests/integration/built.py), stopped, to copy."""
    return built_once(shared_folder(tmp_path_factory.getbasetemp()), kind)


def _served_copy(tmp_path_factory: pytest.TempPathFactory, kind: str) -> Iterator[DevWiki]:
    """This worker's copy of the run's wiki of `kind`, served until the session ends."""
    wiki = DevWiki.copy(_built(tmp_path_factory, kind), tmp_path_factory.mktemp(kind))
    try:
        wiki.start()
        yield wiki
    finally:
        wiki.stop()


@pytest.fixture
def demo_folder(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for `ats demo --dir` holding a stopped copy of the run's seeded wiki where
    the demo keeps its own (`wiki/`), so the demo starts it instead of building one: what
    the demo does with a wiki is the same. `test_demo_shell.py` lets the demo build its
    own."""
    require_mediawiki()
    DevWiki.copy(_built(tmp_path_factory, "wiki"), tmp_path / "wiki")
    return tmp_path


@pytest.fixture(scope="session")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevFarm]:
    """metawiki and enwiki joined by the real CentralAuth (see devtools.devfarm), seeded, served
    for the whole session and stopped at its end.  Skipped where the extension is not
    beside the checkout, unless ATS_REQUIRE_CENTRALAUTH=1 (CI), which makes that a failure."""
    require_mediawiki()
    if centralauth_dir() is None:
        reason = missing_centralauth_reason()
        if os.environ.get("ATS_REQUIRE_CENTRALAUTH") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    built = DevFarm.copy(_built(tmp_path_factory, "farm"), tmp_path_factory.mktemp("farm"))
    try:
        built.start()
        yield built
    finally:
        built.stop()


@pytest.fixture(scope="session")
def realoauth_wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevWiki]:
    """A seeded local wiki that loads the real OAuth extension, served for the session.
    Skipped where the extension is not beside the checkout, unless ATS_REQUIRE_OAUTH=1 (CI),
    which makes that a failure."""
    require_mediawiki()
    if oauth_dir() is None:
        reason = missing_oauth_reason()
        if os.environ.get("ATS_REQUIRE_OAUTH") == "1":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    yield from _served_copy(tmp_path_factory, "oauthwiki")


@pytest.fixture
def realoauth(realoauth_wiki: DevWiki, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real extension (see tests/integration/realoauth.py) with an OAuth 2.0 and an OAuth
    1.0a identity-only consumer registered for ``OAUTH_CALLBACK``, in ``.consumers``."""
    from tests.integration.realoauth import RealOAuth

    # The local wiki speaks plain http: let oauthlib accept that, for this test only.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    real = RealOAuth(realoauth_wiki, OAUTH_CALLBACK)
    real.consumers = {version: real.consumer(version) for version in (2, 1)}
    return real


@pytest.fixture(scope="session")
def seed_users(devwiki: DevWiki) -> dict[str, SeedUser]:
    """The seeded accounts (seed() is cheap once done)."""
    return devwiki.seed()


class WikiBot:
    """The bot as a user runs it: a config for one request page, the real CLI, the real wiki.

    Each test gets its own request page and store, so tests share the session's wiki
    without seeing each other's requests.
    """

    def __init__(self, wiki: DevWiki, root: Path, page: str) -> None:
        self.wiki = wiki
        self.root = root
        self.page = page
        self.configure()
        self.env = {**os.environ, "ATS_BOT_PASSWORD": wiki.bot_password}
        self.env.pop("ATS_KILL_AT", None)
        self.env.pop("PYWIKIBOT_DIR", None)

    def configure(self, wiki_settings: str = "", extra: str = "") -> None:
        """(Re)write the bot's config, e.g. with `archive_after_days = 0`; `extra` is
        appended as whole sections (e.g. `[provisioning]`)."""
        from devtools.sample import write_config

        self.config = write_config(
            self.wiki,
            self.root,
            request_page=self.page,
            wiki_settings=wiki_settings,
            extra=extra,
        )

    def append(self, user: str, heading: str, line: str) -> None:
        """Add `line` at the end of the section `heading`, as a real edit by `user`."""
        text = self.text()
        start = text.index(f"== {heading} ==")
        end = text.find("\n== ", start + 1)
        end = len(text.rstrip("\n")) if end == -1 else end
        body = text[start:end].rstrip("\n")
        text = text[:start] + body + "\n" + line + text[start + len(body) :]
        self.wiki.edit_as(user, self.page, text, f"/* {heading} */ comment")

    def run(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = forked_cli.run(
            ["--config", str(self.config), *args], env={**self.env, **(env or {})}, timeout=180
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"ats {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def cycle(self, *extra: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run("bot", "run", "--once", *extra, **kwargs)

    def text(self) -> str:
        return self.wiki.page_text(self.page)

    def revisions(self) -> list[dict[str, Any]]:
        response = requests.get(
            self.wiki.api_url,
            params={
                "action": "query",
                "prop": "revisions",
                "titles": self.page,
                "rvlimit": "max",
                "rvprop": "ids|user|comment",
                "format": "json",
                "formatversion": 2,
            },
            timeout=30,
        )
        page = response.json()["query"]["pages"][0]
        return page.get("revisions", [])

    def file(self, user: str, heading: str, body: str | None = None) -> None:
        """Append a request section as a real edit by `user` (`body`: the section's text,
        by default an account request, `tests.builders.request_wikitext()`)."""
        current = self.text()
        text = (current.rstrip("\n") + "\n\n" if current else "") + request_section(heading, body)
        self.wiki.edit_as(user, self.page, text, f"/* {heading} */ new section")

    def store(self) -> Store:
        return Store(self.root / "ats.sqlite")


@pytest.fixture
def wikibot(devwiki: DevWiki, tmp_path: Path, request: pytest.FixtureRequest) -> WikiBot:
    page = "Toolserver/Requests/" + re.sub(r"[^A-Za-z0-9_ -]", "_", request.node.name)
    devwiki.edit_as(devwiki.admin_user, page, "Requests for accounts.\n", "new request page")
    return WikiBot(devwiki, tmp_path, page)


@pytest.fixture
def bridge_app(wikibot: WikiBot, bridge_secrets: None) -> Any:
    """The bridge (a Flask app, for its test client) configured as `ats bridge serve`
    would be from this test's config: the real wiki, this test's store and admins."""
    from ats.commands.bridge import bridge_settings
    from ats.config import load_config
    from bridge import create_app

    settings = bridge_settings(load_config(wikibot.config))
    settings.update(consumer_key="a-test-consumer", secure_cookies=False, testing=True)
    return create_app(settings)


OAUTH_CALLBACK = "http://127.0.0.1:5000/oauth/callback"


@pytest.fixture
def devoauth(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A stand-in MediaWiki OAuth provider on 127.0.0.1 (see devtools.devoauth), one per test."""
    # It speaks plain http: let oauthlib accept that, for this test only.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with DevOAuth(callback_url=OAUTH_CALLBACK) as provider:
        yield provider


@pytest.fixture
def bridge_server(wikibot: WikiBot) -> Iterator[Callable[..., Any]]:
    """Start `ats bridge serve` for this test's wiki page and store (see bridge_server.py):
    `bridge_server(oauth_version=2, admins=("ChapterAdmin",))` returns the running
    `BridgeServer` (``provider=`` another OAuth provider than the stand-in, ``oauth_secret=``
    a secret other than the consumer's); stopped at the end."""
    from tests.integration.bridge_server import BridgeServer

    started: list[BridgeServer] = []

    def start(
        *, oauth_version: int = 2, admins: tuple[str, ...] = ("ChapterAdmin",), **more: Any
    ) -> BridgeServer:
        server = BridgeServer(wikibot, oauth_version=oauth_version, admins=admins, **more)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--headless",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by playwright (never `playwright install`: it downloads a
    browser of its own). Module-scoped: playwright's sync API holds an event loop open."""
    if not CHROMIUM.exists():
        pytest.fail(
            "chromium is not installed: the browser tests need Debian's chromium package "
            "(scripts/setup installs it)",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def slapd() -> Iterator[Slapd]:
    """A real slapd on 127.0.0.1 with the project's schema; fails (never skips) without it."""
    try:
        server = Slapd.start()
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    """A real MariaDB server (devtools.devmariadb) shared by this test process's tests,
    each with users of its own (tests/integration/mariadb.py)."""
    yield from start_server()
