"""The tool job mails room: the outbox of mails to a tool's maintainers about its jobs'
runs (`toolforge jobs run --emails`; runtime/mail.py writes and sends them).

A mail is queued (`queue_tool_job_mail`) in the transaction that records the event it
is about, once: its key is the tool, the job, the run (`run_key`) and the event, and a
second queueing of the same key changes nothing. A sender takes the due mails with one
atomic claim (`claim_tool_job_mails`: marked `sending`, one attempt spent, claimed
until a moment), so two senders never hold the same mail; then marks each sent, or
failed (`mark_tool_job_mail_failed`: queued again at the time it is given, or given up
after `MAX_ATTEMPTS`). A sender killed between sending a mail and marking it leaves the
claim to lapse: the mail is claimed and sent again, with the same Message-ID. Mails
sent or given up are forgotten after a while (`forget_tool_job_mails`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from membership.records import ToolJobMail
from membership.store.connection import StoreConnection
from policies.times import iso

MAX_ATTEMPTS = 12  # tries before a mail is given up
CLAIM_SECONDS = 600  # a claim outlives any one send; a killed sender's lapses after it


class ToolJobMailsRoom(StoreConnection):
    def queue_tool_job_mail(
        self,
        tool: str,
        job: str,
        run_key: str,
        event: str,
        recipients: Sequence[str],
        subject: str,
        body: str,
        now: datetime | None = None,
    ) -> bool:
        """Queue the mail about `event` of the run `run_key` of the tool's job, due now;
        False when that mail was queued already (nothing changes)."""
        stamp = iso(now)
        row: dict[str, object] = {"tool": tool, "job": job, "run_key": run_key, "event": event}
        row |= {"recipients": json.dumps(list(recipients)), "subject": subject, "body": body}
        row |= {"state": "queued", "attempts": 0, "next_attempt_at": stamp, "created_at": stamp}
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        return (
            self._changed(
                f"INSERT OR IGNORE INTO tool_job_mails ({columns}) VALUES ({marks})",  # noqa: S608
                list(row.values()),
            )
            == 1
        )

    def tool_job_mail(self, mail_id: int) -> ToolJobMail | None:
        row = self._first("tool_job_mails", "id = ?", [mail_id])
        return ToolJobMail.from_row(row) if row else None

    def tool_job_mails(
        self, tool: str | None = None, state: str | None = None
    ) -> list[ToolJobMail]:
        """The mails (of `tool`, in `state`, when given), oldest first."""
        rows = self._matching("tool_job_mails", tool=tool, state=state)
        return [ToolJobMail.from_row(row) for row in rows]

    def claim_tool_job_mails(
        self,
        claimer: str,
        limit: int = 20,
        now: datetime | None = None,
        *,
        claim_seconds: int = CLAIM_SECONDS,
    ) -> list[ToolJobMail]:
        """Claim for `claimer` up to `limit` due mails — queued and due, or claimed by a
        sender whose claim lapsed — spending one attempt of each; the mails claimed,
        oldest due first. One transaction: no other sender can claim them meanwhile."""
        moment = now or datetime.now(UTC)
        stamp = iso(moment)
        until = iso(moment + timedelta(seconds=claim_seconds))
        with self.transaction():
            self._changed(
                "UPDATE tool_job_mails SET state = 'failed', claim_until = NULL, last_error = "
                "'the sender stopped while sending it, every time it was tried' "
                "WHERE state = 'sending' AND claim_until <= ? AND attempts >= ?",
                [stamp, MAX_ATTEMPTS],
            )
            due = self._query(
                "SELECT id FROM tool_job_mails WHERE (state = 'queued' AND next_attempt_at <= ?) "
                "OR (state = 'sending' AND claim_until <= ?) ORDER BY next_attempt_at, id LIMIT ?",
                [stamp, stamp, int(limit)],
            )
            ids = [row["id"] for row in due]
            for mail_id in ids:
                self._changed(
                    "UPDATE tool_job_mails SET state = 'sending', claimed_by = ?, "
                    "claim_until = ?, attempts = attempts + 1 WHERE id = ?",
                    [claimer, until, mail_id],
                )
            return [mail for mail_id in ids if (mail := self.tool_job_mail(mail_id))]

    def mark_tool_job_mail_sent(
        self, mail_id: int, now: datetime | None = None, *, note: str | None = None
    ) -> bool:
        """The claimed mail was taken by the relay (`note`: what it refused, if part of
        it); False when it was not being sent."""
        return (
            self._changed(
                "UPDATE tool_job_mails SET state = 'sent', sent_at = ?, claim_until = NULL, "
                "last_error = ? WHERE id = ? AND state = 'sending'",
                [iso(now), note, mail_id],
            )
            == 1
        )

    def mark_tool_job_mail_failed(
        self, mail_id: int, error: str, retry_at: datetime, *, max_attempts: int = MAX_ATTEMPTS
    ) -> ToolJobMail | None:
        """The claimed mail could not be sent: queued again for `retry_at`, or given up
        (`failed`) when it has had `max_attempts`; the mail as it is now, or None when it
        was not being sent."""
        changed = self._changed(
            "UPDATE tool_job_mails SET state = CASE WHEN attempts >= ? THEN 'failed' "
            "ELSE 'queued' END, next_attempt_at = ?, claim_until = NULL, last_error = ? "
            "WHERE id = ? AND state = 'sending'",
            [max_attempts, iso(retry_at), error, mail_id],
        )
        return self.tool_job_mail(mail_id) if changed == 1 else None

    def forget_tool_job_mails(self, before: datetime) -> int:
        """Delete the mails sent or given up that were queued before `before`; how many."""
        return self._changed(
            "DELETE FROM tool_job_mails WHERE state IN ('sent', 'failed') AND created_at < ?",
            [iso(before)],
        )
