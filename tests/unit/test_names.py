"""Shell names from wiki usernames: ASCII only, never reserved, never a look-alike."""

from __future__ import annotations

import pytest

from provisioning.names import SHELL_NAME, NamingError, check_name, shell_name


@pytest.mark.parametrize(
    ("wiki_user", "expected"),
    [
        ("Example", "example"),
        ("Jane Doe", "jane-doe"),
        ("Jane_Doe", "jane-doe"),
        ("  Jane   Doe  ", "jane-doe"),
        ("Jürgen Müller", "jurgen-muller"),
        ("José Ñúñez", "jose-nunez"),
        ("Łukasz Øster", "lukasz-oster"),
        ("Straße", "strasse"),
        ("Ｆｕｌｌｗｉｄｔｈ", "fullwidth"),  # NFKC
        ("e\u0301cole", "ecole"),  # a combining accent
        ("Bot2000", "bot2000"),
        ("A (WMDE)", "a-wmde"),
        ("O'Brien", "o-brien"),
    ],
)
def test_names_from_wiki_usernames(wiki_user: str, expected: str) -> None:
    assert shell_name(wiki_user) == expected
    assert SHELL_NAME.fullmatch(expected)


@pytest.mark.parametrize(
    "hostile",
    [
        "*",
        "*)(uid=*",
        'a*b(c)d\\e,f=g+h<i>j#k;l"m',
        "x,ou=people,dc=toolserver,dc=example",
        "foo; rm -rf /",
        "$(reboot)",
        "`id`",
        "a|b&c>d",
        "../../etc/passwd",
        "..",
        "/root",
        "x\x00y",
        "line\nbreak",
    ],
)
def test_hostile_usernames_give_safe_names_or_a_clear_error(hostile: str) -> None:
    try:
        name = shell_name(hostile)
    except NamingError as error:
        assert "shell name" in str(error)
        return
    assert SHELL_NAME.fullmatch(name), name
    assert not set(name) - set("abcdefghijklmnopqrstuvwxyz0123456789-")


def test_ldap_and_shell_metacharacters_never_survive() -> None:
    assert shell_name('Ann*()\\,=+<>#;"Lee') == "ann-lee"
    assert shell_name("foo; rm -rf /") == "foo-rm-rf"
    assert shell_name("../../etc/passwd") == "etc-passwd"


def test_three_hundred_characters_are_refused_with_advice() -> None:
    with pytest.raises(NamingError, match="longer than 32 characters.*explicitly"):
        shell_name("a" * 300)


@pytest.mark.parametrize("wiki_user", ["root", "Root", " root ", "ROOT", "Www-data", "Admin"])
def test_reserved_names_are_refused(wiki_user: str) -> None:
    with pytest.raises(NamingError, match="reserved"):
        shell_name(wiki_user)


def test_all_cyrillic_asks_for_an_explicit_name() -> None:
    with pytest.raises(NamingError, match="CYRILLIC.*give a shell name explicitly"):
        shell_name("Александр")


def test_a_confusable_cannot_become_someone_elses_name() -> None:
    latin, cyrillic_a = "Example", "Ex\u0430mple"  # U+0430 CYRILLIC SMALL LETTER A
    assert latin != cyrillic_a
    assert shell_name(latin) == "example"
    with pytest.raises(NamingError, match="CYRILLIC SMALL LETTER A"):
        shell_name(cyrillic_a)
    # Greek omicron for Latin o, and a Cyrillic 'о' in 'root': refused, not folded.
    for look_alike in ("R\u03bfbert", "r\u043e\u043et"):
        with pytest.raises(NamingError):
            shell_name(look_alike)


def test_names_that_cannot_start_with_a_letter_are_refused() -> None:
    with pytest.raises(NamingError, match="start with a letter"):
        shell_name("2fast")
    with pytest.raises(NamingError, match="no shell name can be made"):
        shell_name("!!!")
    with pytest.raises(NamingError, match="2 to 32"):
        shell_name("A")


def test_explicit_names_are_checked_not_changed() -> None:
    assert check_name("jane-doe") == "jane-doe"
    for bad in ("Jane", "jane_doe", "-jane", "jane-", "j", "tools.x", "a/b", "../x", "a" * 33):
        with pytest.raises(NamingError):
            check_name(bad)
    with pytest.raises(NamingError, match="reserved"):
        check_name("root")


@pytest.mark.parametrize("bad", ["abc\n", "abc\r", "ab c", "\nabc", "abc\n\n"])
def test_an_explicit_name_is_the_whole_string_not_a_prefix(bad: str) -> None:
    assert check_name("abc") == "abc"
    with pytest.raises(NamingError, match="not a valid shell name"):
        check_name(bad)
