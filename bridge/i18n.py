"""The bridge's languages: its messages, the reader's language and `<html lang dir>`.

Messages live in MediaWiki's format in `i18n/*.json` (one file per language, `qqq.json`
documenting each), shared with the bot's replies; the bridge takes every key but the
bot's (`ats-bot-*`, wikitext): its own pages' `ats-bridge-*` and the rules' words
(`ats-tool-*`, `ats-outflow-*`, …, which membership's refusals carry). It formats them
with `toolforge-i18n` (`{{PLURAL:}}`, `[$1 text]`, language fallback with `lang`/`dir`
on any message shown in another language than the page, `?uselang=qqx` showing keys).
Every language file is checked when the app starts: known keys only, the English
parameters, no HTML beyond a few harmless elements.

The library asks meta.wikimedia.org for language data the first time it needs it; the
bridge never does: it fills the library's table from `bridge/languageinfo.json`, a
snapshot of MediaWiki's `meta=languageinfo` for the languages it ships and their kin.
The reader's language is `?uselang=`, then the one chosen on the bridge (kept in the
session), then the browser's `Accept-Language`, then English.

Most messages take no parameters, and a page shows hundreds of them: the text of such a
message and the language it was found in (the page's, a fallback's, English) are kept
per (language, key), bounded; only the `lang`/`dir` wrapping, which depends on where on
the page the message is, is decided each time, by the library. Messages with
parameters, `?uselang=qqx` and unknown keys (which the library warns about each time)
go to the library as they are.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast

import flask
import toolforge_i18n
from markupsafe import Markup
from toolforge_i18n import _language_info
from toolforge_i18n._translations import mw2py  # the library's own MediaWiki -> format step
from toolforge_i18n._translations_checks import check_all_translations
from werkzeug.wrappers.response import Response as WerkzeugResponse

from bridge import dates
from policies import message_files
from policies.message_parameters import PARAMETERS

I18N_DIR = message_files.I18N_DIR
LANGUAGE_INFO = Path(__file__).parent / "languageinfo.json"
BOT_PREFIX = "ats-bot-"  # the bot's replies: wikitext, not for the bridge
SESSION_KEY = "uselang"
# MediaWiki language codes: letters, digits and hyphens (`de`, `de-formal`, `es-419`).
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")


def for_the_bridge(key: str) -> bool:
    """Whether the bridge shows the message `key`: its own and the rules', not the bot's."""
    return key.startswith("ats-") and not key.startswith(BOT_PREFIX)


# The names of each message's parameters ($1, $2, ...), as the library wants them:
# one table with the bot's (policies.message_parameters).
VARIABLES: dict[str, Sequence[str]] = {
    key: list(names) for key, names in PARAMETERS.items() if for_the_bridge(key)
}

# The symbols the wiki's {{ATS status}} template puts before each state's name.
STATE_ICONS = {
    "received": "✉",
    "invalid": "⚠",
    "not-eligible": "✘",
    "awaiting-identity": "⏳",
    "awaiting-requester": "⏳",
    "awaiting-approval": "⏳",
    "approved": "✔",
    "provisioning": "⚙",
    "done": "✔",
    "on-hold": "✋",
    "declined": "✘",
    "withdrawn": "↩",
    "expired": "⌛",
    "failed": "✘",
}

# (language, key) pairs kept: every message of the bridge in a dozen languages.
MESSAGES_CACHED = 16384

# Harmless inline elements a translation may carry (the library allows abbr, kbd, q).
ALLOWED_HTML = {"abbr": {"title"}, "kbd": set(), "q": set(), "code": set(), "strong": set()}


def _unknown_gender(_user: Any) -> Literal["n"]:
    # No bridge message uses {{GENDER:}} yet; the library's default asks Meta-Wiki.
    return "n"


CONFIG = toolforge_i18n.TranslationsConfig(
    directory=str(I18N_DIR),
    variables=VARIABLES,
    allowed_html_elements=ALLOWED_HTML,
    get_gender=_unknown_gender,
)


def load_language_info() -> None:
    """Fill the library's language table from the shipped snapshot (never the network)."""
    info = json.loads(LANGUAGE_INFO.read_text("utf-8"))
    _language_info._language_info = info
    _language_info._by_bcp47 = {entry["bcp47"]: code for code, entry in info.items()}


