"""Message catalogs for the bot's on-wiki replies.

English is bundled in `messages/en.toml`; a translation is another file with the
same keys, and any key it lacks falls back to English, so languages can be added
without touching code. `Catalog.text(section, key, **args)` formats one message.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

DEFAULT_LANGUAGE = "en"


class Catalog:
    def __init__(self, lang: str = DEFAULT_LANGUAGE) -> None:
        self.lang = lang if lang in available_languages() else DEFAULT_LANGUAGE
        self._messages = _load(self.lang)
        self._fallback = _load(DEFAULT_LANGUAGE)

    def text(self, section: str, key: str, **args: Any) -> str:
        template = self._messages.get(section, {}).get(key)
        if template is None:
            template = self._fallback[section][key]
        return template.format(**args)


@cache
def available_languages() -> frozenset[str]:
    folder = resources.files(__package__).joinpath("messages")
    return frozenset(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


@cache
def _load(lang: str) -> dict[str, dict[str, str]]:
    path = resources.files(__package__).joinpath("messages", f"{lang}.toml")
    return tomllib.loads(path.read_text("utf-8"))
