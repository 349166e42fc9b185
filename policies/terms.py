"""The terms of use as data: the bundled `terms.md` and its version.

`load_terms` returns the current terms with their version (the `version:` line at the
top of `terms.md`); a requester must have accepted exactly that version, so changing
the terms means changing that line, and everyone is asked to accept again.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from policies.eligibility import PolicyError


@dataclass(frozen=True)
class Terms:
    version: str
    text: str  # Markdown, without the version line


def parse_terms(text: str) -> Terms:
    first, _, rest = text.lstrip().partition("\n")
    label, sep, version = first.partition(":")
    if not sep or label.strip().lower() != "version" or not version.strip():
        raise PolicyError("the terms must start with a `version: …` line")
    return Terms(version.strip(), rest.strip() + "\n")


def load_terms() -> Terms:
    return parse_terms(resources.files(__package__).joinpath("terms.md").read_text("utf-8"))
