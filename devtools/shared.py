"""The real Wikimedia extensions the development tools load (CentralAuth for the farm,
OAuth for a dev wiki): found in an environment variable's folder, else in
``../shared/<folder>`` beside the project checkout, and loaded where they lie, never
copied. When one is missing, `missing()` is the one line saying where it was looked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SharedExtension:
    variable: str  # the environment variable naming the folder, e.g. ATS_OAUTH_DIR
    folder: str  # its name under ../shared beside the checkout
    marks: tuple[str, ...]  # files the folder must hold, relative to it
    name: str  # as the missing line names it, e.g. "the OAuth extension"

    def default(self) -> Path:
        """Where the extension is looked for without the environment variable."""
        return CHECKOUT.parent / "shared" / self.folder

    def find(self) -> Path | None:
        """The folder, resolved; None if it does not hold every mark."""
        configured = os.environ.get(self.variable)
        folder = Path(configured) if configured else self.default()
        if all((folder / mark).is_file() for mark in self.marks):
            return folder.resolve()
        return None

    def missing(self) -> str:
        """One line saying where the extension was looked for (when `find()` is None)."""
        configured = os.environ.get(self.variable)
        where = (
            f"{configured} ({self.variable})"
            if configured
            else f"{self.default()} (or set {self.variable})"
        )
        return f"{self.name} ({' and '.join(self.marks)}) is not in {where}"
