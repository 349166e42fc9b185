"""The daily re-check on a farm of two wikis joined by the real CentralAuth
(`devtools.devfarm`): the bot runs on metawiki; a member locked by a steward, or blocked on
enwiki, is flagged from `meta=globaluserinfo`, once, and cleared when it is lifted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from membership import standing
from provisioning.dryrun import DryRunBackend
from provisioning.worker import provision_person
from tests.integration.conftest import DevFarm, WikiBot

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq7wDgO5m3m0n8rHj1bQ2pQ1pC2yq1zQ0S6c1VfQ9x1"
MEMBER = "Later Locked"
CLEAN = "checked 1 member: 0 newly flagged, 0 cleared, 0 not reachable"


@pytest.fixture
def metabot(farm: DevFarm, tmp_path: Path, request: pytest.FixtureRequest) -> WikiBot:
    page = "Toolserver/Requests/" + re.sub(r"[^A-Za-z0-9_ -]", "_", request.node.name)
    farm.meta.edit_as(farm.meta.admin_user, page, "Requests for accounts.\n", "new request page")
    return WikiBot(farm.meta, tmp_path, page)


def flagged_entries(bot: WikiBot) -> list[dict[str, str]]:
    return [
        found
        for entry in bot.store().audit_log()
        if entry.action == "standing-flagged"
        for found in entry.evidence["found"]
    ]


def test_a_member_locked_later_is_flagged_from_centralauth(farm: DevFarm, metabot: WikiBot) -> None:
    provision_person(metabot.store(), DryRunBackend(), MEMBER, [KEY])
    assert metabot.run("members", "check").stdout.strip() == CLEAN

    farm.lock(MEMBER)
    try:
        locked = metabot.run("members", "check").stdout.strip()
        assert locked == (
            f"checked 1 member: 1 newly flagged ({MEMBER}: locked (globally)), "
            "0 cleared, 0 not reachable"
        )
        assert metabot.run("members", "check").stdout.strip() == CLEAN  # recorded once
        assert [f["kind"] for f in flagged_entries(metabot)] == ["locked"]
    finally:
        farm.unlock(MEMBER)
    cleared = metabot.run("members", "check").stdout.strip()
    assert cleared == f"checked 1 member: 0 newly flagged, 1 cleared ({MEMBER}), 0 not reachable"


def test_a_block_on_another_wiki_is_flagged_with_its_wiki_reason_and_expiry(
    farm: DevFarm, metabot: WikiBot
) -> None:
    provision_person(metabot.store(), DryRunBackend(), MEMBER, [KEY])
    reason = "Edit warring on enwiki (re-check test)"
    farm.block(MEMBER, "enwiki", reason=reason, expiry="1 week")
    try:
        out = metabot.run("members", "check").stdout.strip()
        [found] = flagged_entries(metabot)
        assert (found["kind"], found["wiki"], found["reason"]) == ("blocked", "enwiki", reason)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", found["expiry"]), found
        shown = standing.Finding.from_dict(found).describe()
        assert shown.startswith("blocked on enwiki until ") and shown.endswith(f": {reason}")
        assert (
            out
            == f"checked 1 member: 1 newly flagged ({MEMBER}: {shown}), 0 cleared, 0 not reachable"
        )
    finally:
        out = farm.wiki("enwiki").run_maintenance(
            "blockUsers.php",
            "--performer",
            farm.wiki("enwiki").admin_user,
            "--reason",
            "re-check test over",
            "--unblock",
            stdin=MEMBER + "\n",
        )
        assert "succeeded" in out, out
    assert "1 cleared" in metabot.run("members", "check").stdout
