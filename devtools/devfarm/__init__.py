"""A throwaway farm of two local MediaWikis joined by the real CentralAuth: ``DevFarm``.

``personas`` holds its wikis and global accounts as data, ``extension`` finds CentralAuth,
``settings`` writes what MediaWiki reads, ``central`` works on the central database and the
stewards' actions, ``farm`` puts them together.
"""

from devtools.devfarm.central import STEWARD, DevFarmError
from devtools.devfarm.extension import (
    centralauth_dir,
    default_centralauth_dir,
    missing_centralauth_reason,
)
from devtools.devfarm.farm import DevFarm
from devtools.devfarm.member import FarmWiki
from devtools.devfarm.personas import HOME, META, PERSONAS, WIKIS, GlobalUserSpec

__all__ = [
    "HOME",
    "META",
    "PERSONAS",
    "STEWARD",
    "WIKIS",
    "DevFarm",
    "DevFarmError",
    "FarmWiki",
    "GlobalUserSpec",
    "centralauth_dir",
    "default_centralauth_dir",
    "missing_centralauth_reason",
]
