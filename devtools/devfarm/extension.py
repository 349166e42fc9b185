"""Where the CentralAuth extension the farm loads is found, and the line that says where it
was looked for when it is not there.  The extension is loaded where it lies, never copied.
"""

from __future__ import annotations

import os
from pathlib import Path


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
    checkout = Path(__file__).resolve().parents[2]
    return checkout.parent / "shared" / "mediawiki-centralauth"
