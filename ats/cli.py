"""The `ats` command line: one console script for every part of the system.

`main(argv)` parses the arguments, loads the configuration (`--config FILE` or
`ATS_CONFIG`) for the commands that need one, runs the command and returns the exit
status: 0 on success, 1 when the work failed (the wiki refused, a cycle gave up),
2 for a usage or configuration error. Errors a user can cause are printed as one
clear line, never as a traceback (`ats.failures`). The commands themselves, with their
help, live in `ats.commands`, one module per command group.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ats import config as config_module
from ats.commands import (
    bot,
    bridge,
    databases,
    dev,
    host,
    members,
    money,
    operations,
    provision,
    renewal,
    runtime,
)
from ats.commands import config as config_commands
from ats.commands import devhost as devhost_commands
from ats.config import Config, ConfigError
from ats.failures import UsageError, fail, known_failure


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ats",
        description="American Toolserver: account requests filed on-wiki, checked, "
        "answered and provisioned.",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="configuration file (TOML); default: $ATS_CONFIG"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on a failure, print the traceback too, and let pywikibot log everything",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    # In the order `ats --help` lists them.
    dev.add_commands(commands)
    bot.add_commands(commands)
    dev.add_devwiki_commands(commands)
    bridge.add_commands(commands)
    provision.add_commands(commands)
    host.add_commands(commands)
    devhost_commands.add_commands(commands)
    runtime.add_commands(commands)
    databases.add_commands(commands)
    money.add_commands(commands)
    members.add_purge_command(commands)
    operations.add_commands(commands)
    money.add_payments_commands(commands)
    renewal.add_commands(commands)
    members.add_commands(commands)
    config_commands.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.debug:
        from bot import wiki

        wiki.debug_logging(True)
    config = None
    try:
        config = _load(args) if args.needs_config else None
        return args.run(args, config)
    except (ConfigError, UsageError) as error:
        return fail(args, error, 2)
    except KeyboardInterrupt:
        print("ats: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - a known failure gets one clear line
        known = known_failure(error, config)
        if known is None:
            raise
        return fail(args, known, 1)


def _load(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("ATS_CONFIG")
    if not path:
        raise ConfigError(
            "no configuration: pass --config FILE or set ATS_CONFIG "
            "(`ats config keys` lists what it may hold)"
        )
    return config_module.load_config(path)


if __name__ == "__main__":
    sys.exit(main())
