"""What the fork server of `tests.forked_cli` imports before it forks: the command line
and what its commands import, pywikibot the way the bot sets it up (no user
configuration read, a folder of its own), so each forked command finds them in memory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def _preload() -> None:
    saved = {key: os.environ.get(key) for key in ("PYWIKIBOT_DIR", "PYWIKIBOT_NO_USER_CONFIG")}
    # A folder for pywikibot's import only, removed once it is done (not at exit: a fork
    # server ended by a signal would leave it): each command that opens a wiki gives
    # pywikibot a folder of its own (`bot.wiki.site`).
    folder = Path(tempfile.mkdtemp(prefix="ats-cli-preload-"))
    (folder / "user-config.py").write_text("# unused: pywikibot is configured in code.\n")
    os.environ["PYWIKIBOT_DIR"] = str(folder)
    os.environ["PYWIKIBOT_NO_USER_CONFIG"] = "2"
    try:
        import ats.cli

        ats.cli.build_parser()  # imports every command group's module
        import pywikibot  # noqa: F401
        import pywikibot.data.api  # noqa: F401

        import bot.clerk  # noqa: F401
        import bot.watch  # noqa: F401
        import bridge  # noqa: F401
        import provisioning.worker  # noqa: F401
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_preload()
