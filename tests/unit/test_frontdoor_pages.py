"""The front door's own pages (runtime/doorpages.py): every language of the message files,
`<html lang dir>`, the landmarks and the words of each; how Caddy is told to choose the
language (the regular expressions, checked here with Python's, which agree with Caddy's
RE2 on them: the leftmost match, case folded); and that no translation can put markup or
a Caddy placeholder into a page."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from policies import message_files
from runtime import doorpages
from runtime.doorpages import (
    DoorPagesError,
    Raw,
    accept_language_pattern,
    catalog,
    document,
    language_route,
    languages,
    localized,
    uselang_pattern,
)

DOMAIN = "tools.test"
DIRECTIONS = {"en": "ltr", "de": "ltr", "es": "ltr", "fr": "ltr", "he": "rtl"}
PAGES = {
    "stopped": doorpages.stopped("mytool"),
    "unknown": doorpages.unknown(f"nosuchtool.{DOMAIN}", DOMAIN),
    "unknown-anywhere": doorpages.unknown("", DOMAIN),
    "index": doorpages.index(DOMAIN),
    "trouble": doorpages.trouble(),
}


class Outline(HTMLParser):
    """What a page is made of: `<html>`'s attributes, the elements met, the text of its
    `<title>` and `<h1>`, and every text outside `<style>`."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.html: dict[str, str | None] = {}
        self.tags: list[str] = []
        self.nav_label: str | None = None
        self.title = self.h1 = ""
        self.texts: list[str] = []
        self._in: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "html":
            self.html = dict(attrs)
        if tag == "nav":
            self.nav_label = dict(attrs).get("aria-label")
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self._in and self._in.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if "title" in self._in:
            self.title += data
        if "h1" in self._in:
            self.h1 += data
        if "style" not in self._in and data.strip():
            self.texts.append(data.strip())


def test_every_language_of_the_message_files_has_the_pages_english_first() -> None:
    assert [each.code for each in languages()] == ["en", "de", "es", "fr", "he"]
    assert {each.code: each.dir for each in languages()} == DIRECTIONS
    assert [each.autonym for each in languages()] == [
        "English",
        "Deutsch",
        "español",
        "français",
        "עברית",
    ]


@pytest.mark.parametrize("lang", list(DIRECTIONS))
@pytest.mark.parametrize("name", list(PAGES))
def test_each_page_has_its_language_landmarks_and_own_words(name: str, lang: str) -> None:
    page = document(lang, PAGES[name], DOMAIN)
    outline = Outline(page)
    assert outline.html == {"lang": lang, "dir": DIRECTIONS[lang]}
    assert {"header", "main", "h1", "footer", "nav"} <= set(outline.tags)
    assert outline.title == outline.h1 and outline.h1
    assert outline.nav_label == catalog()[lang]["ats-frontdoor-languages"]
    # The heading is the language's message, its parameter filled in.
    key, *params = PAGES[name].title
    assert outline.h1 == catalog()[lang][f"ats-frontdoor-{key}"].replace("$1", "".join(params))
    # Every other language is a link to the same page in it; this one is not.
    others = {each.code for each in languages()} - {lang}
    for code in others:
        assert f'href="?uselang={code}" hreflang="{code}" lang="{code}"' in page
    assert f'href="?uselang={lang}"' not in page


def test_english_words_are_not_left_in_another_language() -> None:
    english = set(Outline(document("en", PAGES["stopped"], DOMAIN)).texts)
    german = set(Outline(document("de", PAGES["stopped"], DOMAIN)).texts)
    # What stays the same: the domain, the tool's name, the commands, the language names.
    assert english & german <= {
        DOMAIN,
        "mytool",
        "become",
        "toolforge webservice start",
        *(each.autonym for each in languages()),
    }


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("it, FR-ca;q=0.9, de;q=0.8", "FR"),  # the first language with messages
        ("en-US,en;q=0.9,he;q=0.8", "en"),
        ("he-IL", "he"),
        ("dex, es;q=0.5", "es"),  # a code is a whole subtag
        ("english, fr", "fr"),
        ("  es  ;q=0.7 ", "es"),
        ("it, pt-BR", None),
        ("*", None),
        ("", None),
    ],
)
def test_accept_language_gives_its_first_language_that_has_messages(
    header: str, chosen: str | None
) -> None:
    found = re.search(accept_language_pattern(), header)
    assert (found.group(1) if found else None) == chosen


