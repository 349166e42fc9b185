"""Deterministic, realistic request pages for benchmarks (parsing here, posting elsewhere).

``generate_request_page(n, seed)`` writes a request page the way a busy Meta-Wiki page
looks: a preamble, ``n`` requests (accounts and tools, a few with a free-form heading
or a commented-out field, some from the same user twice), each with a signature, a
short discussion, one or two bot replies and now and then an admin decision, plus an
occasional discussion section between requests. About 1 KB per request.
"""

from __future__ import annotations

import random

USERNAMES = (
    "Example",
    "Alice Lovelace",
    "Bob_the_Builder",
    "Карл Маркс",
    "Фёдор",
    "משתמש לדוגמה",
    "مستخدم",
    "山田太郎",
    "李小龍",
    "Ünïcødé Üser",
    "Jane.Doe",
    "Zażółć",
    "Ελληνικά",
    "हिन्दी सदस्य",
    "Grace Hopper",
    "Linus",
)
ADMINS = ("AdminUser", "Chapter Admin")
BOT = "ClerkBot"
STATES = ("received", "awaiting-identity", "awaiting-requester", "not-eligible", "invalid")
PURPOSES = (
    "I run {{tl|citation bot}}-style maintenance scripts for [[Wikipedia:WikiProject Medicine]]"
    " and need a place to run them on a schedule, with a database replica close by.",
    "Hosting a small web tool that lists [[Special:NewPages|new pages]] in my language,"
    " written in Python with Flask. It is used by about 40 patrollers every day.",
    "Statistics on reference quality for {{u|Bar}} and the rest of the project; the current"
    " version runs on my laptop, which is switched off at night.",
    "A bot that fixes double redirects on three small wikis. It has a bot flag on all of them"
    " and has made 120,000 edits so far. '''No''' writes outside the main namespace.",
)
COMMENTS = (
    "Can you say more about the data you need? Would a dump be enough?",
    "Support, I have used this tool for years.",
    "What is the expected load on the database replicas?",
    "Is the source code already public somewhere?",
)
LICENCES = ("MIT", "GPL-3.0-or-later", "Apache-2.0", "AGPL-3.0-only", "BSD-3-Clause")


def _sig(user: str, rng: random.Random) -> str:
    minute, day = rng.randrange(60), rng.randrange(1, 29)
    return (
        f"[[User:{user}|{user}]] ([[User talk:{user}|talk]]) "
        f"{rng.randrange(24):02d}:{minute:02d}, {day} March 2025 (UTC)"
    )


def _request(i: int, rng: random.Random) -> str:
    user = rng.choice(USERNAMES)
    tool = i % 3 == 0
    kind = "Tool" if tool else "Account"
    name = f"tool-{i}" if tool else user
    heading = f"Request for a server account ({user})" if i % 17 == 5 else f"{kind} request: {name}"
    fields = [
        f" | type        = {'tool' if tool else 'account'}",
        f" | username    = {user}",
        f" | purpose     = {rng.choice(PURPOSES)}",
    ]
    if tool:
        fields += [
            f" | tool        = tool-{i}",
            f" | license     = {rng.choice(LICENCES)}",
            f" | source      = https://gitlab.wikimedia.org/toolforge-repos/tool-{i}",
            f" | maintainers = {user}, {rng.choice(USERNAMES)}",
        ]
    if i % 11 == 0:
        fields.append(" | lang        = <!-- optional: the language of replies -->")
    lines = [f"== {heading} ==", "{{ATS request", *fields, "}}", _sig(user, rng)]
    commenter = rng.choice(USERNAMES)
    lines += [
        f":{rng.choice(COMMENTS)} {_sig(commenter, rng)}",
        f"::Thanks, done. {_sig(user, rng)}",
    ]
    for state in rng.sample(STATES, rng.randint(1, 2)):
        lines.append(
            f":{{{{ATS status|{state}}}}} Checked: {rng.randrange(500, 90000):,} edits on "
            f"{rng.randrange(1, 30)} wikis, account {rng.randrange(1, 15)} years old, no blocks. "
            f"Next: log in at http://127.0.0.1:5000/ to confirm your identity. {_sig(BOT, rng)}"
        )
    if i % 7 == 0:
        decision = rng.choice(("{{ATS approve}}", "{{ATS hold|waiting for the source}}"))
        lines.append(f":{decision} {_sig(rng.choice(ADMINS), rng)}")
    return "\n".join(lines) + "\n\n"


def generate_request_page(n: int, seed: int = 0) -> str:
    """A request page with ``n`` requests, identical for identical arguments."""
    rng = random.Random(seed)
    parts = [
        "{{Toolserver/Header}}\nRequests for accounts on the chapter's server. "
        "Copy the example below into a new section.\n"
        "<!--\n== Account request: Example ==\n"
        "{{ATS request|type=account|username=Example}}\n-->\n\n"
    ]
    for i in range(n):
        if i % 50 == 25:
            parts.append(
                f"== Question about the fee ({i}) ==\nHow is the fee paid from abroad? "
                f"{_sig(rng.choice(USERNAMES), rng)}\n:By bank transfer. {_sig(ADMINS[0], rng)}\n\n"
            )
        parts.append(_request(i, rng))
    return "".join(parts)
