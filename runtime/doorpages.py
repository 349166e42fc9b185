"""The front door's own pages — a tool's "stopped" page, an unknown tool's 404, the bare
domain's index and the trouble page — in every language of the message files, and the
Caddy routes that answer each visitor in theirs (pure: JSON for runtime/frontdoor.py).

Words are MediaWiki messages, `ats-frontdoor-*` in `i18n/*.json` (documented in
qqq.json); a language is offered when its file has every one of them. A page is one
self-contained HTML body per language, rendered once when the configuration is made:
the Codex look of the bridge's pages in a small inline style (no request to the bridge),
`<html lang dir>` from the language (Babel knows Hebrew is right to left).

Choosing the language costs a few matches per page, never a tool's request: a route
(`language_route`) placed before the pages sets the variable `ats_lang` — English,
then the first language of the visitor's `Accept-Language` that has messages (in the
order the header lists them; q-values are not weighed, as browsers list languages by
preference anyway), then `?uselang=` as MediaWiki does (`de-at` is German: a code counts
by its first part). Each page (`localized`) is a subroute with one static response per
language chosen by `ats_lang`, English last.

What a page names that depends on the request (the tool, the host) is a Caddy
placeholder of a regular expression's capture, which only a tool name's characters can
fill; everything else is escaped, and the braces of the words are written as entities,
so no message can become a placeholder.
"""

from __future__ import annotations

import functools
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError

from policies import message_files
from policies.errors import Refusal
from policies.message_format import DEFAULT_LANGUAGE, render
from policies.message_parameters import PARAMETERS

PREFIX = "ats-frontdoor-"
LANGUAGE_VAR = "ats_lang"  # the variable the language route sets for the pages
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
_MARK = "\ue000{}\ue001"  # where a parameter goes, until the words are escaped
_MARKS = re.compile("\ue000(\\d+)\ue001")


class DoorPagesError(Refusal, ValueError):
    """The front door's messages cannot make its pages; says which file, in one line."""


class Raw(str):
    """A parameter written into the page as it is: a Caddy placeholder whose capture is
    a tool name's characters. Any other parameter is escaped."""


@dataclass(frozen=True)
class Language:
    code: str
    dir: str  # "ltr" or "rtl"
    autonym: str  # its own name, for the language links


