"""Field rules of `{{ATS request}}` (contract §2): every Problem code, tool names and licences."""

from __future__ import annotations

import pytest

from policies.requests import Problem, licence_problem, maintainers, validate

ACCOUNT = {"type": "account", "purpose": "Run pywikibot scripts for Commons."}
TOOL = {
    "type": "tool",
    "purpose": "A dashboard of stale drafts.",
    "tool": "stale-drafts",
    "license": "GPL-3.0-or-later",
    "source": "https://gitlab.wikimedia.org/example/stale-drafts",
    "maintainers": "Example, Other_User",
}


def codes(fields: dict[str, str] | None, template_count: int = 1) -> list[str]:
    return [p.code for p in validate(fields, template_count)]


def tool(**changes: str) -> dict[str, str]:
    return {**TOOL, **changes}


@pytest.mark.parametrize("fields", [ACCOUNT, TOOL, {**ACCOUNT, "type": " Account "}])
def test_valid_requests_have_no_problems(fields: dict[str, str]) -> None:
    assert validate(fields) == ()


def test_no_template() -> None:
    assert validate(None) == (Problem("no-template"),)
    assert validate(ACCOUNT, template_count=0) == (Problem("no-template"),)


def test_several_templates_is_reported_first() -> None:
    problems = validate(ACCOUNT, template_count=3)
    assert problems == (Problem("several-templates", {"count": 3}),)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"purpose": "x"}, "type"),
        ({"type": "  ", "purpose": "x"}, "type"),
        ({"type": "account"}, "purpose"),
        ({"type": "account", "purpose": " \n "}, "purpose"),
        (tool(tool=""), "tool"),
        (tool(license=" "), "license"),
        (tool(maintainers=""), "maintainers"),
    ],
)
def test_missing_field(fields: dict[str, str], field: str) -> None:
    assert Problem("missing-field", {"field": field}) in validate(fields)


def test_tool_fields_are_not_required_of_an_account_request() -> None:
    assert validate({**ACCOUNT, "tool": "", "license": "Bogus"}) == ()


def test_unknown_type() -> None:
    assert validate({"type": "Bot", "purpose": "x"}) == (
        Problem("unknown-type", {"type": "bot", "allowed": ("account", "tool")}),
    )


def test_every_problem_of_a_bad_tool_request_is_listed() -> None:
    assert codes({"type": "tool", "tool": "Bad_Name", "license": "Nope-1.0"}) == [
        "missing-field",
        "bad-tool-name",
        "bad-license",
        "missing-source",
        "missing-field",
    ]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("a", None),
        ("ab", None),
        ("a1", None),
        ("stale-drafts", None),
        ("a" * 32, None),
        ("a" * 33, "bad-tool-name"),
        ("Stale", "bad-tool-name"),
        ("staleDrafts", "bad-tool-name"),
        ("stale-", "bad-tool-name"),
        ("-stale", "bad-tool-name"),
        ("1stale", "bad-tool-name"),
        ("stale_drafts", "bad-tool-name"),
        ("stale.drafts", "bad-tool-name"),
        ("stale drafts", "bad-tool-name"),
        ("stäle", "bad-tool-name"),
        ("ｓtale", "bad-tool-name"),  # fullwidth s
        ("sta\nle", "bad-tool-name"),
        ("root", "reserved-tool-name"),
        ("admin", "reserved-tool-name"),
        ("www", "reserved-tool-name"),
        ("tools", "reserved-tool-name"),
    ],
)
def test_tool_names(name: str, code: str | None) -> None:
    found = [p for p in validate(tool(tool=name)) if p.code.endswith("tool-name")]
    if code is None:
        assert found == []
    else:
        assert found == [Problem(code, {"tool": name.strip()})]


def test_surrounding_spaces_of_a_tool_name_are_ignored() -> None:
    assert validate(tool(tool="  stale-drafts ")) == ()


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ("MIT", None),
        ("mit", None),
        ("Apache-2.0", None),
        ("GPL-2.0+", None),
        ("MIT OR CC-BY-SA-4.0", None),
        ("CC-BY-SA-4.0 OR MIT", None),
        ("Apache-2.0 AND (MIT OR CC0-1.0)", None),
        ("GPL-2.0-only WITH Classpath-exception-2.0", None),
        ("GPL-3.0-or-later WITH GCC-exception-3.1 OR CC-BY-4.0", None),
        ("CC-BY-SA-4.0", "license-not-osi"),
        ("CC0-1.0", "license-not-osi"),
        ("MIT AND CC-BY-SA-4.0", "license-not-osi"),
        ("CC-BY-SA-4.0 OR CC-BY-4.0", "license-not-osi"),
        # An exception does not make a non-OSI licence open source.
        ("CC-BY-SA-4.0 WITH Classpath-exception-2.0", "license-not-osi"),
        ("CC0-1.0 WITH Classpath-exception-2.0", "license-not-osi"),
        ("Nope-1.0", "bad-license"),
        ("LicenseRef-mine", "bad-license"),
        ("MIT AND", "bad-license"),
        ("MIT WITH GPL-2.0-only", "bad-license"),
        ("(MIT", "bad-license"),
    ],
)
def test_licences(expression: str, code: str | None) -> None:
    problem = licence_problem(expression)
    assert (problem.code if problem else None) == code
    found = [p.code for p in validate(tool(license=expression)) if "license" in p.code]
    assert found == ([code] if code else [])
    if problem:
        assert problem.args["license"] == expression


def test_bad_licence_carries_the_parser_error() -> None:
    problem = licence_problem("Nope-1.0")
    assert problem is not None and "Nope-1.0" in problem.args["error"]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"source": ""}, True),
        ({"source": "  "}, True),
        ({"source": "", "source_reason": "Cleaning secrets out of the history first."}, False),
        ({"source": "https://example.org/repo"}, False),
    ],
)
def test_missing_source(changes: dict[str, str], problem: bool) -> None:
    assert (Problem("missing-source") in validate(tool(**changes))) is problem


def test_maintainers_are_split_on_commas() -> None:
    assert maintainers({"maintainers": " Example, ,Other_User ,"}) == ("Example", "Other_User")
    assert maintainers({}) == ()
