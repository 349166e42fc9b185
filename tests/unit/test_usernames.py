"""Which names MediaWiki could give an account: hostile ones refused with the reason."""

from __future__ import annotations

import pytest

from policies.usernames import UsernameError, username_problem, valid_username


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("Example", "Example"),
        ("example", "Example"),
        ("Jane_Doe", "Jane Doe"),
        ("  Jane   Doe  ", "Jane Doe"),
        ("Jane\u00a0Doe", "Jane Doe"),  # a no-break space is a space to a title
        ("Ярослава", "Ярослава"),
        ("ярослава", "Ярослава"),
        ("محمد علي", "محمد علي"),  # right-to-left, with a space
        ("דוד", "דוד"),
        ("田中太郎", "田中太郎"),
        ("O'Brien (WMDE)", "O'Brien (WMDE)"),
        ("Bot 2000", "Bot 2000"),
        ("1.2.3", "1.2.3"),  # not an IP address
        ("A" * 255, "A" * 255),
        ("Я" * 127, "Я" * 127),  # 254 bytes
        ("100%", "100%"),
        ("Tom & Jerry", "Tom & Jerry"),
    ],
)
def test_valid_names_give_their_canonical_form(name: str, canonical: str) -> None:
    assert username_problem(name) is None
    assert valid_username(name) == canonical


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../../etc/evil", "'/'"),
        ("Foo/..", "'/'"),
        ("..", "relative path"),
        (".", "relative path"),
        ("Foo#bar", "'#'"),
        ("A|B", "'|'"),
        ("<script>", "'<'"),
        ("[[Foo]]", "'['"),
        ("{{Foo}}", "'{'"),
        ("User:Foo", "':'"),
        ("ClerkBot@clerk", "'@'"),
        ("127.0.0.1", "IP address"),
        ("10.0.0.255", "IP address"),
        ("192.168.001.001", "IP address"),
        ("1.2.3.xxx", "IP address"),
        ("", "empty"),
        ("   ", "empty"),
        ("___", "empty"),
        ("A" * 256, "longer than 255 bytes"),
        ("Я" * 128, "longer than 255 bytes"),  # 128 characters, 256 bytes
        ("Foo\nBar", "control character U+000A"),
        ("Foo\tBar", "control character U+0009"),
        ("Foo\x00", "control character U+0000"),
        ("Foo\x7f", "control character U+007F"),
        ("Foo\x85", "control character U+0085"),
        ("Admin\u202egnp.exe", "invisible formatting character U+202E"),
        ("Foo\u200fBar", "invisible formatting character U+200F"),
        ("Foo\u200bBar", "U+200B"),  # zero-width space
        ("Foo\ue000", "private-use"),
        ("Foo%2Fbar", "percent-encoded"),
        ("Foo&amp;bar", "HTML entity"),
        ("Foo~~~", "'~~~'"),
        ("Foo\ud800", "not valid Unicode"),
    ],
)
def test_hostile_names_are_refused_with_the_reason(name: str, why: str) -> None:
    problem = username_problem(name)
    assert problem is not None and why in problem
    with pytest.raises(UsernameError, match="is not a valid wiki username") as caught:
        valid_username(name)
    assert why in str(caught.value)
    assert "\n" not in str(caught.value).replace("\\n", "")  # one line, even for "Foo\nBar"


def test_a_very_long_name_is_shortened_in_the_message() -> None:
    with pytest.raises(UsernameError) as caught:
        valid_username("A" * 10_000)
    assert len(str(caught.value)) < 200