@functools.lru_cache(maxsize=4)
def catalog(directory: Path = message_files.I18N_DIR) -> dict[str, dict[str, str]]:
    """The front door's messages by language: English first, then every language whose
    file has all of English's `ats-frontdoor-*` keys, by code. Only files named by a
    plain language code count (`de`, `he`): a variant's (`pt-br`) is not offered yet."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(directory.glob("*.json")):
        if path.stem == "qqq" or not _LANGUAGE_CODE.match(path.stem):
            continue
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as error:
            raise DoorPagesError(f"{path}: not a message file ({error})") from error
        ours = {key: text for key, text in data.items() if key.startswith(PREFIX)}
        if ours:
            found[path.stem] = ours
    english = found.get(DEFAULT_LANGUAGE)
    if not english:
        raise DoorPagesError(f"{directory}/en.json has no {PREFIX}* messages")
    complete = {lang: words for lang, words in found.items() if set(english) <= set(words)}
    return {DEFAULT_LANGUAGE: english, **{k: v for k, v in complete.items() if k != "en"}}


@functools.cache
def language(code: str) -> Language:
    try:
        locale = Locale.parse(code)
    except (ValueError, UnknownLocaleError) as error:
        raise DoorPagesError(f"{code}.json: Babel knows no language {code!r}") from error
    rtl = locale.character_order == "right-to-left"
    return Language(code, "rtl" if rtl else "ltr", locale.get_display_name(code) or code)


def languages() -> list[Language]:
    """The languages the pages are in, English first."""
    return [language(code) for code in catalog()]


# -- the words -----------------------------------------------------------------------


def _shaped(lang: str, name: str, params: tuple[str, ...]) -> str:
    key = PREFIX + name
    expected = len(PARAMETERS.get(key, ()))
    if len(params) != expected:
        raise DoorPagesError(f"{key} takes {expected} parameters, not {len(params)}")
    words = catalog()
    template = words[lang].get(key) or words[DEFAULT_LANGUAGE][key]
    return render(template, [_MARK.format(n) for n in range(len(params))], lang)


def _braces(text: str) -> str:
    return text.replace("{", "&#123;").replace("}", "&#125;")


def words_html(lang: str, name: str, *params: str) -> str:
    """A message as HTML: its words escaped but for `<code>`, each parameter isolated in
    `<bdi>` (a name or an address keeps its direction in a right-to-left sentence)."""
    text = html.escape(_shaped(lang, name, params), quote=False)
    text = _braces(text.replace("&lt;code&gt;", "<code>").replace("&lt;/code&gt;", "</code>"))
    return _MARKS.sub(lambda m: f"<bdi>{_param(params[int(m.group(1))])}</bdi>", text)


def words_text(lang: str, name: str, *params: str) -> str:
    """A message as the text of a `<title>`: no markup at all."""
    text = re.sub(r"</?code>", "", _shaped(lang, name, params))
    return _MARKS.sub(lambda m: _param(params[int(m.group(1))]), _braces(html.escape(text)))


def _param(value: str) -> str:
    return value if isinstance(value, Raw) else _braces(html.escape(value))


# -- the pages -----------------------------------------------------------------------

# Codex's tokens, as the bridge's own stylesheet (bridge/static/bridge.css) uses them:
# base text #202122, subtle #54595d, borders #a2a9b1, progressive #36c, a header band
# on #f8f9fa, messages as Codex's (warning #a66200 on #fef6e7, error #d33 on #fee7e6).
# Sides are logical properties, so right-to-left pages mirror; long names wrap.
STYLE = (
    "*,*::before,*::after{box-sizing:border-box}"
    "body{margin:0;font-family:system-ui,-apple-system,'Segoe UI',Roboto,Lato,Helvetica,"
    "Arial,sans-serif;color:#202122;background:#fff;line-height:1.5;overflow-wrap:anywhere}"
    ".ats-header{padding:.5rem 1rem;border-block-end:1px solid #a2a9b1;background:#f8f9fa}"
    ".ats-brand{font-weight:bold;color:#202122;text-decoration:none}"
    "main,footer{max-width:60rem;margin:0 auto;padding:1rem}"
    "h1{font-size:2rem;line-height:1.25;margin:1rem 0}"
    "a{color:#36c}"
    ".cdx-message{border:1px solid #72777d;border-radius:2px;padding:12px;margin:1rem 0;"
    "background:#eaecf0}"
    ".cdx-message p{margin:0}"
    ".cdx-message--warning{border-color:#a66200;background:#fef6e7}"
    ".cdx-message--error{border-color:#d33;background:#fee7e6}"
    "code{font-family:monospace,monospace;background:#eaecf0;border-radius:2px;"
    "padding:0 .25em;direction:ltr;unicode-bidi:isolate}"
    "footer{color:#54595d;font-size:.875rem;border-block-start:1px solid #c8ccd1}"
    "footer ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}"
)


@dataclass(frozen=True)
class Page:
    title: tuple[str, ...]  # the message's name and its parameters
    said: tuple[str, ...]  # the sentence in the message box
    kind: str = "error"  # the box: Codex's "warning", "error" or "notice"
    more: tuple[tuple[str, ...], ...] = ()  # paragraphs after it


def document(lang: str, page: Page, domain: str) -> str:
    """One page in one language, a whole HTML document."""
    info = language(lang)
    home = html.escape(f"https://{domain}/")
    box = "cdx-message" if page.kind == "notice" else f"cdx-message cdx-message--{page.kind}"
    paragraphs = "".join(f"<p>{words_html(lang, *each)}</p>\n" for each in page.more)
    links = "".join(_language_link(other, lang) for other in languages())
    return (
        "<!doctype html>\n"
        f'<html lang="{info.code}" dir="{info.dir}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{words_text(lang, *page.title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f'<body>\n<header class="ats-header"><a class="ats-brand" href="{home}">'
        f"{html.escape(domain)}</a></header>\n<main>\n"
        f"<h1>{words_html(lang, *page.title)}</h1>\n"
        f'<div class="{box}"><p>{words_html(lang, *page.said)}</p></div>\n{paragraphs}'
        f'</main>\n<footer>\n<nav aria-label="{words_text(lang, "languages")}"><ul>'
        f"{links}</ul></nav>\n</footer>\n</body>\n</html>\n"
    )


def _language_link(other: Language, current: str) -> str:
    name = html.escape(other.autonym)
    if other.code == current:
        return f'<li><strong lang="{other.code}" dir="{other.dir}">{name}</strong></li>'
    return (
        f'<li><a href="?uselang={other.code}" hreflang="{other.code}" lang="{other.code}" '
        f'dir="{other.dir}">{name}</a></li>'
    )


def stopped(tool: str) -> Page:
    """503: the tool's web service is not running (or does not answer)."""
    return Page(
        ("stopped-title", tool), ("stopped-text", tool), "warning", (("stopped-start", tool),)
    )


