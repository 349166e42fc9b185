"""The queue summary region: rendering, finding and replacing it on request pages."""

from __future__ import annotations

import html
import time
from pathlib import Path

import mwparserfromhell
import pytest

from bench.pages import generate_request_page
from bot.rules.page import RequestPage, parse
from bot.rules.queue import END, START, QueueEntry, apply_queue, queue_region, render_queue

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pages"
PAGES = sorted(FIXTURES.glob("*.wikitext"))
HOSTILE = (
    "Account request: [[User:X|X]] {{u|Y}} a|b",
    "Tool request: ] [ } { > <",
    "Account request: #1 & &amp; ~~~~ ~~~ __NOTOC__ ''it'' '''b'''",
    "Account request: </nowiki> <nowiki> <!-- --> -->",
    "Account request: http://example.org/x?a=1 [https://e.org t] mailto:a@b",
    "Account request: == not a heading == = ; * : !! || -{zh}-",
    "Account request: {{{1}}} {{#if:x|y}} <ref>r</ref> <pre>p</pre>",
    "Account request: מִשְׁתַּמֵּשׁ 山田太郎 Фёдор",
)


def entry(
    heading: str, days: int = 1, state: str = "received", requester: str = "Ann"
) -> QueueEntry:
    return QueueEntry(heading, heading, state, requester, days)


def requests_of(page: RequestPage) -> list[tuple[str, str, str]]:
    return [(r.key, r.heading, r.content_hash) for r in page.requests]


@pytest.fixture(params=PAGES, ids=[p.stem for p in PAGES])
def fixture_text(request: pytest.FixtureRequest) -> str:
    return request.param.read_text(encoding="utf-8")


# --- render_queue ---------------------------------------------------------------------


def test_empty_queue() -> None:
    assert render_queue([], backlog_days=14) == f"{START}\nNo open requests.\n{END}"


def test_table_shape() -> None:
    region = render_queue(
        [entry("Account request: B", 3, requester="Bob"), entry("Account request: A", 9)],
        backlog_days=14,
    )
    assert region == "\n".join(
        [
            START,
            '{| class="wikitable sortable"',
            '! Request !! State !! Requester !! data-sort-type="number" | Days waiting',
            "|-",
            "| [[#{{anchorencode:Account request&#58; A}}|Account request&#58; A]]",
            "| {{ATS status|received}}",
            "| Ann",
            "| 9",
            "|-",
            "| [[#{{anchorencode:Account request&#58; B}}|Account request&#58; B]]",
            "| {{ATS status|received}}",
            "| Bob",
            "| 3",
            "|}",
            END,
        ]
    )


def test_oldest_first_and_deterministic() -> None:
    entries = [
        entry(f"Account request: {n}", days) for n, days in zip("CABD", (5, 5, 9, 1), strict=True)
    ]
    region = render_queue(entries, backlog_days=30)
    assert region == render_queue(list(reversed(entries)), backlog_days=30)
    order = [region.index(f"&#58; {n}]]") for n in "BACD"]
    assert order == sorted(order)


def test_backlog_notice() -> None:
    entries = [entry("Account request: A", 40), entry("Account request: B", 20), entry("C", 3)]
    region = render_queue(entries, backlog_days=14)
    assert region.split("\n")[1] == (
        "'''Backlog:''' 2 requests have waited more than 14 days; the oldest has waited 40 days."
    )
    one = render_queue([entry("A", 15)], backlog_days=1)
    assert "1 request has waited more than 1 day; the oldest has waited 15 days." in one
    assert "Backlog" not in render_queue([entry("A", 14)], backlog_days=14)  # "longer than"
    assert "Backlog" not in render_queue([], backlog_days=0)


def test_status_template_is_configurable() -> None:
    region = render_queue([entry("A", state="on-hold")], backlog_days=9, status_template="ATS-Z")
    assert "| {{ATS-Z|on-hold}}" in region


@pytest.mark.parametrize("heading", HOSTILE)
def test_hostile_headings_stay_text(heading: str) -> None:
    region = render_queue([entry(heading, requester=heading)], backlog_days=9)
    body = region[len(START) : -len(END)]
    code = mwparserfromhell.parse(body)
    assert START not in body and END not in body
    assert "<" not in body and "~~~" not in body  # no tag, comment or signature
    assert "__" not in body and "://" not in body and "''" not in body
    (link,) = code.filter_wikilinks()
    assert html.unescape(str(link.text)) == " ".join(heading.split())
    names = sorted(str(t.name).split(":")[0] for t in code.filter_templates())
    assert names == ["ATS status", "anchorencode"]
    (anchor,) = (t for t in code.filter_templates() if str(t.name).startswith("anchorencode"))
    assert not anchor.params and html.unescape(str(anchor.name)[13:]) == heading
    cells = [line for line in body.split("\n") if line.startswith("| ")]
    assert html.unescape(cells[2][2:]) == heading  # the requester cell
    assert queue_region(region) == region


def test_repeated_heading_links_to_numbered_anchor() -> None:
    region = render_queue(
        [QueueEntry("Twice #2", "Twice", "received", "Ann", 1), entry("Twice #2")],
        backlog_days=9,
    )
    assert "[[#{{anchorencode:Twice}}_2|Twice]]" in region
    assert "[[#{{anchorencode:Twice &#35;2}}|Twice &#35;2]]" in region


def test_render_1000_entries_is_fast() -> None:
    entries = [
        entry(f"Account request: user {i} {HOSTILE[i % len(HOSTILE)]}", i % 97) for i in range(1000)
    ]
    began = time.perf_counter()
    region = render_queue(entries, backlog_days=30)
    elapsed = time.perf_counter() - began
    print(f"render_queue(1000 entries): {elapsed * 1000:.1f} ms, {len(region):,} chars")
    assert elapsed < 3
    assert region.count("\n|-\n") == 1000


