"""Eligibility as Meta-Wiki sees it, on a farm of two wikis joined by the real CentralAuth
(`devtools.devfarm`): requests are filed on metawiki, where the personas hardly edit; the
bot reads their global accounts and counts their recent edits on enwiki through its
own API.

Every request here is filed by an account of this module's own, naming the persona in
`username`, so the personas' edit counts stay as seeded for the other farm tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.devfarm import META, DevFarm, GlobalUserSpec
from tests.builders import request_wikitext
from tests.integration.conftest import WikiBot

FILER = "Request Filer"


def on_behalf_of(name: str) -> str:
    return request_wikitext(username=name)


@pytest.fixture(scope="module")
def filer(farm: DevFarm) -> str:
    farm.add_global_users([GlobalUserSpec(FILER, 3 * 365, {META: (50, 5)})])
    return FILER


@pytest.fixture
def metabot(farm: DevFarm, filer: str, tmp_path: Path, request: pytest.FixtureRequest) -> WikiBot:
    page = "Toolserver/Requests/" + re.sub(r"[^A-Za-z0-9_ -]", "_", request.node.name)
    farm.meta.edit_as(farm.meta.admin_user, page, "Requests for accounts.\n", "new request page")
    return WikiBot(farm.meta, tmp_path, page)


def reply_of(bot: WikiBot, heading: str) -> str:
    text = bot.text()
    start = text.index(f"== {heading} ==")
    following = text.find("\n== ", start + 1)
    body = text[start : following if following != -1 else len(text)]
    lines = [line for line in body.splitlines() if line.startswith(":{{ATS status|")]
    assert lines, f"no reply under {heading!r}:\n{body}"
    return lines[-1]


def state_of(bot: WikiBot, heading: str) -> str:
    [record] = [r for r in bot.store().requests(bot.page) if r.heading == heading]
    return record.state


def test_a_wikipedian_active_on_their_home_wiki_only_is_eligible(metabot: WikiBot) -> None:
    metabot.file(FILER, "Account request: Wanderer", on_behalf_of("Wanderer"))
    metabot.cycle()
    line = reply_of(metabot, "Account request: Wanderer")
    assert line.startswith(":{{ATS status|awaiting-identity}}"), line
    # Counted on enwiki, the busiest wiki, and nowhere else: 40 recent edits are enough.
    assert "40 edits in the last 365 days on enwiki" in line
    assert "on enwiki and" not in line
    assert "not locked" in line and "no blocks" in line


def test_recent_edits_are_added_up_across_wikis_until_the_policy_is_met(
    metabot: WikiBot,
) -> None:
    metabot.file(FILER, "Account request: Split Editor", on_behalf_of("Split Editor"))
    metabot.cycle()
    line = reply_of(metabot, "Account request: Split Editor")
    assert line.startswith(":{{ATS status|awaiting-identity}}"), line
    # 6 recent edits on enwiki (its busiest wiki), then 6 on metawiki.
    assert "12 edits in the last 365 days on enwiki and metawiki" in line


def test_a_wikipedian_active_nowhere_recently_is_refused_with_the_figure(
    metabot: WikiBot,
) -> None:
    metabot.file(FILER, "Account request: Long Gone", on_behalf_of("Long Gone"))
    metabot.cycle()
    line = reply_of(metabot, "Account request: Long Gone")
    assert line.startswith(":{{ATS status|not-eligible}}"), line
    # Asked where the edits are (enwiki); metawiki has none of theirs, so it is not asked.
    assert "0 edits in the last 365 days on enwiki where 10 are needed (10 short)" in line
    assert state_of(metabot, "Account request: Long Gone") == "not-eligible"


def test_a_globally_locked_account_is_refused_and_the_lock_named(
    farm: DevFarm, metabot: WikiBot
) -> None:
    # A locked account cannot edit anywhere: someone else files on its behalf.
    metabot.file(FILER, "Account request: Locked Out", on_behalf_of("Locked Out"))
    metabot.cycle()
    line = reply_of(metabot, "Account request: Locked Out")
    assert line.startswith(":{{ATS status|not-eligible}}"), line
    assert "the account is globally locked" in line


def test_a_block_on_another_wiki_refuses_and_names_wiki_expiry_and_reason(
    metabot: WikiBot,
) -> None:
    metabot.file(FILER, "Account request: Blocked Abroad", on_behalf_of("Blocked Abroad"))
    metabot.cycle()
    line = reply_of(metabot, "Account request: Blocked Abroad")
    assert line.startswith(":{{ATS status|not-eligible}}"), line
    match = re.search(
        r"blocked on <nowiki>enwiki</nowiki> \(<nowiki>Edit warring on enwiki</nowiki>; "
        r"expires (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)\)",
        line,
    )
    assert match, line


@pytest.mark.parametrize("name", ["Hidden Account", "Nobody Anywhere"])
def test_hidden_and_unknown_global_accounts(metabot: WikiBot, name: str) -> None:
    heading = f"Account request: {name}"
    metabot.file(FILER, heading, on_behalf_of(name))
    metabot.cycle()
    line = reply_of(metabot, heading)
    assert line.startswith(":{{ATS status|not-eligible}}"), line
    # CentralAuth answers a hidden account exactly as an unknown one to the bot: nothing
    # is said about it that the wiki does not say to everyone.
    assert f"there is no account named <nowiki>{name}</nowiki>" in line
    assert "edits" not in line


@pytest.fixture
def home_wiki_down(farm: DevFarm) -> Iterator[None]:
    farm.home.stop()
    try:
        yield
    finally:
        farm.home.start()


def test_a_silent_home_wiki_is_named_and_the_check_waits(
    farm: DevFarm, metabot: WikiBot, home_wiki_down: None
) -> None:
    metabot.file(FILER, "Account request: Wanderer", on_behalf_of("Wanderer"))
    result = metabot.cycle()
    assert "Traceback" not in result.stderr
    line = reply_of(metabot, "Account request: Wanderer")
    assert line.startswith(":{{ATS status|received}}"), line
    assert "enwiki did not answer when the recent edits were counted" in line
    assert state_of(metabot, "Account request: Wanderer") == "received"
    farm.home.start()
    metabot.cycle()
    line = reply_of(metabot, "Account request: Wanderer")
    assert line.startswith(":{{ATS status|awaiting-identity}}"), line
    assert "on enwiki" in line