def unknown(host: str, domain: str) -> Page:
    """404: no tool here (`host` "": no name to give)."""
    said = ("unknown-host", host) if host else ("unknown-here",)
    return Page(("unknown-title",), said, "error", (("unknown-where", f"https://TOOL.{domain}/"),))


def index(domain: str) -> Page:
    """200 at the bare domain: where the tools are."""
    return Page(
        ("index-title", domain),
        ("index-text", f"https://TOOL.{domain}/", f"https://{domain}/TOOL/"),
        "notice",
    )


def trouble() -> Page:
    """What the front door answers when something failed that no route handled."""
    return Page(("trouble-title",), ("trouble-text",), "error")


# -- choosing one in Caddy -----------------------------------------------------------


def _codes() -> str:
    return "|".join(re.escape(code) for code in sorted(catalog()))


def accept_language_pattern() -> str:
    """The first item of an Accept-Language header whose language has messages: the
    leftmost match (RE2, as Python's re) starts at the first such item; group 1 is its
    primary language."""
    return rf"(?i)(?:^|,)\s*({_codes()})(?:-[0-9a-z]+)*\s*(?:;[^,]*)?(?:,|$)"


def uselang_pattern() -> str:
    """`?uselang=` naming a language with messages, or one of its variants (`de-at`)."""
    return rf"(?i)^({_codes()})(?:-[0-9a-z]+)*$"


def language_route() -> dict[str, Any]:
    """A route (not terminal) setting `ats_lang` to the visitor's language; the later
    of its routes wins, so `?uselang=` over Accept-Language over English."""

    def chosen(placeholder: str, name: str, pattern: str) -> dict[str, Any]:
        return {
            "match": [{"vars_regexp": {placeholder: {"name": name, "pattern": pattern}}}],
            "handle": [{"handler": "vars", LANGUAGE_VAR: f"{{http.regexp.{name}.1}}"}],
        }

    routes = [
        {"handle": [{"handler": "vars", LANGUAGE_VAR: DEFAULT_LANGUAGE}]},
        chosen("{http.request.header.Accept-Language}", "accept", accept_language_pattern()),
        chosen("{http.request.uri.query.uselang}", "uselang", uselang_pattern()),
    ]
    return {"handle": [{"handler": "subroute", "routes": routes}]}


def localized(status: int | str, page: Page, domain: str) -> dict[str, Any]:
    """A handler answering `status` with `page` in the language `ats_lang` names (any
    case), English when it names none of them."""
    routes: list[dict[str, Any]] = []
    for each in languages()[1:]:
        match = {"vars_regexp": {LANGUAGE_VAR: {"name": "lang", "pattern": f"(?i)^{each.code}$"}}}
        answer = _static(status, each.code, document(each.code, page, domain))
        routes.append({"match": [match], "handle": [answer], "terminal": True})
    english = document(DEFAULT_LANGUAGE, page, domain)
    routes.append({"handle": [_static(status, DEFAULT_LANGUAGE, english)]})
    return {"handler": "subroute", "routes": routes}


def _static(status: int | str, lang: str, body: str) -> dict[str, Any]:
    return {
        "handler": "static_response",
        "status_code": status,
        "headers": {
            "Content-Type": ["text/html; charset=utf-8"],
            "Content-Language": [lang],
            # A tool that starts again must not be hidden behind a remembered page.
            "Cache-Control": ["no-store"],
        },
        "body": body,
    }
