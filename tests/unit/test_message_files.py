"""The message files in `i18n/`: every key the bot uses exists in English and is
documented, and every translation is complete, carries the same parameters and no
markup beyond the English."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from bot.rules import messages
from policies.message_parameters import PARAMETERS

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("de", "fr", "es", "he")


def load(lang: str) -> dict[str, str]:
    data = json.loads((ROOT / "i18n" / f"{lang}.json").read_text("utf-8"))
    return {k: v for k, v in data.items() if k.startswith(messages.PREFIX)}


def keys_used_by_the_code() -> set[str]:
    """Every `catalog.text("section", "key", …)` with literal arguments in bot/, and
    the keys built from a code (`text("problem", problem.code)`) named by their family."""
    used = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "text"
                and len(node.args) >= 2
                and all(isinstance(a, ast.Constant) for a in node.args[:2])
            ):
                section, key = (a.value for a in node.args[:2])
                used.add(messages.message_key(section, key))
    return used


def test_the_code_uses_many_keys_and_english_has_them_all() -> None:
    used = keys_used_by_the_code()
    assert len(used) > 30
    assert used <= set(load("en")), used - set(load("en"))


def test_every_code_built_key_has_an_english_message() -> None:

    english = set(load("en"))
    families = {
        "progress": [
            "awaiting-identity",
            "awaiting-requester",
            "awaiting-approval",
            "approved",
            "provisioning",
            "done",
            "failed",
            "gate-terms",
            "gate-ssh-key",
        ],
        "decision": [
            "approved-waiting",
            "approved",
            "approved-override",
            "declined",
            "on-hold",
            "withdrawn",
        ],
        "why": ["not-admin", "own-request", "closed", "needs-override", "not-recheckable"],
    }
    for section, codes in families.items():
        for code in codes:
            assert messages.message_key(section, code) in english


def test_every_english_key_is_documented() -> None:
    english, documented = load("en"), load("qqq")
    assert set(english) == set(documented)
    assert all(text.strip() for text in documented.values())


def test_every_parameter_table_entry_matches_the_english_message() -> None:
    """One table for the bot's and the bridge's messages (policies.message_parameters)."""
    data = json.loads((ROOT / "i18n" / "en.json").read_text("utf-8"))
    english = {key: text for key, text in data.items() if isinstance(text, str)}
    for key, params in PARAMETERS.items():
        assert key in english, key
        found = {int(n) for n in re.findall(r"\$(\d+)", english[key])}
        assert found == set(range(1, len(params) + 1)), key
    for key, text in english.items():
        if re.search(r"\$\d", text):
            assert key in PARAMETERS, key


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_translation_is_complete_with_only_known_keys(lang: str) -> None:
    assert set(load(lang)) == set(load("en"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_translation_has_the_same_parameters(lang: str) -> None:
    english = load("en")
    for key, text in load(lang).items():
        assert set(re.findall(r"\$\d+", text)) == set(re.findall(r"\$\d+", english[key])), key


def markup(text: str) -> list[str]:
    """The HTML tags and templates a message writes (PLURAL and GENDER aside)."""
    tags = re.findall(r"</?[a-zA-Z][^>]*>", text)
    templates = [
        t for t in re.findall(r"\{\{([^|}:]+)", text) if t.upper() not in ("PLURAL", "GENDER")
    ]
    return sorted(tags + templates)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_translation_has_no_markup_beyond_the_english(lang: str) -> None:
    english = load("en")
    for key, text in load(lang).items():
        assert markup(text) == markup(english[key]), key
        assert "~~~" not in text or "~~~" in english[key], key


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_renders_in_every_language(lang: str) -> None:
    catalog = messages.Catalog(lang)
    assert catalog.lang == lang
    for key in load(lang):
        params = [7 for _ in PARAMETERS.get(key, ())]
        text = messages.render(load(lang)[key], params, lang)
        assert "{{PLURAL" not in text and "{{GENDER" not in text and "$" not in text, key


def test_the_markup_check_catches_added_html() -> None:
    assert markup("a <b>bold</b> {{ATS recheck}}") != markup("a bold {{ATS recheck}}")
    assert markup("{{PLURAL:$1|x|y}}") == []


@pytest.mark.parametrize("lang", ("en", *LANGUAGES))
def test_no_message_starts_or_ends_with_a_plain_space(lang: str) -> None:
    # Translation tools trim them: a space that matters is written &#32;.
    for key, text in load(lang).items():
        assert text == text.strip(), key
