"""One wiki of a farm: ``FarmWiki``, a ``DevWiki`` in ``<farm root>/<dbname>`` whose SQLite
files live in the farm's shared ``data/``, whose settings load CentralAuth and whose accounts
are the farm's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from devtools.devfarm.central import DevFarmError
from devtools.devfarm.personas import SITE_NAMES
from devtools.devfarm.settings import farm_settings
from devtools.devwiki.local import LocalWiki
from devtools.devwiki.php import MEDIAWIKI_DIR
from devtools.devwiki.seed import SeedUser
from devtools.devwiki.wiki import DevWiki


class Farm(Protocol):
    """What a wiki asks of its farm (``devtools.devfarm.farm.DevFarm``)."""

    extension_dir: Path

    @property
    def wikis(self) -> Mapping[str, LocalWiki]: ...

    def seed(self) -> dict[str, SeedUser]: ...


@dataclass
class FarmWiki(DevWiki):
    """One wiki of a ``DevFarm``: a ``DevWiki`` in ``<farm root>/<dbname>`` whose SQLite files
    live in the farm's shared ``data/`` and whose settings load CentralAuth."""

    farm: Farm | None = field(default=None, repr=False, compare=False)

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
        return farm_settings(
            self.db_name, {n: w.port for n, w in self.farm.wikis.items()}, self.farm.extension_dir
        )

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
