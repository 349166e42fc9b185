"""The bot answers a request in its `lang=` against a real MediaWiki: German and
Hebrew when asked, English with a note when the language is one it cannot write."""

from __future__ import annotations

from tests.builders import request_wikitext
from tests.integration.conftest import WikiBot


def only_reply(wikibot: WikiBot) -> str:
    [line] = [x for x in wikibot.text().splitlines() if x.startswith(":{{ATS status|")]
    return line


def test_a_german_request_is_answered_in_german(wikibot: WikiBot) -> None:
    wikibot.file("Veteran", "Account request: Veteran", request_wikitext(lang="de"))
    wikibot.cycle()
    line = only_reply(wikibot)
    assert line.startswith(":{{ATS status|awaiting-identity}} [[User:Veteran|Veteran]]: ")
    assert "zugelassen:" in line and "Bearbeitungen" in line and "keine Sperren" in line
    # Logging in with the wiki account, in words apart from identifying to an admin.
    login = "melde dich unter http://127.0.0.1:5000 mit deinem Wiki-Benutzerkonto an"
    assert f"Nächster Schritt: {login}" in line
    assert "edits" not in line and "Englisch" not in line  # no fallback note
    assert wikibot.store().requests(wikibot.page)[0].lang == "de"


def test_a_hebrew_request_is_answered_in_hebrew(wikibot: WikiBot) -> None:
    wikibot.file("Newcomer", "Account request: Newcomer", request_wikitext(lang="he"))
    wikibot.cycle()
    line = only_reply(wikibot)
    assert line.startswith(":{{ATS status|not-eligible}} ")
    assert "הבקשה אינה עומדת במדיניות הסניף" in line
    assert "כשנדרשות 500" in line and "אין חסימות" in line
    assert "<nowiki>{{ATS recheck}}</nowiki>" in line  # markup kept through translation
    assert "Not eligible" not in line


def test_an_unknown_language_gets_english_and_says_so(wikibot: WikiBot) -> None:
    wikibot.file("Veteran", "Account request: Veteran", request_wikitext(lang="xx"))
    wikibot.cycle()
    line = only_reply(wikibot)
    assert line.startswith(":{{ATS status|awaiting-identity}} [[User:Veteran|Veteran]]: eligible:")
    assert (
        "(This request asks for replies in <nowiki>xx</nowiki>, which the bot cannot "
        "write yet, so it answers in English.)"
    ) in line