# --- queue_region / apply_queue -------------------------------------------------------


def test_round_trip_on_fixtures(fixture_text: str) -> None:
    before = parse(fixture_text)
    region = render_queue([entry(r.heading, 20) for r in before.requests], backlog_days=7)
    assert queue_region(fixture_text) is None
    applied = apply_queue(fixture_text, region)
    assert applied == region + "\n" + fixture_text
    assert queue_region(applied) == region
    after = parse(applied)
    assert requests_of(after) == requests_of(before)
    assert after.discussions == before.discussions

    assert apply_queue(applied, region) == applied  # unchanged queue, unchanged page
    updated = render_queue([], backlog_days=7)
    again = apply_queue(applied, updated)
    assert again == updated + "\n" + fixture_text
    assert requests_of(parse(again)) == requests_of(before)


def test_replacing_keeps_every_other_byte() -> None:
    old = render_queue([entry("A", 1)], backlog_days=9)
    new = render_queue([entry("A", 2), entry("B", 30)], backlog_days=9)
    text = "{{Header}}\nIntro.\n" + old + "\nMore intro.\n\n== Account request: A ==\n"
    assert apply_queue(text, new) == text.replace(old, new)
    assert queue_region(apply_queue(text, new)) == new


def test_empty_page() -> None:
    region = render_queue([], backlog_days=9)
    assert queue_region("") is None
    assert apply_queue("", region) == region + "\n"
    assert apply_queue(region + "\n", region) == region + "\n"


def test_page_starting_with_a_heading() -> None:
    text = "== Account request: A ==\n{{ATS request}}\n"
    region = render_queue([entry("Account request: A")], backlog_days=9)
    applied = apply_queue(text, region)
    assert requests_of(parse(applied)) == requests_of(parse(text))
    assert applied.endswith("\n" + text)


@pytest.mark.parametrize(
    "broken",
    [
        f"{START}\nstale row\n",  # END deleted
        f"stale row\n{END}\n",  # START deleted
        f"{END}\nstale\n{START}\n",  # markers swapped
        f"<nowiki>{START}\n{END}</nowiki>\n",  # quoted, not live
        f"<!-- old: {START}\n{END} -->\n",  # inside another comment
        f"<pre>{START}</pre>{END}\n",
        f"{START.replace('bot', 'Bot')}\n{END}\n",  # not our exact marker
    ],
)
def test_broken_markers_get_a_fresh_region_at_the_top(broken: str) -> None:
    text = "Intro.\n" + broken + "\n== Account request: A ==\n{{ATS request}}\n"
    region = render_queue([entry("Account request: A")], backlog_days=9)
    assert queue_region(text) is None
    applied = apply_queue(text, region)
    assert applied == region + "\n" + text
    assert queue_region(applied) == region
    # The next cycle finds the new region: no second copy, the leftovers untouched.
    newer = render_queue([], backlog_days=9)
    assert apply_queue(applied, newer) == newer + "\n" + text


def test_region_below_a_heading_or_around_one_is_not_ours() -> None:
    region = render_queue([], backlog_days=9)
    inside = f"== Account request: A ==\n{{{{ATS request}}}}\n{region}\n"
    spanning = f"{START}\nIntro.\n== Account request: A ==\n{{{{ATS request}}}}\n{END}\n"
    for text in (inside, spanning):
        assert queue_region(text) is None
        applied = apply_queue(text, region)
        assert applied == region + "\n" + text
        assert requests_of(parse(applied)) == requests_of(parse(text))


def test_level_three_heading_in_the_preamble_ends_it() -> None:
    """Conservative: any "=" line ends the preamble, so a region below one is not reused."""
    region = render_queue([], backlog_days=9)
    text = f"=== How to ask ===\n{region}\n"
    assert queue_region(text) is None
    assert queue_region(apply_queue(text, region)) == region


def test_unclosed_comment_hides_a_region() -> None:
    region = render_queue([], backlog_days=9)
    text = f"<!-- never closed\n{region}\n"
    assert queue_region(text) is None
    assert apply_queue(text, region) == region + "\n" + text


def test_comments_and_nowiki_before_the_region_are_skipped() -> None:
    region = render_queue([], backlog_days=9)
    text = (
        f"<!--\n== Account request: Example ==\n-->\n<nowiki>\n= x =\n</nowiki><nowiki/>\n{region}"
    )
    assert queue_region(text) == region


def test_innermost_pair_is_the_region() -> None:
    region = render_queue([], backlog_days=9)
    text = f"{START}\nhuman text\n{region}\nmore\n"
    assert queue_region(text) == region
    newer = render_queue([entry("A")], backlog_days=9)
    assert apply_queue(text, newer) == text.replace(region, newer)


@pytest.mark.parametrize(
    "bad",
    ["no markers", f"{START}\n== A ==\n{END}", f"{START}\nx", f"x\n{START}\n{END}"],
)
def test_apply_refuses_a_malformed_region(bad: str) -> None:
    with pytest.raises(ValueError, match="START"):
        apply_queue("text", bad)


def test_apply_on_the_1000_request_page() -> None:
    text = generate_request_page(1000)
    before = parse(text)
    entries = [entry(r.key, i % 60) for i, r in enumerate(before.requests)]
    began = time.perf_counter()
    region = render_queue(entries, backlog_days=30)
    applied = apply_queue(apply_queue(text, region), region)
    found = queue_region(applied)
    elapsed = time.perf_counter() - began
    print(f"render + apply twice + find on 1,000 requests: {elapsed * 1000:.1f} ms")
    assert elapsed < 3
    assert found == region and applied == region + "\n" + text
    assert requests_of(parse(applied)) == requests_of(before)
