"""The one kind of error a person can meet: a refusal.

`Refusal` is the base of every error that a user, an admin or a deployment can cause
and that says what to do in one line: a bad request field, a name that is taken, a wiki
that cannot be reached, a store held by another process. The command line prints any
`Refusal` as that one line (`ats: …`, the traceback only with `--debug`); anything else
is a bug and keeps its traceback. A refusal whose message is `Words` (policies.words)
also carries the message key and parameters that say it in the reader's language.
"""

from __future__ import annotations


class Refusal(Exception):
    """Something a person caused, told in one line: `str(error)`."""