@pytest.mark.parametrize(
    ("uselang", "chosen"),
    [
        ("de", "de"),
        ("de-at", "de"),  # MediaWiki's variants and formal forms: their base language
        ("de-formal", "de"),
        ("es-419", "es"),
        ("HE", "HE"),
        ("en", "en"),
        ("qqx", None),  # not offered here: Accept-Language, then English
        ("it", None),
        ("de at", None),
        ("", None),
    ],
)
def test_uselang_names_a_language_or_one_of_its_variants(uselang: str, chosen: str | None) -> None:
    found = re.search(uselang_pattern(), uselang)
    assert (found.group(1) if found else None) == chosen


def test_the_language_route_puts_uselang_over_accept_language_over_english() -> None:
    [subroute] = language_route()["handle"]
    default, accept, uselang = subroute["routes"]
    assert default == {"handle": [{"handler": "vars", "ats_lang": "en"}]}
    assert list(accept["match"][0]["vars_regexp"]) == ["{http.request.header.Accept-Language}"]
    assert accept["handle"] == [{"handler": "vars", "ats_lang": "{http.regexp.accept.1}"}]
    assert list(uselang["match"][0]["vars_regexp"]) == ["{http.request.uri.query.uselang}"]
    assert uselang["handle"] == [{"handler": "vars", "ats_lang": "{http.regexp.uselang.1}"}]
    assert "terminal" not in language_route()


def test_a_page_is_one_body_per_language_chosen_by_the_variable() -> None:
    handler = localized(503, PAGES["stopped"], DOMAIN)
    routes = handler["routes"]
    assert len(routes) == len(languages())
    for route, each in zip(routes, languages()[1:], strict=False):
        [match] = route["match"]
        assert match["vars_regexp"]["ats_lang"]["pattern"] == f"(?i)^{each.code}$"
        [answer] = route["handle"]
        assert answer["headers"]["Content-Language"] == [each.code]
        assert f'<html lang="{each.code}"' in answer["body"] and route["terminal"]
    english = routes[-1]
    assert "match" not in english  # whatever the variable says
    assert english["handle"][0]["headers"]["Content-Language"] == ["en"]
    assert {route["handle"][0]["status_code"] for route in routes} == {503}


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    """German words that try markup, an entity and Caddy placeholders."""
    words = {lang: dict(messages) for lang, messages in catalog().items()}
    german = words["de"]
    german["ats-frontdoor-stopped-title"] = (
        "<script>alert(1)</script> $1 {http.request.header.Cookie}"
    )
    german["ats-frontdoor-stopped-text"] = "<b>$1</b> &amp; {{PLURAL:2|eins|zwei}} {env.HOME}"
    monkeypatch.setattr(doorpages, "catalog", lambda directory=None: words)
    return words


def test_no_translation_can_put_markup_or_a_placeholder_in_a_page(hostile: object) -> None:
    page = document("de", doorpages.stopped("mytool"), DOMAIN)
    body = page.split("</style>", 1)[1]
    assert "<script" not in body and "<b>" not in body
    assert "{" not in body and "}" not in body
    assert "&#123;http.request.header.Cookie&#125;" in body
    assert "&lt;b&gt;<bdi>mytool</bdi>&lt;/b&gt; &amp;amp; zwei &#123;env.HOME&#125;" in body
    # `<code>` is the one element a message may carry.
    assert "<code>become <bdi>mytool</bdi></code>" in body


def test_a_placeholder_goes_in_as_it_is_and_any_other_parameter_is_escaped() -> None:
    placed = document("en", doorpages.stopped(Raw("{http.regexp.stopped.1}")), DOMAIN)
    assert "<h1><bdi>{http.regexp.stopped.1}</bdi> is not running</h1>" in placed
    assert "<title>{http.regexp.stopped.1} is not running</title>" in placed
    escaped = document("en", doorpages.stopped("{x}<i>"), DOMAIN)
    assert "<bdi>&#123;x&#125;&lt;i&gt;</bdi>" in escaped


def test_a_language_lacking_a_message_is_not_offered(tmp_path: Path) -> None:
    for path in message_files.I18N_DIR.glob("*.json"):
        data = json.loads(path.read_text("utf-8"))
        if path.stem == "fr":
            del data["ats-frontdoor-unknown-where"]
        (tmp_path / path.name).write_text(json.dumps(data), "utf-8")
    assert list(catalog(tmp_path)) == ["en", "de", "es", "he"]


def test_english_without_the_messages_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "en.json").write_text('{"ats-bridge-name": "Bridge"}', "utf-8")
    with pytest.raises(DoorPagesError) as refused:
        catalog(tmp_path)
    assert str(refused.value) == f"{tmp_path}/en.json has no ats-frontdoor-* messages"


def test_a_language_babel_does_not_know_is_one_line() -> None:
    with pytest.raises(DoorPagesError, match=r"^zzz.json: Babel knows no language 'zzz'$"):
        doorpages.language("zzz")
