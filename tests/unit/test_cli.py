"""The `ats` command line: help for every command, and one clear line for a user's mistake."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest

from ats import cli
from ats.config import SCHEMA
from policies.eligibility import policy_keys
from tests.builders import add_request


def subcommands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str, argparse.ArgumentParser]]:
    """Every (command path, help text, parser) below `parser`, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*path, name), helps.get(name, ""), sub
                yield from subcommands(sub, (*path, name))


COMMANDS = list(subcommands(cli.build_parser()))


def test_the_commands_of_the_spec_exist() -> None:
    names = {" ".join(path) for path, _, _ in COMMANDS}
    assert {"demo", "bot", "bot run", "config", "config keys", "config check"} <= names


@pytest.mark.parametrize(
    ("path", "helptext"),
    [(p, h) for p, h, _ in COMMANDS],
    ids=[" ".join(p) for p, _, _ in COMMANDS],
)
def test_every_command_has_help(path: tuple[str, ...], helptext: str) -> None:
    assert helptext.strip(), f"`ats {' '.join(path)}` has no help text"


@pytest.mark.parametrize(
    "parser", [p for _, _, p in COMMANDS], ids=[" ".join(p) for p, _, _ in COMMANDS]
)
def test_every_option_has_help(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{parser.prog} {action.option_strings[0]} has no help"


def test_bot_run_without_a_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ATS_CONFIG", raising=False)
    assert cli.main(["bot", "run", "--once"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("ats: no configuration: pass --config FILE or set ATS_CONFIG")
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_config_keys_prints_every_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ATS_CONFIG", raising=False)
    assert cli.main(["config", "keys"]) == 0
    out = capsys.readouterr().out
    for section, keys in SCHEMA.items():
        assert f"[{section}]" in out
        for key in keys:
            assert f"\n  {key} " in out
    for key in policy_keys():
        assert f"\n  {key} " in out


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[wiki\n", "not valid TOML"),
        ('[wiki]\napii = "x"\n', "did you mean 'api'?"),
        ('[wiki]\napi = "x"\nrequest_page = "R"\n[bot]\nusername = "B"\n', "[wiki] api must be"),
    ],
)
def test_a_bad_config_file_gives_exit_2_and_names_the_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    fragment: str,
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.delenv("ATS_CONFIG", raising=False)
    assert cli.main(["--config", str(path), "bot", "run", "--once"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ats: {path}: ")
    assert fragment in err
    assert "Traceback" not in err


def test_the_config_may_come_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "env.toml"
    path.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/api.php"\nrequest_page = "R"\n'
        '[bot]\nusername = "ClerkBot"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("ATS_CONFIG", str(path))
    monkeypatch.delenv("ATS_BOT_PASSWORD", raising=False)
    assert cli.main(["config", "check"]) == 0
    out = capsys.readouterr().out
    assert f"{path}: OK" in out
    assert "ATS_BOT_PASSWORD is not set" in out


def test_a_missing_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ATS_CONFIG", raising=False)
    missing = tmp_path / "nope.toml"
    assert cli.main(["--config", str(missing), "config", "check"]) == 2
    assert f"{missing}: no such configuration file" in capsys.readouterr().err


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main([])
    assert caught.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_payments_import_report_and_purge_from_the_command_line(tmp_path, capsys) -> None:
    """The fee commands as an admin runs them: a re-import changes nothing, a bad row is
    reported with its line number, the report and the purge run on the same store."""
    from membership.store import Store

    config = tmp_path / "ats.toml"
    config.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/api.php"\n'
        'request_page = "Toolserver/Requests"\n[bot]\nusername = "Clerk@c"\n'
        '[store]\npath = "ats.sqlite"\n'
    )
    store = Store(tmp_path / "ats.sqlite")
    add_request(
        store,
        "Example User",
        heading="Account request: Ex",
        intro_timestamp=None,
        state="awaiting-requester",
    )
    csv = tmp_path / "export.csv"
    csv.write_text(
        "date,reference,payer_wiki_username,amount,currency,method\n"
        "2025-03-01,TXN-1,Example User,20.00,USD,card\n"
        "2025-03-02,TXN-2,Example User,20.001,USD,card\n"
    )
    args = ["--config", str(config)]
    assert cli.main([*args, "payments", "import", str(csv), "--by", "Admin"]) == 1
    out = capsys.readouterr().out
    assert "1 imported" in out and "line 3:" in out
    assert cli.main([*args, "payments", "import", str(csv), "--by", "Admin"]) == 1
    assert "0 imported, 1 already recorded" in capsys.readouterr().out
    assert len(store.payments("Example User")) == 1
    assert cli.main([*args, "report"]) == 0
    assert "fund" in capsys.readouterr().out.lower()
    assert cli.main([*args, "purge", "--dry-run"]) == 0
    assert capsys.readouterr().out.strip()
