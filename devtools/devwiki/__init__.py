"""A throwaway local MediaWiki for tests, demos and development: ``DevWiki``.

``php`` runs MediaWiki's scripts, ``local`` knows the wiki's folder and addresses,
``install`` installs it, ``server`` serves it, ``history`` and ``seed`` give it users with
pasts, ``client`` drives it over HTTP, ``wiki`` puts them together.
"""

from devtools.devwiki.local import BOT_PASSWORD_ALPHABET
from devtools.devwiki.php import MEDIAWIKI_DIR, DevWikiError
from devtools.devwiki.seed import KILL_SWITCH_PAGE, SeedUser
from devtools.devwiki.wiki import DevWiki

__all__ = [
    "BOT_PASSWORD_ALPHABET",
    "KILL_SWITCH_PAGE",
    "MEDIAWIKI_DIR",
    "DevWiki",
    "DevWikiError",
    "SeedUser",
]
