"""The front door's own pages in Debian's Chromium, through the real Caddy over HTTPS: a
stopped tool's page (a route with no upstream, and one whose upstream does not answer),
the 404 page of an unknown tool and the bare domain's index, in every language of the
message files, chosen by `?uselang=` and by the browser's Accept-Language. Each has the
language's `<html lang dir>` and heading, fits from 320 to 1280 px without scrolling
sideways, and axe-core finds nothing at all on it (any impact). A page that fails a
check is kept as a screenshot under test-artifacts/bridge/screens/, named frontdoor-PAGE-
WIDTH-LANGUAGE (every one with ATS_SCREENSHOTS=1).

One Caddy (tests.integration.frontdoor_site) and one browser for the module. Chromium
resolves the test domain to 127.0.0.1 and accepts the front door's two certificates by
their public keys (`--ignore-certificate-errors-spki-list`, the keys of the certificates
Caddy presents, checked against its internal CA first): any other certificate would
still be refused, and the machine's trust store is left alone. A page is loaded once per
language; the widths are the same page resized, since nothing on it depends on the width
at load time."""

from __future__ import annotations

import base64
import hashlib
import html
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from runtime import doorpages
from runtime.frontdoor import Route
from tests.integration.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.integration.frontdoor_site import DOMAIN, Door, running_door
from tests.integration.screens import layout_problems, screenshot_kept

WIDTHS = (320, 390, 1280)
LANGUAGES = {each.code: each.dir for each in doorpages.languages()}
# The longest names a tool and a host can have, with no hyphen to break at: they must
# wrap, not widen the page.
STOPPED = "thelongestnameatoolmayhaveinfull"
UNKNOWN = f"nosuchtoolwithanamethislongatall.{DOMAIN}"
SILENT = "fleeting"  # a route to an upstream that does not answer


@dataclass(frozen=True)
class Shown:
    """One of the front door's pages: where it is, its status, and what it says."""

    name: str
    host: str
    path: str
    status: int
    page: doorpages.Page


PAGES = [
    Shown("stopped", f"{STOPPED}.{DOMAIN}", "/some/page", 503, doorpages.stopped(STOPPED)),
    Shown("unknown", UNKNOWN, "/x", 404, doorpages.unknown(UNKNOWN, DOMAIN)),
    Shown("index", DOMAIN, "/", 200, doorpages.index(DOMAIN)),
]
SILENT_PAGE = Shown("silent", f"{SILENT}.{DOMAIN}", "/", 503, doorpages.stopped(SILENT))


@pytest.fixture(scope="module")
def door() -> Iterator[Door]:
    with running_door() as started:
        told = started.converge(Route(STOPPED, None), Route(SILENT, "unix//nonexistent/web.sock"))
        assert len(told) == 2, told
        yield started


def presented_keys(door: Door) -> list[str]:
    """The base64 SHA-256 of the public key of each certificate the front door presents
    (the bare domain's and the wildcard's), each verified against its CA first."""
    context = ssl.create_default_context(cafile=str(door.dev.root_cert()))
    keys = []
    for host in (DOMAIN, f"any.{DOMAIN}"):
        raw = socket.create_connection(("127.0.0.1", door.settings.https_port), timeout=10)
        with context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        public = x509.load_der_x509_certificate(der).public_key()
        spki = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        keys.append(base64.b64encode(hashlib.sha256(spki).digest()).decode())
    return keys


@pytest.fixture(scope="module")
def browser(door: Door) -> Iterator[Any]:
    """Debian's Chromium that finds the test domain at 127.0.0.1 and takes the front
    door's own certificates."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed (scripts/setup installs it)", pytrace=False)
    from playwright.sync_api import sync_playwright

    rules = f"MAP {DOMAIN} 127.0.0.1,MAP *.{DOMAIN} 127.0.0.1"
    args = [
        *CHROMIUM_ARGS,
        f"--host-resolver-rules={rules}",
        f"--ignore-certificate-errors-spki-list={','.join(presented_keys(door))}",
    ]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def tab(browser: Any) -> Iterator[Any]:
    """The one page `?uselang=` loads go through."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def url(door: Door, shown: Shown, query: str = "") -> str:
    return f"https://{shown.host}:{door.settings.https_port}{shown.path}{query}"


def heading(shown: Shown, lang: str) -> str:
    return html.unescape(doorpages.words_text(lang, *shown.page.title))


def assert_in_language(page: Any, response: Any, shown: Shown, lang: str) -> None:
    assert response is not None and response.status == shown.status, (shown.name, lang)
    assert response.headers["content-language"] == lang
    root = page.locator("html")
    assert (root.get_attribute("lang"), root.get_attribute("dir")) == (lang, LANGUAGES[lang])
    assert page.locator("main h1").inner_text() == heading(shown, lang)
    assert page.title() == heading(shown, lang)


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("shown", PAGES, ids=lambda shown: shown.name)
def test_page_in_each_language_fits_every_width_and_is_accessible(
    door: Door, tab: Any, axe: Axe, shown: Shown, lang: str
) -> None:
    tab.set_viewport_size({"width": 1280, "height": 800})
    response = tab.goto(url(door, shown, f"?uselang={lang}"))
    assert_in_language(tab, response, shown, lang)
    with screenshot_kept(tab, f"frontdoor-{shown.name}-1280-{lang}"):
        violations = axe.run(tab).response["violations"]
        found = [f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}" for v in violations]
        assert not found, "\n".join(found)
    for width in WIDTHS:
        tab.set_viewport_size({"width": width, "height": 800})
        with screenshot_kept(tab, f"frontdoor-{shown.name}-{width}-{lang}"):
            problems = layout_problems(tab)
            assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_accept_language_chooses_the_language_of_every_page(
    door: Door, browser: Any, lang: str
) -> None:
    """The browser asks first for a language without messages, then `lang`."""
    context = browser.new_context(extra_http_headers={"Accept-Language": f"it-IT,it,{lang};q=0.8"})
    page = context.new_page()
    try:
        for shown in [*PAGES, SILENT_PAGE]:
            assert_in_language(page, page.goto(url(door, shown)), shown, lang)
    finally:
        context.close()


def test_the_language_links_lead_to_the_same_page_and_uselang_wins(
    door: Door, browser: Any
) -> None:
    context = browser.new_context(extra_http_headers={"Accept-Language": "he"})
    page = context.new_page()
    stopped = PAGES[0]
    try:
        assert_in_language(page, page.goto(url(door, stopped)), stopped, "he")
        for lang, name in (("en", "English"), ("de", "Deutsch")):
            with page.expect_navigation() as went:
                page.get_by_role("link", name=name).click()
            assert_in_language(page, went.value, stopped, lang)
            assert page.url == url(door, stopped, f"?uselang={lang}")
            assert page.locator(f"footer strong[lang={lang}]").inner_text() == name
    finally:
        context.close()
