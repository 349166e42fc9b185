"""The stand-in provider's data: one OAuth consumer with the codes and tokens it was given,
and the wiki's users as the provider describes them (profile, groups, rights).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ACCESS_TOKEN_SECONDS = 3600  # the expires_in the extension (REL1_39) answers
IDENTIFY_SECONDS = 100  # MediaWiki's identify JWT: exp = iat + 100
# An identity-only consumer ("User identity verification only"), as the project registers
# it: the profile and the identify JWT list this one grant, and the profile no rights.
CONSUMER_GRANTS = ("mwoauth-authonly",)
_RIGHTS = {
    "*": ("read", "createaccount", "edit", "createpage", "createtalk", "writeapi"),
    "user": ("move", "upload", "reupload", "minoredit", "editmyoptions", "sendemail"),
    "autoconfirmed": ("autoconfirmed", "editsemiprotected"),
    "sysop": ("block", "delete", "protect", "editinterface", "undelete"),
    "bot": ("bot", "highlimits", "noratelimit"),
}


@dataclass(frozen=True)
class DevUser:
    username: str
    central_id: int
    editcount: int = 0
    groups: tuple[str, ...] = ("*", "user")
    blocked: bool = False
    confirmed_email: bool = False
    registered: str = field(
        default_factory=lambda: (datetime.now(UTC) - timedelta(days=400)).strftime("%Y%m%d%H%M%S")
    )

    def rights(self) -> list[str]:
        return [right for group in self.groups for right in _RIGHTS.get(group, ())]

    def profile(self) -> dict[str, Any]:
        return {
            "sub": str(self.central_id),
            "username": self.username,
            "editcount": self.editcount,
            "confirmed_email": self.confirmed_email,
            "blocked": self.blocked,
            "registered": self.registered,
            "groups": list(self.groups),
            "rights": self.rights(),
        }


@dataclass
class Consumer:
    """The one registered consumer and what it was handed: OAuth 2.0 authorization codes
    and bearer tokens, OAuth 1.0a request and access tokens."""

    key: str
    secret: str
    callback_url: str
    callback_is_prefix: bool = False
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    spent_codes: set[str] = field(default_factory=set)  # exchanged once: "revoked"
    bearer: dict[str, tuple[DevUser, float]] = field(default_factory=dict)
    request_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    access_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def callback_ok(self, redirect_uri: str | None) -> bool:
        """Whether ``redirect_uri`` is the registered callback (or under it, when the
        consumer allows callbacks as a prefix)."""
        return redirect_uri == self.callback_url or bool(
            self.callback_is_prefix and redirect_uri and redirect_uri.startswith(self.callback_url)
        )
