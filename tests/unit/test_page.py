"""Request-page parsing and rendering, driven by the wikitext fixtures in tests/fixtures/pages."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from bot.rules.page import (
    DEFAULT_VOCABULARY,
    ParseError,
    RequestPage,
    Vocabulary,
    parse,
    render,
    request_keys,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pages"
PAGES = sorted(FIXTURES.glob("*.wikitext"))
REPLY = ":{{ATS status|received}} Thanks, checking your edits. ~~~~"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def summary(page: RequestPage) -> dict:
    """The parse in the shape of the *.expected.json files."""
    return {
        "requests": [
            {
                "key": r.key,
                "heading": r.heading,
                "fields": dict(r.fields) if r.fields is not None else None,
                "template_count": r.template_count,
                "replies": [reply.state for reply in r.replies],
                "decisions": [
                    {"kind": d.kind, "params": dict(d.params), "ordinal": d.ordinal}
                    for d in r.decisions
                ],
                "signed": r.signed,
            }
            for r in page.requests
        ],
        "discussions": list(page.discussions),
    }


def section_texts(page: RequestPage) -> dict[str, str]:
    return {r.key: page.text[r.start : r.end] for r in page.requests}


@pytest.fixture(params=PAGES, ids=[p.stem for p in PAGES])
def fixture_page(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_fixture_set_is_complete() -> None:
    assert len(PAGES) >= 17
    for path in PAGES:
        assert path.with_name(path.stem + ".expected.json").exists(), path.name


def test_parse_matches_expected(fixture_page: Path) -> None:
    expected = json.loads(read(fixture_page.with_name(fixture_page.stem + ".expected.json")))
    assert summary(parse(read(fixture_page))) == expected


def test_request_keys_match_parse(fixture_page: Path) -> None:
    text = read(fixture_page)
    assert request_keys(text) == {r.key for r in parse(text).requests}


def test_offsets_cover_the_sections(fixture_page: Path) -> None:
    page = parse(read(fixture_page))
    for section in page.requests:
        assert page.text[section.start : section.end].startswith("=")
        assert page.get(section.key) is section
        for reply in section.replies:
            assert reply.line in page.text[section.start : section.end]
            assert "\n" not in reply.line
        for decision in section.decisions:
            assert decision.wikitext in page.text[section.start : section.end]


def test_render_without_replies_is_identity(fixture_page: Path) -> None:
    page = parse(read(fixture_page))
    assert render(page, {}) is page.text
    assert render(page, {r.key: [] for r in page.requests}) == page.text


def test_render_appends_replies_and_changes_nothing_else(fixture_page: Path) -> None:
    page = parse(read(fixture_page))
    chosen = [r.key for r in page.requests][::2]  # every other request; the rest untouched
    replies = {key: [REPLY, f":{{{{ATS status|invalid}}}} second for {key}"] for key in chosen}
    text = render(page, replies)
    again = parse(text)

    assert [r.key for r in again.requests] == [r.key for r in page.requests]
    assert again.discussions == page.discussions
    before, after = section_texts(page), section_texts(again)
    for key in before:
        old, new = page.get(key), again.get(key)
        if key in replies:
            assert [r.line for r in new.replies[-2:]] == replies[key]
            assert [r.state for r in new.replies] == [r.state for r in old.replies] + [
                "received",
                "invalid",
            ]
            assert new.content_hash == old.content_hash
            assert new.fields == old.fields and new.decisions == old.decisions
            inserted = "".join("\n" + line for line in replies[key])
            cut = old.append_at - old.start
            assert not before[key][:cut].endswith("\n")
            assert after[key] == before[key][:cut] + inserted + before[key][cut:]
        else:
            assert after[key] == before[key]
            moved = new.start - old.start
            assert new.append_at == old.append_at + moved and new.end == old.end + moved
            assert new == replace(old, start=new.start, end=new.end, append_at=new.append_at)
    # Outside the request sections (preamble, discussions) nothing moved either.
    removed = text
    for key in reversed(chosen):
        new = again.get(key)
        body = text[new.start : new.end]
        for line in replies[key]:
            body = body.replace("\n" + line, "", 1)
        removed = removed[: new.start] + body + removed[new.end :]
    assert removed == page.text


def test_render_unknown_key_raises() -> None:
    page = parse(read(FIXTURES / "plain_account.wikitext"))
    with pytest.raises(KeyError):
        render(page, {"Account request: Nobody": [REPLY]})


def test_render_keeps_trailing_blanks_on_their_line() -> None:
    page = parse("== Account request: A ==\n{{ATS request}} \t\n\n== B ==\n")
    text = render(page, {"Account request: A": [REPLY]})
    assert text == f"== Account request: A ==\n{{{{ATS request}}}} \t\n{REPLY}\n\n== B ==\n"


def test_render_before_a_comment_left_open_at_the_end() -> None:
    text = read(FIXTURES / "unclosed_comment.wikitext")
    page = parse(text)
    rendered = render(page, {"Account request: Before": [REPLY]})
    opener = text.index("<!--")
    assert rendered == text[: opener - 1] + "\n" + REPLY + text[opener - 1 :]
    assert [r.state for r in parse(rendered).requests[0].replies] == ["received"]


def test_comment_left_open_on_the_heading_line_hides_the_body() -> None:
    text = "== Account request: A == <!-- oops\n{{ATS request}}\n{{ATS approve}}\n"
    page = parse(text)
    assert [(r.key, r.template_count, r.decisions) for r in page.requests] == [
        ("Account request: A", 0, ())
    ]
    rendered = render(page, {"Account request: A": [REPLY]})
    assert (
        rendered == "== Account request: A == \n" + REPLY + text[len("== Account request: A == ") :]
    )
    assert [r.state for r in parse(rendered).requests[0].replies] == ["received"]


def test_render_refuses_multiline_reply() -> None:
    page = parse(read(FIXTURES / "plain_account.wikitext"))
    with pytest.raises(ValueError, match="one line"):
        render(page, {"Account request: Example": [":a\n== b =="]})


def test_render_at_end_of_page_without_newline() -> None:
    page = parse("== Account request: A ==\n{{ATS request|type=account}}")
    text = render(page, {"Account request: A": [REPLY]})
    assert text == "== Account request: A ==\n{{ATS request|type=account}}\n" + REPLY
    assert parse(text).requests[0].content_hash == page.requests[0].content_hash


def test_content_hash_follows_the_requester_not_the_bot() -> None:
    text = read(FIXTURES / "replies_decisions.wikitext")
    page = parse(text)
    key = "Account request: Decided"
    original = page.get(key).content_hash

    replied = parse(render(page, {key: [REPLY]}))
    assert replied.get(key).content_hash == original

    edited = parse(text.replace("purpose=Bots.", "purpose=Bots and tools."))
    assert edited.get(key).content_hash != original

    new_decision = parse(text.replace("{{ATS withdraw}}", "{{ATS withdraw}} {{ATS recheck}}"))
    assert new_decision.get(key).content_hash != original

    whitespace_only = parse(text.replace("(UTC)\n", "(UTC)   \n"))
    assert whitespace_only.get(key).content_hash == original


def test_duplicate_keys_count_requests_only() -> None:
    text = (
        "== Same ==\nJust talk.\n\n"
        "== Same ==\n{{ATS request|type=account}}\n\n"
        "== Same ==\n{{ATS request|type=tool}}\n"
    )
    page = parse(text)
    assert [r.key for r in page.requests] == ["Same", "Same #2"]
    assert page.discussions == ("Same",)
    assert request_keys(text) == {"Same", "Same #2"}


def test_keys_stay_unique_when_a_heading_looks_like_a_key() -> None:
    text = "".join(f"== {h} ==\n{{{{ATS request}}}}\n" for h in ("X", "X #2", "X", "X"))
    keys = [r.key for r in parse(text).requests]
    assert keys == ["X", "X #2", "X #3", "X #4"]
    assert request_keys(text) == set(keys)


def test_headings_in_comments_and_nowiki_are_not_boundaries() -> None:
    text = (
        "== Account request: A ==\n{{ATS request|type=account}}\n"
        "<!--\n== Account request: B ==\n-->\n<nowiki>\n== C ==\n</nowiki>\n"
        "<pre>\n== D ==\n</pre>\n:{{ATS status|received}} ok\n"
    )
    page = parse(text)
    assert [r.key for r in page.requests] == ["Account request: A"]
    assert page.requests[0].end == len(text)
    assert [r.state for r in page.requests[0].replies] == ["received"]


def test_heading_levels() -> None:
    text = (
        "== Account request: A ==\n{{ATS request}}\n=== Sub ===\n====== Deep ======\n"
        "==Tight==\n{{ATS request}}\n"
        "== Uneven ===\n{{ATS request}}\n"
        "= Top =\n{{ATS request}}\n"
    )
    keys = [r.key for r in parse(text).requests]
    assert keys == ["Account request: A", "Tight", "Uneven =", "Top"]


def test_localised_vocabulary() -> None:
    vocab = Vocabulary(
        request_template="Demande ATS",
        status_template="Statut ATS",
        decision_templates={"approve": "ATS accepter", "decline": "ATS refuser"},
        request_prefixes=("Demande de compte :",),
        template_namespaces=("Modèle", "Template"),
    )
    text = (
        "== Demande de compte : Jean ==\n{{Modèle:Demande ATS|type=account}}\n"
        ":{{Statut ATS|received}} Merci. ~~~~\n{{ATS accepter}} {{ATS approve}}\n\n"
        "== Autre ==\n{{demande_ATS|type=tool}}\n"
    )
    page = parse(text, vocab)
    assert [r.key for r in page.requests] == ["Demande de compte : Jean", "Autre"]
    first = page.requests[0]
    assert first.fields == {"type": "account"}
    assert [r.state for r in first.replies] == ["received"]
    assert [d.kind for d in first.decisions] == ["approve"]
    assert request_keys(text, vocab) == {"Demande de compte : Jean", "Autre"}
    assert parse(text, DEFAULT_VOCABULARY).requests == ()


def test_vocabulary_is_immutable() -> None:
    vocab = Vocabulary()
    with pytest.raises(TypeError):
        vocab.decision_templates["approve"] = "Something else"  # type: ignore[index]
    assert vocab == DEFAULT_VOCABULARY


def test_parse_error_is_a_value_error() -> None:
    assert issubclass(ParseError, ValueError)


def test_spliced_fixtures_keep_the_invariants() -> None:
    """Random cuts of the fixtures (mid-template, mid-comment...) never break the contract."""
    blob = "\n".join(read(path) for path in PAGES)
    rng = random.Random(20250601)
    for _ in range(200):
        cuts = [rng.randrange(len(blob)) for _ in range(rng.randint(1, 4))]
        text = "".join(blob[a : a + rng.randrange(2000)] for a in cuts)
        page = parse(text)
        assert request_keys(text) == {r.key for r in page.requests}
        again = parse(render(page, {r.key: [REPLY] for r in page.requests}))
        assert [r.key for r in again.requests] == [r.key for r in page.requests]
        for old, new in zip(page.requests, again.requests, strict=True):
            assert new.replies[-1].state == "received"
            if "<!--" in new.replies[-1].line:  # a comment left open to the end of the page
                continue
            assert new.replies[-1].line == REPLY
            assert new.content_hash == old.content_hash
