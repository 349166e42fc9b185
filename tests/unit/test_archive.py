"""Archiving closed requests: the archive and request-page texts, on the page fixtures."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bench.pages import generate_request_page
from bot.rules.archive import archive_title, is_archived, plan_archive
from bot.rules.page import RequestPage, parse

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pages"
PAGES = sorted(FIXTURES.glob("*.wikitext"))
TITLE = "Toolserver/Requests"
MARCH = datetime(2025, 3, 14, 12, 0)
APRIL = datetime(2025, 4, 2, 8, 30)
HEADER_MARCH = "Archived requests from [[Toolserver/Requests]], March 2025.\n"


def plan(page: RequestPage, closed: dict[str, datetime], archives: dict[str, str] | None = None):
    return plan_archive(page, closed, archives or {}, request_page=TITLE)


def content(page: RequestPage) -> list[tuple[str, str]]:
    """Requests by heading and hash: keys of repeated headings renumber when one leaves."""
    return [(r.heading, r.content_hash) for r in page.requests]


def saved(text: str) -> str:
    """What MediaWiki stores: trailing whitespace trimmed."""
    return text.rstrip()


@pytest.fixture(params=PAGES, ids=[p.stem for p in PAGES])
def fixture_page(request: pytest.FixtureRequest) -> RequestPage:
    return parse(request.param.read_text(encoding="utf-8"))


def test_archive_title() -> None:
    assert archive_title(TITLE, MARCH) == "Toolserver/Requests/Archive/2025-03"
    assert archive_title("X", datetime(987, 11, 30)) == "X/Archive/0987-11"
    late = datetime(2025, 3, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert archive_title(TITLE, late) == "Toolserver/Requests/Archive/2025-04"  # UTC month
    assert archive_title(TITLE, datetime(2025, 1, 1, tzinfo=UTC)).endswith("/2025-01")


def test_each_request_archived_alone(fixture_page: RequestPage) -> None:
    text = fixture_page.text
    for section in fixture_page.requests:
        result = plan(fixture_page, {section.key: MARCH})
        body = text[section.start : section.end]
        (move,) = result.moves
        assert (move.key, move.section_text) == (section.key, body)
        assert move.archive_title == archive_title(TITLE, MARCH)
        archive = result.archive_texts[move.archive_title]
        assert archive.startswith(HEADER_MARCH + "\n" + body)
        assert is_archived(archive, body) and is_archived(saved(archive), body)
        # Removed exactly the section's bytes; putting them back gives the page again.
        assert result.page_text == text[: section.start] + text[section.end :]
        restored = result.page_text[: section.start] + body + result.page_text[section.start :]
        assert restored == text
        after = parse(result.page_text)
        expected = [(r.heading, r.content_hash) for r in fixture_page.requests if r is not section]
        assert content(after) == expected
        assert after.discussions == fixture_page.discussions
        # Crash after saving the archive: planning again appends nothing, still removes.
        again = plan(fixture_page, {section.key: MARCH}, {move.archive_title: saved(archive)})
        assert again.archive_texts == {}
        assert again.page_text == result.page_text and again.moves == result.moves


def test_requests_archived_one_after_another(fixture_page: RequestPage) -> None:
    page, archives, moved = fixture_page, {}, []
    discussions = fixture_page.discussions
    while page.requests:
        first = page.requests[0]
        result = plan(page, {first.key: APRIL}, archives)
        archives = {**archives, **{t: saved(x) for t, x in result.archive_texts.items()}}
        moved.append(result.moves[0].section_text)
        page = parse(result.page_text)
        assert content(page) == content(fixture_page)[len(moved) :]
        assert page.discussions == discussions
    # One at a time leaves the same page as all at once: no blank lines pile up.
    at_once = plan(fixture_page, {r.key: APRIL for r in fixture_page.requests})
    assert page.text == at_once.page_text
    if moved:
        (archive,) = archives.values()
        assert all(is_archived(archive, body) for body in moved)
        # The sections stand in page order, each after one blank line.
        stripped = [body.rstrip() for body in moved]
        positions = [archive.index(body) for body in stripped]
        assert positions == sorted(positions)
        for body in moved[:-1]:
            if body.endswith("\n\n") and "<!--" not in body:
                assert body + "=" in archive  # no extra blank line before the next one
    else:
        assert archives == {}


def test_archiving_all_requests_at_once(fixture_page: RequestPage) -> None:
    closed = {r.key: (MARCH if i % 2 else APRIL) for i, r in enumerate(fixture_page.requests)}
    result = plan(fixture_page, closed)
    after = parse(result.page_text)
    assert after.requests == () and after.discussions == fixture_page.discussions
    assert [m.key for m in result.moves] == [r.key for r in fixture_page.requests]
    for move in result.moves:
        assert move.section_text in result.archive_texts[move.archive_title]
    assert len(result.page_text) + sum(len(m.section_text) for m in result.moves) == len(
        fixture_page.text
    )


def test_blank_lines_between_sections() -> None:
    text = "Intro.\n\n== Account request: A ==\na\n\n== Account request: B ==\nb\n\n\n== C ==\nc\n"
    page = parse(text)
    middle = plan(page, {"Account request: B": MARCH})
    assert middle.page_text == "Intro.\n\n== Account request: A ==\na\n\n== C ==\nc\n"
    assert middle.moves[0].section_text == "== Account request: B ==\nb\n\n\n"
    first = plan(page, {"Account request: A": MARCH})
    assert first.page_text == "Intro.\n\n== Account request: B ==\nb\n\n\n== C ==\nc\n"
    last = parse("== Account request: A ==\na\n\n== Account request: B ==\nb")
    assert plan(last, {"Account request: B": MARCH}).page_text == "== Account request: A ==\na\n\n"


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ("", HEADER_MARCH + "\n== Account request: A ==\na\n"),
        ("  \n", HEADER_MARCH + "\n== Account request: A ==\na\n"),
        ("Old.", "Old.\n\n== Account request: A ==\na\n"),
        ("Old.\n", "Old.\n\n== Account request: A ==\na\n"),
        ("Old.\n\n", "Old.\n\n== Account request: A ==\na\n"),
    ],
)
def test_appending_to_an_archive(current: str, expected: str) -> None:
    page = parse("== Account request: A ==\na\n")
    title = archive_title(TITLE, MARCH)
    assert plan(page, {"Account request: A": MARCH}, {title: current}).archive_texts == {
        title: expected
    }


def test_two_requests_two_months_one_archive_each() -> None:
    text = "== Account request: A ==\na\n\n== Account request: B ==\nb\n\n"
    text += "== Account request: C ==\n"
    result = plan(
        parse(text),
        {"Account request: C": MARCH, "Account request: A": MARCH, "Account request: B": APRIL},
    )
    march, april = archive_title(TITLE, MARCH), archive_title(TITLE, APRIL)
    assert [m.key[-1] for m in result.moves] == ["A", "B", "C"]  # page order
    assert result.archive_texts == {
        march: HEADER_MARCH + "\n== Account request: A ==\na\n\n== Account request: C ==\n",
        april: HEADER_MARCH.replace("March", "April") + "\n== Account request: B ==\nb\n\n",
    }
    assert result.page_text == ""


def test_keys_not_on_the_page_are_skipped() -> None:
    page = parse("Intro\n== Account request: A ==\na\n")
    result = plan(page, {"Account request: Gone": MARCH})
    assert result.moves == () and result.archive_texts == {} and result.page_text == page.text
    assert plan(page, {}).page_text is page.text


def test_identical_sections_are_archived_once_and_both_removed() -> None:
    text = "== Account request: A ==\nsame\n\n== Account request: A ==\nsame\n\n"
    result = plan(parse(text), {"Account request: A": MARCH, "Account request: A #2": MARCH})
    (archive,) = result.archive_texts.values()
    assert archive.count("== Account request: A ==\nsame") == 1
    assert len(result.moves) == 2 and result.page_text == ""


def test_unclosed_comment_is_closed_in_the_archive() -> None:
    page = parse((FIXTURES / "unclosed_comment.wikitext").read_text(encoding="utf-8"))
    title = archive_title(TITLE, MARCH)
    first = plan(page, {"Account request: Before": MARCH})
    archive = first.archive_texts[title]
    assert archive.endswith("{{ATS approve}}\n-->\n") and first.page_text == ""
    later = parse("== Account request: Later ==\n{{ATS request}}\n")
    second = plan(later, {"Account request: Later": MARCH}, {title: saved(archive)})
    # The next archived request is not swallowed by the comment.
    assert [r.key for r in parse(second.archive_texts[title]).requests] == [
        "Account request: Before",
        "Account request: Later",
    ]


@pytest.mark.parametrize(
    ("archive", "section", "expected"),
    [
        ("== A ==\nfoo\n", "== A ==\nfoo\n\n", True),
        ("x\n== A ==\nfoo", "== A ==\nfoo\n\n", True),  # trimmed by MediaWiki
        ("x\n== A ==\nfoo  \t\n", "== A ==\nfoo\n", True),
        ("== A ==\nfoo bar\n", "== A ==\nfoo\n", False),  # not the whole line
        ("x== A ==\nfoo\n", "== A ==\nfoo\n", False),  # not at a line start
        ("== A ==\nfoo bar\n== A ==\nfoo\n", "== A ==\nfoo\n", True),  # second occurrence
        ("== A ==\nfoo\nmore\n", "== A ==\nfoo\n", True),  # every byte is there
        ("", "== A ==\n", False),
    ],
)
def test_is_archived(archive: str, section: str, expected: bool) -> None:
    assert is_archived(archive, section) is expected


def test_moving_500_of_1000_requests_is_fast() -> None:
    page = parse(generate_request_page(1000))
    base = datetime(2025, 1, 1)
    closed = {r.key: base + timedelta(days=i % 90) for i, r in enumerate(page.requests[::2])}
    began = time.perf_counter()
    result = plan(page, closed)
    elapsed = time.perf_counter() - began
    print(f"plan_archive(500 of 1,000 requests): {elapsed * 1000:.1f} ms")
    assert elapsed < 3
    assert len(result.moves) == 500 and len(result.archive_texts) == 3
    began = time.perf_counter()
    again = plan(page, closed, {t: saved(x) for t, x in result.archive_texts.items()})
    elapsed = time.perf_counter() - began
    print(f"re-plan after a crash (500 already archived): {elapsed * 1000:.1f} ms")
    assert elapsed < 3
    assert again.archive_texts == {} and again.page_text == result.page_text
    assert content(parse(result.page_text)) == content(page)[1::2]
