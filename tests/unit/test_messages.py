"""The message renderer: `$n`, PLURAL by CLDR rules, GENDER, and the language a
request is answered in."""

from __future__ import annotations

from bot.rules.messages import Catalog, render
from bot.rules.replies import language_note


def test_parameters_are_substituted_in_order() -> None:
    assert render("$2 then $1", ["a", "b"]) == "b then a"


def test_a_missing_parameter_stays_as_written() -> None:
    assert render("$1 and $3", ["a"]) == "a and $3"


def test_a_parameter_is_never_read_as_markup() -> None:
    text = render("by $1: $2", ["{{PLURAL:$2|x|y}}", "$1"])
    assert text == "by {{PLURAL:$2|x|y}}: $1"


def test_numbers_are_written_in_the_language() -> None:
    assert render("$1", [1234]) == "1,234"
    assert render("$1", [1234], "de") == "1.234"


def test_plural_english_one_and_other() -> None:
    message = "$1 {{PLURAL:$1|edit|edits}}"
    assert render(message, [1]) == "1 edit"
    assert render(message, [0]) == "0 edits"
    assert render(message, [2500]) == "2,500 edits"


def test_plural_reads_a_formatted_number() -> None:
    assert render("{{PLURAL:$1|edit|edits}}", ["1"]) == "edit"
    assert render("{{PLURAL:$1|edit|edits}}", ["1,001"]) == "edits"


def test_plural_hebrew_has_a_dual() -> None:
    message = "{{PLURAL:$1|יום אחד|יומיים|$1 ימים}}"
    assert render(message, [1], "he") == "יום אחד"
    assert render(message, [2], "he") == "יומיים"
    assert render(message, [5], "he") == "5 ימים"


def test_plural_french_counts_zero_as_one() -> None:
    message = "$1 {{PLURAL:$1|modification|modifications}}"
    assert render(message, [0], "fr") == "0 modification"
    assert render(message, [2], "fr") == "2 modifications"


def test_plural_with_fewer_forms_takes_the_last() -> None:
    assert render("{{PLURAL:$1|יום|ימים}}", [2], "he") == "ימים"


def test_plural_explicit_number_form() -> None:
    message = "{{PLURAL:$1|0=no edits|$1 edit|$1 edits}}"
    assert render(message, [0]) == "no edits"
    assert render(message, [1]) == "1 edit"


def test_plural_form_may_hold_a_link_with_a_pipe() -> None:
    message = "{{PLURAL:$1|[[Help:Edit|edit]]|[[Help:Edit|edits]]}}"
    assert render(message, [3]) == "[[Help:Edit|edits]]"


def test_other_templates_are_left_alone() -> None:
    message = "add <nowiki>{{ATS recheck}}</nowiki> for $1 {{PLURAL:$1|day|days}}"
    assert render(message, [2]) == "add <nowiki>{{ATS recheck}}</nowiki> for 2 days"


def test_gender_unknown_takes_the_neutral_form() -> None:
    message = "{{GENDER:$1|he|she|they}} asked"
    assert render(message, ["Someone"]) == "they asked"
    genders = {"Ann": "female", "Bob": "male"}.get
    assert render(message, ["Ann"], gender=lambda n: genders(n, "unknown")) == "she asked"
    assert render(message, ["Bob"], gender=lambda n: genders(n, "unknown")) == "he asked"


def test_gender_with_one_form_uses_it() -> None:
    assert render("{{GENDER:$1|התחבר/י}}", ["X"]) == "התחבר/י"


def test_unbalanced_markup_is_left_as_written() -> None:
    assert render("{{PLURAL:$1|a|b", [1]) == "{{PLURAL:1|a|b"


def test_english_reply_has_one_edit_not_one_edits() -> None:
    assert Catalog("en").text("criterion", "edits", found=1) == "1 edit"
    assert Catalog("en").text("criterion", "edits", found=501) == "501 edits"


def test_unknown_language_falls_back_to_the_content_language_then_english() -> None:
    unknown = Catalog("xx")
    assert unknown.lang == "en" and unknown.fell_back
    assert Catalog("", "en").fell_back is False
    assert Catalog("zz", "also-unknown").lang == "en"


def test_a_known_language_is_answered_in_it_without_a_note() -> None:
    for lang in ("de", "fr", "es", "he", "DE ", "de-at"):
        catalog = Catalog(lang, "en")
        assert catalog.lang == lang.strip().lower()[:2] and not catalog.fell_back


def test_no_language_asked_takes_the_content_language_without_a_note() -> None:
    catalog = Catalog("", "he")
    assert catalog.lang == "he" and not catalog.fell_back


def test_an_unknown_language_takes_the_content_language_and_says_so() -> None:
    catalog = Catalog("xx", "de")
    assert catalog.lang == "de" and catalog.fell_back
    note = language_note(catalog)
    assert note.startswith("(Dieser Antrag wünscht Antworten auf <nowiki>xx</nowiki>,")
    assert note.endswith("er antwortet daher auf Deutsch.)")


def test_a_language_babel_knows_is_named_in_the_note() -> None:
    assert "in Japanese, which the bot cannot write yet, so it answers in English" in (
        language_note(Catalog("ja"))
    )
    assert language_note(Catalog("de")) == ""


def test_a_user_typed_language_code_cannot_inject_markup() -> None:
    note = language_note(Catalog("[[x]]{{y}}"))
    assert "<nowiki>[[x]]{{y}}</nowiki>" in note


def test_an_encoded_space_at_either_end_is_kept() -> None:
    assert render("&#32;on $1", ["dewiki"]) == " on dewiki"
    assert Catalog("en").text("criterion", "last_joiner") == " and "
