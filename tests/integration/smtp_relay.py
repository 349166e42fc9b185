"""An SMTP relay on 127.0.0.1 for the tests (aiosmtpd): it keeps what it is given, and
can refuse, ask for a login, stop and start again on its port."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller as SMTPController
from aiosmtpd.smtp import AuthResult, LoginPassword

from ats.config import MailSettings


@dataclass
class Inbox:
    """What the SMTP server was given; `refuse` makes it answer DATA with that reply."""

    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    refuse: str | None = None
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login, password = (bytes(part).decode() for part in (data.login, data.password))
        self.logins.append((login, password))
        # Not handled here: the server answers 235 or 535 itself.
        return AuthResult(success=password == "relay-secret", handled=False)


class Relay:
    """An SMTP server on 127.0.0.1 that can be started and stopped on one port."""

    def __init__(self, port: int, **smtp: Any) -> None:
        self.port = port
        self.inbox = Inbox()
        self.smtp = smtp
        self._server: SMTPController | None = None

    def start(self) -> None:
        self._server = SMTPController(self.inbox, hostname="127.0.0.1", port=self.port, **self.smtp)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def settings(self, **changes: Any) -> MailSettings:
        return MailSettings(
            relay="127.0.0.1",
            port=self.port,
            sender="tools@ts.example",
            recipient_domain="ts.example",
            timeout=5,
            **changes,
        )
