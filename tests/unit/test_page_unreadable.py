"""A request page the wikitext parser cannot read: `ParseError`, and `ats` saying so in one line.

mwparserfromhell raises its `ParserError` only on a bug of its tokenizer, which no known
page triggers today, so the tests make the tokenizer fail the way it reports such a bug.
"""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

import mwparserfromhell
import pytest
from mwparserfromhell.parser import ParserError

from ats import cli
from ats.commands import bot as bot_commands
from ats.config import Config
from bot.rules import page


@pytest.fixture
def tokenizer_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object, **_kwargs: object) -> None:
        raise ParserError("C tokenizer exited with non-empty token stack")

    monkeypatch.setattr(mwparserfromhell, "parse", fail)


def unread_page() -> str:
    """A page no earlier test has parsed (section bodies are cached by content)."""
    return (
        "== Account request: Newcomer ==\n"
        "{{ATS request|username=Newcomer}}\n"
        f"Please ({uuid.uuid4().hex}). [[User:Newcomer|Newcomer]] 10:00, 1 May 2026 (UTC)\n"
    )


def test_an_unreadable_section_raises_parse_error(tokenizer_fails: None) -> None:
    text = unread_page()
    with pytest.raises(page.ParseError) as caught:
        page.parse(text)
    assert "cannot read section 'Account request: " in str(caught.value)
    assert isinstance(caught.value.__cause__, ParserError)


def test_the_page_reads_once_the_tokenizer_works() -> None:
    assert len(page.parse(unread_page()).requests) == 1


def test_ats_reports_an_unreadable_page_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tokenizer_fails: None,
) -> None:
    path = tmp_path / "ats.toml"
    path.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/w/api.php"\nrequest_page = "R"\n'
        '[bot]\nusername = "ClerkBot"\n',
        encoding="utf-8",
    )
    text = unread_page()

    def cycle_reading_the_page(args: argparse.Namespace, config: Config) -> int:
        page.parse(text)  # what a clerk cycle does first with the fetched page
        return 0

    monkeypatch.setattr(bot_commands, "_bot_run", cycle_reading_the_page)
    assert cli.main(["--config", str(path), "bot", "run", "--once"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("ats: cannot read section 'Account request: Newcomer'")
    assert "C tokenizer exited with non-empty token stack" in err
    assert "Traceback" not in err
    assert err.count("\n") == 1
