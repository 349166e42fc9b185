"""`ats demo` and `ats devwiki`: the development tools (`devtools`) from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_DEVWIKI = Path("var/devwiki")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="start a local wiki, file sample requests, run the bot, show the result",
        description="The whole job on a throwaway local MediaWiki: start it, seed users and "
        "requests, run one bot cycle, print the page URL and a summary, and keep the "
        "wiki up until interrupted.",
    )
    demo.add_argument(
        "--dir",
        type=Path,
        default=Path("var/demo"),
        help="where the demo wiki and its store live (default: var/demo)",
    )
    demo.add_argument("--port", type=int, help="port for the wiki (default: a free one)")
    demo.add_argument(
        "--no-wait",
        action="store_true",
        help="stop the wiki and exit after the cycle instead of waiting",
    )
    demo.add_argument(
        "--no-shell",
        action="store_true",
        help="start no dev login host (as root the demo otherwise ends in a shell on one)",
    )
    demo.set_defaults(run=_demo, needs_config=False)


def add_devwiki_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = commands.add_parser("devwiki", help="a throwaway local MediaWiki for development")
    dev_commands = dev.add_subparsers(
        dest="devwiki_command", metavar="DEVWIKI_COMMAND", required=True
    )
    for name, helptext in (
        ("start", "create the wiki if needed, seed it, and serve it on 127.0.0.1"),
        ("stop", "stop the wiki's server (the files stay)"),
        ("seed", "create the sample users and their histories (idempotent)"),
        ("status", "say whether the wiki runs, and where"),
    ):
        sub = dev_commands.add_parser(name, help=helptext, description=helptext)
        sub.add_argument(
            "--dir",
            type=Path,
            default=DEFAULT_DEVWIKI,
            help=f"the wiki's folder (default: {DEFAULT_DEVWIKI})",
        )
        sub.add_argument("--port", type=int, help="port when creating (default: a free one)")
        sub.set_defaults(run=_devwiki, needs_config=False)


def _demo(args: argparse.Namespace, config: None) -> int:
    from ats import demo

    return demo.run(
        args.dir.resolve(), port=args.port, wait=not args.no_wait, shell=not args.no_shell
    )


def _devwiki(args: argparse.Namespace, config: None) -> int:
    from devtools.devwiki import DevWiki

    root = args.dir.resolve()
    command = args.devwiki_command
    if command == "status":
        if not (root / "devwiki.json").exists():
            print(f"no wiki in {root} (create one with `ats devwiki start --dir {args.dir}`)")
            return 1
        wiki = DevWiki.load(root)
        print(f"{'running' if wiki.running() else 'stopped'}: {wiki.server} ({root})")
        return 0
    if command == "stop":
        DevWiki.load(root).stop()
        print(f"stopped the wiki in {root}")
        return 0
    wiki = DevWiki.create(root, args.port)
    wiki.start()
    if command in ("start", "seed"):
        users = wiki.seed()
        print(f"wiki running at {wiki.server}/index.php (api: {wiki.api_url})")
        print(f"seeded users: {', '.join(sorted(users))}")
        print(f"bot login: {wiki.bot_user}@{wiki.bot_appid} (password in {root}/devwiki.json)")
    return 0
