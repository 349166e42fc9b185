"""The bundled on-wiki templates: titles, well-formed wikitext, the contract the bot relies on."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import mwparserfromhell
import pytest
from mwparserfromhell.nodes import Comment, Tag, Template, Text
from mwparserfromhell.wikicode import Wikicode

from bot.rules.templates import (
    WikiTemplate,
    bundled_templates,
    filename_from_title,
    title_from_filename,
)

STATES = (
    "received",
    "invalid",
    "not-eligible",
    "awaiting-identity",
    "awaiting-requester",
    "awaiting-approval",
    "approved",
    "provisioning",
    "done",
    "on-hold",
    "declined",
    "withdrawn",
    "expired",
    "failed",
)
DECISIONS = ("approve", "decline", "hold", "withdraw", "recheck")
PRELOAD_PARAMS = {"type", "username", "purpose", "tool", "license", "source", "maintainers"}
INLINE = ("Template:ATS status", *(f"Template:ATS {name}" for name in DECISIONS))

PAGES = {page.title: page for page in bundled_templates()}


def page(title: str) -> WikiTemplate:
    assert title in PAGES, f"{title} is not bundled"
    return PAGES[title]


def transcluded(text: str) -> str:
    """What a page contributes when transcluded: without its ``<noinclude>`` parts."""
    return re.sub(r"<noinclude>.*?</noinclude>", "", text, flags=re.DOTALL)


def preloaded(text: str) -> str:
    """The text MediaWiki puts in the edit box for ``preload=``: ``<noinclude>`` parts dropped,
    ``<includeonly>`` tags unwrapped (``Parser::getPreloadText``)."""
    text = re.sub(r"<noinclude>.*?</noinclude>", "", text, flags=re.DOTALL)
    return re.sub(r"</?includeonly>", "", text)


def name_of(template: Template) -> str:
    return str(template.name).strip()


def switch_cases(switch: Template) -> set[str]:
    """The case labels of a ``{{#switch:}}``, fall-through labels included, ``#default`` not."""
    cases = set()
    for param in switch.params:
        label = str(param.name if param.showkey else param.value).strip()
        if label != "#default":
            cases.add(label)
    return cases


def assert_braces_balanced(code: Wikicode, where: str) -> None:
    """No ``{{`` or ``}}`` left over as plain text, also in ``<pre>``/``<nowiki>`` examples."""
    for text in code.ifilter_text(recursive=True):
        value = str(text.value)
        if "{{" not in value and "}}" not in value:
            continue
        inner = mwparserfromhell.parse(value)
        # Text that re-parses to the same single text node holds a brace nothing closes; text
        # from inside <pre> or <nowiki> re-parses into templates, checked in turn.
        assert not (len(inner.nodes) == 1 and isinstance(inner.nodes[0], Text)), (
            f"unbalanced braces in {where}: {value.strip()[:80]!r}"
        )
        assert_braces_balanced(inner, where)


def test_templates_are_bundled() -> None:
    expected = {
        "Template:ATS request",
        "Template:ATS request/doc",
        "Template:ATS request/preload",
        "Template:ATS file request",
        "Template:ATS status",
        *(f"Template:ATS {name}" for name in DECISIONS),
    }
    assert expected <= set(PAGES)
    assert [p.title for p in bundled_templates()] == sorted(PAGES)


@pytest.mark.parametrize("title", sorted(PAGES))
def test_file_name_maps_to_a_sensible_title(title: str) -> None:
    assert title.startswith("Template:ATS ")
    assert "_" not in title
    assert title == title.strip()
    assert "  " not in title
    assert "//" not in title
    assert not title.endswith("/")
    assert title_from_filename(filename_from_title(title)) == title


def test_file_names_round_trip() -> None:
    assert title_from_filename("Template:ATS_request__doc.wikitext") == "Template:ATS request/doc"
    assert filename_from_title("Template:ATS request/preload") == (
        "Template:ATS_request__preload.wikitext"
    )
    with pytest.raises(ValueError):
        title_from_filename("Template:ATS_request.txt")


@pytest.mark.parametrize("title", sorted(PAGES))
def test_braces_balance(title: str) -> None:
    text = page(title).text
    assert text.strip(), f"{title} is empty"
    assert text == text.rstrip()
    assert_braces_balanced(mwparserfromhell.parse(text), title)
    for tag in ("noinclude", "includeonly", "onlyinclude"):
        assert text.count(f"<{tag}>") == text.count(f"</{tag}>"), f"<{tag}> unclosed in {title}"


@pytest.mark.parametrize(
    ("title", "request_type"),
    [
        ("Template:ATS request/preload", "account"),
        ("Template:ATS request/preload-tool", "tool"),
    ],
)
def test_preload_is_one_request_with_every_field(title: str, request_type: str) -> None:
    raw = page(title).text
    # MediaWiki drops <noinclude> parts from a preload, but a preload that needs none is simpler.
    for tag in ("noinclude", "onlyinclude", "nowiki"):
        assert f"<{tag}" not in raw
    text = preloaded(raw)
    assert not re.search(r"</?[a-z]", text), "markup would be left over in the request"
    code = mwparserfromhell.parse(text)
    templates = code.filter_templates(recursive=True)
    assert [name_of(t) for t in templates] == ["ATS request"]
    assert not code.filter_tags(recursive=True)
    request = templates[0]
    assert {str(p.name).strip() for p in request.params} == PRELOAD_PARAMS
    assert all(p.showkey for p in request.params)
    for param in request.params:
        assert param.value.filter(forcetype=Comment), f"{param.name} has no explaining comment"
    type_value = "".join(str(n) for n in request.get("type").value.nodes if isinstance(n, Text))
    assert type_value.strip() == request_type
    assert text.startswith("{{ATS request")
    assert text.endswith("}}\n~~~~")


@pytest.mark.parametrize("title", sorted(PAGES))
def test_text_survives_the_pre_save_transform(title: str) -> None:
    """Saving a page expands ``~~~`` and ``subst:``, except in ``<nowiki>`` and ``<pre>``.

    The preload's closing signature is ``~~<includeonly>~~</includeonly>``: stored as written,
    it becomes ``~~~~`` in the requester's edit box, and their signature when they save.
    """
    unprotected = re.sub(r"<(nowiki|pre)>.*?</\1>", "", page(title).text, flags=re.DOTALL)
    assert "~~~" not in unprotected
    assert "subst:" not in unprotected
    assert "|]]" not in unprotected, "the pipe trick is expanded on save"


def test_file_request_links_open_a_new_section_with_a_bundled_preload() -> None:
    code = mwparserfromhell.parse(transcluded(page("Template:ATS file request").text))
    links = [t for t in code.filter_templates(recursive=True) if name_of(t).startswith("fullurl:")]
    assert len(links) == 2
    titles = []
    for link in links:
        assert name_of(link) == "fullurl:{{{page|{{FULLPAGENAME}}}}}"
        query = parse_qs(str(link.params[0]).strip(), keep_blank_values=True)
        assert query["action"] == ["edit"]
        assert query["section"] == ["new"]
        assert query["preload"][0] in PAGES
        titles.append(query["preloadtitle"][0])
    assert titles == ["Account request: ", "Tool request: "]


def test_request_template_transcludes_its_doc_only_on_its_own_page() -> None:
    text = page("Template:ATS request").text
    assert text.endswith("<noinclude>{{Template:ATS request/doc}}</noinclude>")
    body = mwparserfromhell.parse(transcluded(text))
    used = {str(a.name).strip() for a in body.ifilter_arguments(recursive=True)}
    assert used == PRELOAD_PARAMS | {"source_reason", "lang"}
    assert not body.filter_headings(), "a heading would split the request's section"


def test_request_template_warns_about_missing_type_and_purpose() -> None:
    body = transcluded(page("Template:ATS request").text)
    assert "has no <code>type</code>" in body
    assert "Unknown <code>type</code>" in body
    assert "<code>purpose</code> is empty" in body


def test_status_template_has_a_case_for_every_state() -> None:
    code = mwparserfromhell.parse(transcluded(page("Template:ATS status").text))
    switches = [
        t for t in code.filter_templates(recursive=True) if name_of(t).startswith("#switch:")
    ]
    assert len(switches) == 2  # one for the colour, one for the icon and label
    for switch in switches:
        assert switch_cases(switch) == set(STATES)
        assert any(str(p.name).strip() == "#default" for p in switch.params)


def test_status_template_tracks_unknown_states_outside_the_template_namespace() -> None:
    code = mwparserfromhell.parse(transcluded(page("Template:ATS status").text))
    label = code.filter_templates(recursive=True, matches=lambda t: "✔ Done" in str(t))[-1]
    default = str(label.get("#default").value)
    assert "{{#ifeq:{{NAMESPACE}}|{{ns:10}}||[[Category:" in default


@pytest.mark.parametrize("name", DECISIONS)
def test_decision_template_exists_with_its_rules(name: str) -> None:
    text = page(f"Template:ATS {name}").text
    doc = text[text.index("<noinclude>") :]
    assert "Who may add it" in doc
    assert "page history" in doc
    assert f"{{{{ATS {name}" in doc, "the doc shows how to use it"


def test_approve_names_the_override() -> None:
    text = transcluded(page("Template:ATS approve").text)
    assert "Approved" in text
    assert "(eligibility overridden: {{{override}}})" in text


@pytest.mark.parametrize("title", INLINE)
def test_inline_templates_add_no_line_breaks(title: str) -> None:
    """They start a reply line: a newline in their output would end the ``:`` indentation."""
    body = transcluded(page(title).text)
    assert body == body.strip()
    code = mwparserfromhell.parse(body)
    assert isinstance(code.nodes[0], Tag)
    for text in code.ifilter_text(recursive=True):
        # Whitespace around parser-function arguments is trimmed; anywhere else it is output.
        inside_template = any(isinstance(a, Template) for a in code.get_ancestors(text))
        assert inside_template or "\n" not in str(text), f"line break in {title}"


def branch_outputs(function: Template) -> list[str]:
    """What a ``#if``/``#ifeq``/``#switch`` may output: its branches, trimmed as MediaWiki does."""
    name = name_of(function)
    positional = [str(p.value).strip() for p in function.params if not p.showkey]
    if name.startswith("#if:"):
        return positional
    if name.startswith("#ifeq:"):
        return positional[1:]
    if name.startswith("#switch:"):
        return [str(p.value).strip() for p in function.params if p.showkey]
    return []


@pytest.mark.parametrize("title", sorted(PAGES))
def test_no_branch_starts_a_line(title: str) -> None:
    """MediaWiki puts a newline before a parser function's output that starts with ``:``, ``;``,
    ``*``, ``#`` or ``{|`` (T2529): inside a reply line or a style attribute that breaks it."""
    code = mwparserfromhell.parse(transcluded(page(title).text))
    for function in code.ifilter_templates(recursive=True):
        for output in branch_outputs(function):
            assert not output.startswith((":", ";", "*", "#", "{|")), (
                f"{title}: {name_of(function)[:20]} outputs {output[:30]!r}"
            )
