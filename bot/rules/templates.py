"""The on-wiki templates that ship with the bot, as data.

The request, status and decision templates the clerk bot reads and writes live as wikitext files
in ``bot/templates/``, one file per wiki page. A file's name is the page title with ``/`` written
as ``__`` and spaces as ``_`` (``Template:ATS_request__doc.wikitext`` is
``Template:ATS request/doc``). This module maps files to titles and back, so the installer and
the integration tests put exactly these pages on a wiki; it does no I/O beyond reading the
package's own files.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

SUFFIX = ".wikitext"


@dataclass(frozen=True)
class WikiTemplate:
    """One wiki page to install: its title and its wikitext as MediaWiki would store it."""

    title: str
    text: str


def title_from_filename(name: str) -> str:
    """The page title a bundled file is installed as: ``__`` → ``/``, ``_`` → space."""
    if not name.endswith(SUFFIX):
        raise ValueError(f"not a {SUFFIX} file: {name!r}")
    return name.removesuffix(SUFFIX).replace("__", "/").replace("_", " ")


def filename_from_title(title: str) -> str:
    """The file name that holds the page ``title`` (the inverse of `title_from_filename`)."""
    return title.replace("/", "__").replace(" ", "_") + SUFFIX


def bundled_templates() -> list[WikiTemplate]:
    """Every bundled page, sorted by title.

    Trailing whitespace is dropped, as MediaWiki does on save: a newline left at the end of a
    file would otherwise follow every inline transclusion, and the text would never compare equal
    to the installed page.
    """
    folder = resources.files("bot") / "templates"
    pages = [
        WikiTemplate(
            title=title_from_filename(entry.name),
            text=entry.read_text(encoding="utf-8").rstrip(),
        )
        for entry in folder.iterdir()
        if entry.is_file() and entry.name.endswith(SUFFIX)
    ]
    return sorted(pages, key=lambda page: page.title)
