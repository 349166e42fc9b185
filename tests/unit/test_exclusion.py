"""The {{bots}} / {{nobots}} exclusion convention as the clerk (ClerkBot) reads it."""

from __future__ import annotations

import pytest

from bot.rules.exclusion import bot_may_edit

ME = "ClerkBot"


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("== Requests ==\nNo exclusion here.", True),
        ("", True),
        ("{{nobots}}", False),
        ("{{Nobots}}", False),
        ("{{ nobots }}", False),
        ("{{bots}}", True),
        ("{{bots|deny=all}}", False),
        ("{{bots|deny=All}}", False),
        ("{{bots|deny=ClerkBot}}", False),
        ("{{bots|deny=SomeBot, ClerkBot}}", False),
        ("{{bots|deny=clerkBot}}", False),
        ("{{bots|deny=Clerk_Bot}}", True),
        ("{{bots|deny=Other}}", True),
        ("{{bots|deny=none}}", True),
        ("{{bots|allow=none}}", False),
        ("{{bots|allow=all}}", True),
        ("{{bots|allow=ClerkBot}}", True),
        ("{{bots|allow=Other,ClerkBot}}", True),
        ("{{bots|allow=Other}}", False),
        ("{{Bots|deny=ClerkBot}}", False),
        ("text {{bots|deny=ClerkBot}} and more {{other|x}}", False),
        ("{{box|content={{nobots}}}}", False),
    ],
)
def test_live_templates(text: str, allowed: bool) -> None:
    assert bot_may_edit(text, ME) is allowed


@pytest.mark.parametrize(
    "text",
    [
        "<!-- {{nobots}} -->",
        "<!-- {{bots|deny=all}} -->",
        "<nowiki>{{nobots}}</nowiki>",
        "<nowiki>{{bots|deny=ClerkBot}}</nowiki>",
        "<nowiki>{{bots|allow=none}}</nowiki> and <!--\n{{nobots}}\n-->",
        "Please do not write nobots or {{tl|bots}} here.",
    ],
)
def test_templates_that_are_not_live_are_ignored(text: str) -> None:
    assert bot_may_edit(text, ME) is True


def test_the_name_is_compared_like_a_username() -> None:
    assert bot_may_edit("{{bots|deny=Clerk Bot}}", "Clerk_Bot") is False
    assert bot_may_edit("{{bots|allow=Clerk_Bot}}", "clerk Bot") is True
