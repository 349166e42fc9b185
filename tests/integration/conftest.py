"""Fixtures for tests that drive a real local MediaWiki (see ats.devwiki)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ats.devwiki import MEDIAWIKI_DIR, DevWiki, SeedUser

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
    """A seeded local wiki, served for the whole session and stopped at its end."""
    require_mediawiki()
    wiki = DevWiki.create(tmp_path_factory.mktemp("wiki"))
    try:
        wiki.start()
        wiki.seed()
        yield wiki
    finally:
        wiki.stop()


@pytest.fixture(scope="session")
def seed_users(devwiki: DevWiki) -> dict[str, SeedUser]:
    """The seeded accounts (seed() is cheap once done)."""
    return devwiki.seed()
