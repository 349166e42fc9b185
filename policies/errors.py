"""The one kind of error a person can meet: a refusal.

`Refusal` is the base of every error that a user, an admin or a deployment can cause
and that says what to do in one line: a bad request field, a name that is taken, a wiki
that cannot be reached, a store held by another process. Its message is English, which
the command line prints as it is (`ats: …`, the traceback only with `--debug`);
anything else is a bug and keeps its traceback. A message that is `Words`
(policies.words) also carries the message key and parameters that say it in any
language, which is how the bridge tells it to its reader. A refusal never names an HTTP
status: the kinds below say what happened in the chapter's terms — what was asked about
does not exist (`NotFound`), it is not the person's to do (`NotAllowed`), someone else
did or changed it first (`Conflict`) — and the bridge turns each kind into its page.
"""

from __future__ import annotations

from policies.words import Words


class Refusal(Exception):
    """Something a person caused, told in one line: `str(error)`, English; `words` when
    the message also says it in the reader's language."""

    @property
    def words(self) -> Words | None:
        """The message as `Words` (key and parameters), or None for plain English."""
        said = self.args[0] if self.args else None
        return said if isinstance(said, Words) else None


class NotFound(Refusal):
    """What was asked about does not exist (a tool, a member, an action)."""


class NotAllowed(Refusal):
    """What was asked is not this person's to do (not their tool, not their say)."""


class Conflict(Refusal):
    """Someone else did or changed it first (another admin, another tab): nothing to do."""
