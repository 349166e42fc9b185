"""The bot's reply messages: MediaWiki's message format, read from `i18n/*.json`.

The messages (keys `ats-bot-*`) live in the project's `i18n/` folder beside the
bridge's, one JSON file per language in the banana format that translatewiki.net
reads, documented in `i18n/qqq.json`. This module owns loading them, choosing the
language a request is answered in, and rendering a message with
`policies.message_format.render` (`$1`… parameters, `{{PLURAL:$1|…}}` by the
language's CLDR plural rules, and `{{GENDER:$1|…}}`, which takes the neutral form
because the bot does not look up a user's gender). A key a translation lacks falls
back to English, as MediaWiki does.

Callers name parameters (`Catalog.text("reply", "invalid", mention=…, problems=…)`);
`policies.message_parameters` gives each message's `$n` order (one table for the bot
and the bridge), so the message files stay in MediaWiki's positional form.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from babel import Locale, UnknownLocaleError

from policies import message_files
from policies.message_format import render
from policies.message_parameters import PARAMETERS

DEFAULT_LANGUAGE = "en"
PREFIX = "ats-bot-"
I18N_DIR = message_files.I18N_DIR


def message_key(section: str, key: str) -> str:
    return f"{PREFIX}{section}-{key}".replace("_", "-")


class Catalog:
    """The messages of one language, for one request.

    `Catalog(requested, content)` answers in `requested` when the bot has its
    messages (or those of its base language: `de-at` → `de`), otherwise in the wiki's
    content language, otherwise in English; `fell_back` tells whether the request's
    own language could not be used.
    """

    def __init__(self, lang: str = DEFAULT_LANGUAGE, content_lang: str = DEFAULT_LANGUAGE) -> None:
        self.requested = (lang or "").strip().lower()
        chosen = resolve(self.requested) or resolve(content_lang) or DEFAULT_LANGUAGE
        self.lang = chosen
        self.fell_back = bool(self.requested) and resolve(self.requested) is None
        self._messages = _load(self.lang)
        self._fallback = _load(DEFAULT_LANGUAGE)

    def text(self, section: str, key: str, **args: Any) -> str:
        name = f"{section}-{key}".replace("_", "-")
        full = PREFIX + name
        template = self._messages.get(full)
        if template is None:
            template = self._fallback[full]
        params = [args[p] for p in PARAMETERS.get(full, ())]
        return render(template, params, self.lang)

    def language_name(self, code: str) -> str | None:
        """`code`'s name in this catalog's language, or None for no language Babel knows."""
        if not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})*", code):
            return None
        try:
            return Locale.parse(code, sep="-").get_display_name(self.lang)
        except (UnknownLocaleError, ValueError):
            return None


def resolve(lang: str) -> str | None:
    """The language the bot can answer `lang` in: itself, or its base language."""
    lang = (lang or "").strip().lower()
    available = available_languages()
    if lang in available:
        return lang
    base = lang.split("-")[0]
    return base if base in available else None


@cache
def available_languages() -> frozenset[str]:
    """The languages whose file holds the bot's messages (`qqq` documents, never speaks)."""
    found = set()
    for path in I18N_DIR.glob("*.json"):
        if path.stem != "qqq" and any(k.startswith(PREFIX) for k in _load(path.stem)):
            found.add(path.stem)
    return frozenset(found)


@cache
def _load(lang: str) -> dict[str, str]:
    data = json.loads((I18N_DIR / f"{lang}.json").read_text("utf-8"))
    return {k: v for k, v in data.items() if k.startswith(PREFIX)}
