"""Where the message files are: `i18n/*.json`, MediaWiki's format, one file per
language (the bot's `ats-bot-*` replies, the bridge's `ats-bridge-*` pages and the
rules' words the bridge shows, such as `ats-tool-*` and `ats-outflow-*`).

In a checkout (and an editable install) they are the checkout's `i18n/` folder, where
translatewiki.net finds them; a wheel carries a copy under its data prefix,
`share/american-toolserver/i18n` (pyproject's `data-files`), found through
`sys.prefix` when there is no checkout beside the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

CHECKOUT_I18N = Path(__file__).resolve().parent.parent / "i18n"
INSTALLED_I18N = Path(sys.prefix) / "share" / "american-toolserver" / "i18n"


def i18n_dir() -> Path:
    """The folder of message files: the checkout's, else the installed copy."""
    if (CHECKOUT_I18N / "en.json").is_file():
        return CHECKOUT_I18N
    return INSTALLED_I18N


I18N_DIR = i18n_dir()
