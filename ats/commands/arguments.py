"""Argument types and options several commands share."""

from __future__ import annotations

import argparse


def positive(text: str) -> float:
    """A number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def not_negative(text: str) -> float:
    """A number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 seconds or more, not {text}")
    return value


def wait_argument(parser: argparse.ArgumentParser) -> None:
    """`--wait SECONDS`: how long a clerk waits for another one on the same page."""
    from membership.lease import DEFAULT_TTL, DEFAULT_WAIT

    parser.add_argument(
        "--wait",
        type=not_negative,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help="when another clerk works on the same page with the same store, wait this "
        f"long for it to finish before giving up with exit status 1 (default "
        f"{DEFAULT_WAIT:.0f}; a clerk that died stops blocking at once on the same host, "
        f"after {DEFAULT_TTL:.0f} s from another)",
    )
