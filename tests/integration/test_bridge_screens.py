"""Every screen of the bridge in Debian's Chromium, on a phone and on a desktop, in English
and in Hebrew (right to left): nothing scrolls sideways and axe-core finds no critical or
serious violation. Each page, in each state the people of `tests.integration.screens`
are in, is kept as a full-page screenshot under test-artifacts/bridge/screens/ named
after its page, width and language — the name a failure is reported under too — when a
check of it fails (every page with ATS_SCREENSHOTS=1).

One browser and one bridge for the module; one browser context per width and language,
whose cookies are swapped for the person looking. At 320 px, the narrowest phone the
bridge is made for, only the layout is checked (axe-core's findings do not depend on
the width)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.integration.screens import (
    SCREENS,
    Screen,
    ScreenSite,
    layout_problems,
    screenshot_kept,
    serious_violations,
)

WIDTHS = (390, 1280)
LANGUAGES = {"en": "ltr", "he": "rtl"}


@pytest.fixture(scope="module")
def site(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScreenSite]:
    started = ScreenSite.start(tmp_path_factory.mktemp("screens"), browser)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def contexts(browser: Any) -> Iterator[dict[tuple[int, str], Any]]:
    """One browser context (and page) per width and language, opened when first needed."""
    opened: dict[tuple[int, str], Any] = {}

    class Contexts(dict[tuple[int, str], Any]):
        def __missing__(self, key: tuple[int, str]) -> Any:
            width, _language = key
            context = browser.new_context(viewport={"width": width, "height": 800})
            opened[key] = context
            self[key] = context.new_page()
            return self[key]

    yield Contexts()
    for context in opened.values():
        context.close()


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def visit(site: ScreenSite, page: Any, screen: Screen, language: str) -> Any:
    """Open `screen` as its person (cookies swapped in), in `language`, with every
    `<details>` open; for a refused form, the language is chosen on the bridge (kept in
    the session, as the redirect after the form carries no `?uselang=`) and the form sent."""
    context = page.context
    context.clear_cookies()
    if screen.who is not None:
        context.add_cookies(site.cookies[screen.who])
    if screen.refuse:
        page.goto(f"{site.bridge.url}/language?language={language}&next={screen.path}")
        page.fill("#username", screen.refuse)
        with page.expect_navigation() as sent:
            page.locator("#maintainers form.ats-form button[type=submit]").click()
        response = sent.value
    else:
        joiner = "&" if "?" in screen.path else "?"
        response = page.goto(f"{site.bridge.url}{screen.path}{joiner}uselang={language}")
    assert response is not None
    assert response.status == screen.status, (screen.path, response.status)
    # What a disclosure holds (a request's history on the desk) must fit once opened too.
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    missing = [shown for shown in screen.shows if page.locator(shown).count() == 0]
    assert not missing, f"{screen.name} lacks {missing}"
    return response


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
def test_screen_fits_and_is_accessible(
    site: ScreenSite,
    contexts: dict[tuple[int, str], Any],
    axe: Axe,
    screen: Screen,
    width: int,
    language: str,
) -> None:
    page = contexts[(width, language)]
    visit(site, page, screen, language)
    html = page.locator("html")
    assert html.get_attribute("lang") == language
    assert html.get_attribute("dir") == LANGUAGES[language]
    with screenshot_kept(page, f"{screen.name}-{width}-{language}"):
        problems = layout_problems(page)
        assert not problems, "\n".join(problems)
        violations = serious_violations(axe, page)
        assert not violations, "\n".join(violations)


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
def test_screen_fits_the_narrowest_phone(
    site: ScreenSite, contexts: dict[tuple[int, str], Any], screen: Screen, language: str
) -> None:
    page = contexts[(320, language)]
    visit(site, page, screen, language)
    problems = layout_problems(page)
    assert not problems, "\n".join(problems)


def test_the_checks_find_a_page_that_is_too_wide_and_inaccessible(browser: Any, axe: Axe) -> None:
    """The two checks, on a page made to fail both: they see what they are for."""
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    page.set_content(
        '<!doctype html><html lang="en"><head><title>Bad</title></head>'
        '<body style="margin: 0"><main>'
        '<div class="wide" style="width: 900px">wide</div>'
        '<div style="overflow-x: auto"><div style="width: 900px">scrolls inside</div></div>'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input type="text">'
        "</main></body></html>"
    )
    problems = layout_problems(page)
    assert problems[0] == "the page is 900 px wide in 390 px"
    assert [p for p in problems if p.startswith("too wide:")] == ["too wide: div.wide 0..900"]
    rules = {line.split(" ")[0] for line in serious_violations(axe, page)}
    context.close()
    assert {"image-alt", "label"} <= rules


def test_a_busy_store_is_the_bridges_own_page_on_a_phone(
    site: ScreenSite, contexts: dict[tuple[int, str], Any], axe: Axe
) -> None:
    """Another process holds the store's write lock past the bridge's busy timeout: a
    page that must write (choosing a language writes the member's session) answers 503
    with the bridge's header, one sentence and no traceback. (Pages that only read are
    served meanwhile: reading takes no lock.)"""
    page = contexts[(390, "he")]
    page.context.clear_cookies()
    page.context.add_cookies(site.cookies["fresh"])
    holder = sqlite3.connect(site.bridge.store_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        choose = "/language?language=he&next=/me&uselang=he"
        assert page.goto(f"{site.bridge.url}/status?uselang=he").status == 200  # reads
        response = page.goto(f"{site.bridge.url}{choose}", timeout=60_000)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response is not None and response.status == 503
    assert page.locator("h1").inner_text() == "הגשר עסוק"
    # In the bridge's look: its stylesheet loaded though the store was locked.
    assert page.locator(".ats-header").evaluate("e => getComputedStyle(e).display") == "flex"
    assert "Traceback" not in page.content() and "sqlite" not in page.content()
    with screenshot_kept(page, "store-busy-390-he"):
        assert not layout_problems(page)
        assert not serious_violations(axe, page)
    # The lock gone, the member is still signed in: the busy page kept their session.
    response = page.goto(f"{site.bridge.url}/me")
    assert response is not None and response.status == 200
    assert page.url == f"{site.bridge.url}/me"
