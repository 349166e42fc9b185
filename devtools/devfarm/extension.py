"""Where the CentralAuth extension the farm loads is found, and the line that says where it
was looked for when it is not there.  The extension is loaded where it lies, never copied.
"""

from __future__ import annotations

from pathlib import Path

from devtools.shared import SharedExtension

CENTRALAUTH = SharedExtension(
    "ATS_CENTRALAUTH_DIR",
    "mediawiki-centralauth",
    ("CentralAuth/extension.json",),
    "the CentralAuth extension",
)


def centralauth_dir() -> Path | None:
    """The CentralAuth extension to load: ``$ATS_CENTRALAUTH_DIR`` if set, else
    ``../shared/mediawiki-centralauth`` beside the project checkout; None if it is not there.

    The folder holds ``CentralAuth/extension.json``.
    """
    return CENTRALAUTH.find()


def missing_centralauth_reason() -> str:
    """One line saying where the extension was looked for (when ``centralauth_dir()`` is
    None)."""
    return CENTRALAUTH.missing()


def default_centralauth_dir() -> Path:
    """Where the extension is looked for without ``$ATS_CENTRALAUTH_DIR``."""
    return CENTRALAUTH.default()
