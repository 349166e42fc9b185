"""The bot's edit summaries are read by the wiki's readers in its history: they are in
the wiki's content language, from the message files."""

from __future__ import annotations

import pytest

from bot.rules import planning


@pytest.mark.parametrize(
    ("language", "replies", "archiving"),
    [
        (
            "en",
            "Account requests: 2 replies (1 done, 1 received); archived one closed request",
            "Archiving closed requests from [[Toolserver/Requests]]",
        ),
        (
            "de",
            "Kontoanträge: 2 Antworten (1 done, 1 received); ein geschlossener Antrag archiviert",
            "Archivierung geschlossener Anträge von [[Toolserver/Requests]]",
        ),
        (
            "he",
            "בקשות לחשבון: 2 תשובות (1 done, 1 received); בקשה סגורה אחת הועברה לארכיון",
            "העברה לארכיון של בקשות סגורות מ־[[Toolserver/Requests]]",
        ),
        # A content language the bot has no messages for: English.
        (
            "ja",
            "Account requests: 2 replies (1 done, 1 received); archived one closed request",
            "Archiving closed requests from [[Toolserver/Requests]]",
        ),
    ],
)
def test_edit_summaries_are_in_the_wikis_content_language(language, replies, archiving) -> None:
    posted = [("reply one", "received"), ("reply two", "done")]
    assert planning.summary(posted, ["Old request"], language) == replies
    assert planning.archive_summary("Toolserver/Requests", language) == archiving


def test_three_archived_in_french() -> None:
    said = planning.summary([("r", "done")], ["a", "b", "c"], "fr")
    assert said == "Demandes de compte : 1 réponse (1 done); 3 demandes closes archivées"
