"""How a command fails: the faults a person can cause (`policies.errors.Refusal`, and the
usage and configuration errors), each told in one line on stderr with an exit status (2
for a usage or configuration error, 1 when the work failed), the traceback only with
``--debug``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from ats.config import Config


class UsageError(Exception):
    """A command was called in a way that cannot work; exit status 2."""


def fail(args: argparse.Namespace, error: BaseException, status: int) -> int:
    """One line on stderr (after the traceback with --debug); the exit status."""
    if args.debug:
        traceback.print_exc()
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"ats: {message}", file=sys.stderr)
    return status


def known_failure(error: Exception, config: Config | None) -> BaseException | None:
    """`error` if a person can cause it (a `Refusal`, or its one-line form); None for a bug."""
    import sqlite3

    from membership.storefaults import describe
    from policies.errors import Refusal

    if isinstance(error, Refusal):
        return error
    if isinstance(error, sqlite3.Error) and config is not None:
        # Raised while the store was in use (Store itself raises StoreError on opening).
        return describe(error, config.store_path, busy_timeout_ms=10_000)
    return None
