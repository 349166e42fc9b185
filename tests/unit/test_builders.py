"""The requests tests build (tests/builders.py) are what they claim to be: the wikitext
parses, with the real parser, into the request asked for, and a row is stored as given."""

from __future__ import annotations

from bot.rules.page import parse
from membership.store import Store
from policies.sshkeys import parse_public_key
from tests.builders import PAGE, add_request, request_section, request_wikitext, ssh_public_key


def test_an_account_request_parses_into_its_fields() -> None:
    [request] = parse(request_section("Account request: Dormant")).requests
    assert request.heading == "Account request: Dormant"
    assert dict(request.fields or {}) == {
        "type": "account",
        "purpose": "Running maintenance scripts.",
    }
    assert request.template_count == 1
    assert request_section("H").endswith("}}\n~~~~\n")  # signed when saved


def test_on_behalf_unsigned_and_tool_requests() -> None:
    signature = "[[User:Veteran|Veteran]] 10:00, 1 May 2026 (UTC)"
    friend_body = request_wikitext(username="Dormant", signature=signature)
    text = request_section("Account request: friend", friend_body)
    text += request_section("Account request: quiet", request_wikitext(signature=""))
    body = request_wikitext("tool", tool="stale-drafts", license="MIT", maintainers="A, B")
    text += request_section("Tool request: stale-drafts", body, ":{{ATS approve}} ~~~~")
    friend, quiet, tool = parse(text).requests
    assert (friend.fields or {})["username"] == "Dormant" and friend.signed
    assert not quiet.signed
    assert dict(tool.fields or {}) == {
        "type": "tool",
        "purpose": "Running maintenance scripts.",
        "tool": "stale-drafts",
        "license": "MIT",
        "maintainers": "A, B",
    }
    assert [d.kind for d in tool.decisions] == ["approve"]


def test_a_field_left_empty_is_left_out() -> None:
    assert request_wikitext("acount", purpose="") == "{{ATS request\n | type = acount\n}}\n~~~~"


def test_a_stored_row_takes_what_the_test_says_and_sensible_rest(store: Store) -> None:
    record = add_request(store, "Jane Doe", state="approved", detail={"why": "x"})
    assert (record.page, record.key, record.heading) == (
        PAGE,
        "key-Jane Doe",
        "Account request: Jane Doe",
    )
    assert (record.requester, record.subject, record.state) == ("Jane Doe", "Jane Doe", "approved")
    assert record.detail == {"why": "x"}
    tool = add_request(store, "Alice", type="tool", key="t", fields={"tool": "mytool"})
    assert tool.heading == "Tool request: mytool" and tool.type == "tool"
    assert store.request_by_id(tool.id) == tool


def test_a_new_key_each_time_that_the_project_accepts() -> None:
    first = parse_public_key(ssh_public_key("me@laptop"))
    second = parse_public_key(ssh_public_key())
    assert (first.type, first.comment) == ("ssh-ed25519", "me@laptop")
    assert second.comment == "" and second.fingerprint != first.fingerprint
