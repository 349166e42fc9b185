"""Seeding a dev wiki: requester accounts whose edit histories are real revisions in the
past, a chapter admin, a blocked user and the bot's kill-switch page.

The plan (passwords, and the instant "now" the histories are relative to) is kept in the
wiki's state file before anything is written, so a seed is idempotent and an interrupted
one resumes with the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devtools.devwiki.history import Persona, iso, mw_timestamp, parse_iso
from devtools.devwiki.local import LocalWiki, random_password

KILL_SWITCH_PAGE = "Toolserver/Run"


@dataclass(frozen=True)
class SeedUser:
    """A seeded account as intended by ``DevWiki.seed()``."""

    name: str
    password: str
    editcount: int
    registered: datetime
    blocked: bool


_YEAR = 365
PERSONAS: tuple[Persona, ...] = (
    Persona("ChapterAdmin", 5 * _YEAR, 600, 30, sysop=True),
    Persona("Veteran", 6 * _YEAR, 650, 40),
    Persona("Newcomer", 20, 12, 12),
    Persona("Blocked Veteran", 7 * _YEAR, 700, 40, blocked=True),
    Persona("Dormant", 9 * _YEAR, 900, 0, quiet_days=2 * _YEAR + 30),
    Persona("Ярослава", 5 * _YEAR, 560, 30),
    Persona("משתמש ותיק", 5 * _YEAR, 560, 30),
    Persona("Toolsmith", 4 * _YEAR, 580, 30),
)


def seed(wiki: LocalWiki) -> dict[str, SeedUser]:
    """Create the requester accounts, their past histories, the block and the kill switch
    (once); every seeded account by name."""
    seed_state = wiki._state().get("seed")
    if not seed_state:
        seed_state = {
            "now": iso(datetime.now(UTC)),
            "done": False,
            "passwords": {p.name: random_password(24) for p in PERSONAS},
        }
        wiki._update_state(seed=seed_state)
    now = parse_iso(seed_state["now"])
    users = {
        p.name: SeedUser(
            name=p.name,
            password=seed_state["passwords"][p.name],
            editcount=p.edits,
            registered=now - timedelta(days=p.age_days),
            blocked=p.blocked,
        )
        for p in PERSONAS
    }
    if seed_state.get("done"):
        return users

    for persona in PERSONAS:
        wiki.create_user(persona.name, users[persona.name].password, sysop=persona.sysop)
    wiki.import_history(PERSONAS, now)
    wiki.run_maintenance("initEditCount.php")
    wiki._set_registrations({n: mw_timestamp(u.registered) for n, u in users.items()})
    for persona in PERSONAS:
        if persona.blocked:
            wiki._block(persona.name)
    wiki.edit_as(wiki.admin_user, KILL_SWITCH_PAGE, "true", "Bot kill switch: true = may run")
    wiki.run_maintenance("rebuildrecentchanges.php")
    wiki.run_maintenance("initSiteStats.php", "--update")
    seed_state["done"] = True
    wiki._update_state(seed=seed_state)
    return users