def load_messages(
    directory: Path = I18N_DIR,
) -> tuple[dict[str, dict[str, str]], dict[str, str], dict[str, dict[str, str]]]:
    """The bridge's messages: (formatted per language, documentation, raw per language).

    Not the bot's `ats-bot-` keys: its replies in the same files are wikitext, not HTML.
    """
    import babel

    raw: dict[str, dict[str, str]] = {}
    documentation: dict[str, str] = {}
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text("utf-8"))
        ours = {k: v for k, v in data.items() if for_the_bridge(k)}
        if path.stem == "qqq":
            documentation = ours
        elif ours:  # a language with only the bot's replies is not offered on the bridge
            raw[path.stem] = ours
    translations = {
        language: {
            key: mw2py(text, babel.Locale.parse(language), VARIABLES.get(key, []))
            for key, text in messages.items()
        }
        for language, messages in raw.items()
    }
    return translations, documentation, raw


def _files_state(directory: Path) -> tuple[str, tuple[tuple[str, int], ...]]:
    """The message files as they are now (names and modification times)."""
    files = sorted(directory.glob("*.json"))
    return str(directory), tuple((path.name, path.stat().st_mtime_ns) for path in files)


@functools.lru_cache(maxsize=4)
def _checked_messages(
    state: tuple[str, tuple[tuple[str, int], ...]],
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The bridge's messages, loaded and checked once per state of the files: every app
    the process makes (the tests make hundreds) shares them; an edited file is read anew."""
    translations, documentation, _raw = load_messages(Path(state[0]))
    check_messages(translations, documentation)
    return translations, documentation


def check_messages(translations: dict[str, dict[str, str]], documentation: dict[str, str]) -> None:
    """Raise AssertionError when a language file has an unknown key or parameter or
    unsafe markup, or a message is undocumented (the library's own checks)."""
    check_all_translations(CONFIG, translations, documentation)


def interface_language(translations: Mapping[str, Mapping[str, str]]) -> str:
    """The reader's language: ?uselang=, the session's choice, Accept-Language, English."""
    for candidate in (flask.request.args.get("uselang"), flask.session.get(SESSION_KEY)):
        if candidate and (candidate == "qqx" or _has_messages(candidate, translations)):
            return candidate
    offered = [toolforge_i18n.lang_mw_to_bcp47(code) for code in translations]
    best = flask.request.accept_languages.best_match(offered, "en")
    return toolforge_i18n.lang_bcp47_to_mw(best)


def _has_messages(code: str, translations: Mapping[str, Mapping[str, str]]) -> bool:
    if not LANGUAGE_CODE.match(code):
        return False
    return any(c in translations for c in (code, *toolforge_i18n.lang_fallbacks(code)))


def languages(translations: Mapping[str, Mapping[str, str]]) -> list[tuple[str, str]]:
    """(code, autonym) of every language the bridge speaks, for the selector."""
    return sorted(
        ((code, toolforge_i18n.lang_autonym(code) or code) for code in translations),
        key=lambda pair: pair[0],
    )


class BridgeI18n(toolforge_i18n.ToolforgeI18n):
    """The library's Flask extension, fed the bridge's messages rather than importing a
    top-level `tool_translations_config` module."""

    def __init__(self, app: flask.Flask) -> None:
        load_language_info()
        self.config = CONFIG
        self.translations, self.documentation = _checked_messages(_files_state(I18N_DIR))
        self.interface_language_code = interface_language
        self._found = functools.lru_cache(maxsize=MESSAGES_CACHED)(self._find)
        # A formatter keeps state while it formats: one per thread and language.
        self._formatters = threading.local()
        self.init_app(app)
        app.add_template_global(self.message, name="message")  # in place of the library's
        app.register_blueprint(blueprint)
        app.add_template_filter(next_gate)
        dates.install(app)

        @app.context_processor
        def _language() -> dict[str, Any]:
            code = flask.g.interface_language_code
            return {
                "html_lang": toolforge_i18n.lang_mw_to_bcp47(code),
                "html_dir": toolforge_i18n.lang_dir(code),
                "interface_language": "qqx" if flask.g.qqx else code,
                "bridge_languages": languages(self.translations),
                # The words of a state, a request's type or a gate, looked up once per
                # page however many rows show them.
                "state_words": (state_words := Words("ats-bridge-state-")),
                "state_badges": StateBadges(state_words),
                "type_words": Words("ats-bridge-type-"),
                "gate_words": Words("ats-bridge-gate-"),
            }

    def message(self, key: str, **params: object) -> Markup:
        """The library's `message(key, **params)` in the reader's language: the text of a
        message looked up once per (language, key), its parameters put in by a formatter
        made once per (thread, language), not for every message as the library does."""
        g = flask.g._get_current_object()  # once: a page asks for dozens of messages
        if g.qqx:
            return toolforge_i18n.message(key, **params)
        found = self._found(g.interface_language_code, key)
        if found is None:
            return toolforge_i18n.message(key, **params)  # the library's warning and ⧼key⧽
        text, language = found
        if params:
            text = cast(Markup, self._formatter(language).format(text, **params))
        stack = g.html_language_codes
        if stack and stack[-1] == language:  # the library's own test, without its call
            return text
        return toolforge_i18n.add_lang_if_needed(text, language)

    def _formatter(self, language: str) -> toolforge_i18n.I18nFormatter:
        """This thread's formatter for `language`, as the library makes one."""
        made: dict[str, toolforge_i18n.I18nFormatter] = self._formatters.__dict__
        if language not in made:
            made[language] = toolforge_i18n.I18nFormatter(
                locale_identifier=self.config.language_code_to_babel(language),
                get_gender=self.config.get_gender,
            )
        return made[language]

    def _find(self, language: str, key: str) -> tuple[Markup, str] | None:
        """The message `key` and the language it is found in, looking where the library
        looks: `language`, its fallbacks, English."""
        for code in (language, *toolforge_i18n.lang_fallbacks(language), "en"):
            text = self.translations.get(code, {}).get(key)
            if text is not None:
                return Markup(text), code  # noqa: S704 - checked at start, as the library does
        return None


class Words(dict[str, Markup]):
    """The messages `prefix + name` of one page, each looked up when first shown."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def __missing__(self, name: str) -> Markup:
        self[name] = found = text(self.prefix + name)
        return found


class StateBadges(dict[str, Markup]):
    """A state's badge (its icon and words, styled by state) of one page, each made when
    first shown: a table of a hundred requests shows a handful of states."""

    def __init__(self, words: Words) -> None:
        super().__init__()
        self.words = words

    def __missing__(self, state: str) -> Markup:
        self[state] = badge = Markup(
            '<span class="ats-state ats-state--{}"><span aria-hidden="true">{}</span> {}</span>'
        ).format(state, STATE_ICONS.get(state, ""), self.words[state])
        return badge


def next_gate(report: Any) -> Any:
    """The gate whose next step the requester is told (`GateReport.next_gate`)."""
    return report.next_gate


def install(app: flask.Flask) -> BridgeI18n:
    return BridgeI18n(app)


def text(key: str, **params: object) -> Markup:
    """A message in the reader's language, for Python code (an error's description)."""
    extension: BridgeI18n = flask.current_app.extensions["toolforge_i18n"]
    return extension.message(key, **params)


@contextlib.contextmanager
def in_page_language() -> Iterator[None]:
    """Messages put into words inside are in the page's language, as inside base.html's
    `<html lang>`: for a part of a page rendered before the page around it (and kept:
    bridge/queue.py), whose messages must be tagged as they would be in place."""
    code = flask.g.interface_language_code
    toolforge_i18n.push_html_lang(code)
    try:
        yield
    finally:
        toolforge_i18n.pop_html_lang(code)


def flash_message(key: str, category: str, **params: str | int) -> None:
    """Flash a message by key: it is put into words when shown, in the reader's language
    of that moment (base.html formats `[key, params]`)."""
    flask.flash([key, params], category)  # type: ignore[arg-type]  # any JSON value is kept


blueprint = flask.Blueprint("language", __name__)


@blueprint.get("/language")
def choose() -> WerkzeugResponse:
    """Keep the reader's choice of language in the session, then go back. A GET, like
    MediaWiki's `?uselang=` links, so that showing the selector on every page opens no
    session for anonymous readers; choosing a language changes nothing but words."""
    extension = flask.current_app.extensions["toolforge_i18n"]
    code = flask.request.args.get("language", "")
    if code in extension.translations:
        flask.session[SESSION_KEY] = code
    back = flask.request.args.get("next", "/")
    if not back.startswith("/") or back.startswith("//"):
        back = "/"  # only a page of the bridge, never another site
    return flask.redirect(back, 303)
