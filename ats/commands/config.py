"""`ats config check` and `ats config keys`: the configuration file, checked or described."""

from __future__ import annotations

import argparse
import os

from ats import config as config_module
from ats.config import Config


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cfg = commands.add_parser("config", help="check or describe the configuration")
    cfg_commands = cfg.add_subparsers(
        dest="config_command", metavar="CONFIG_COMMAND", required=True
    )
    cfg_commands.add_parser(
        "check", help="load the configuration and report problems"
    ).set_defaults(run=_config_check, needs_config=True)
    cfg_commands.add_parser(
        "keys", help="list every configuration key with its default"
    ).set_defaults(run=_config_keys, needs_config=False)


def _config_check(args: argparse.Namespace, config: Config) -> int:
    print(f"{config.path}: OK (request page {config.wiki.request_page} on {config.wiki.api})")
    missing = [name for name in ("ATS_BOT_PASSWORD",) if not os.environ.get(name)]
    for name in missing:
        print(f"note: {name} is not set; the bot cannot log in without it")
    return 0


def _config_keys(args: argparse.Namespace, config: None) -> int:
    print(config_module.describe())
    return 0
