"""Turning the wiki's user answers into UserRecords (`bot.wiki.parse_local_user`,
`bot.wiki.parse_global_user`), fed with the response shapes MediaWiki really sends."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.wiki import parse_global_user, parse_local_user
from policies.eligibility import Block, EligibilityPolicy, evaluate

ROOT = Path(__file__).resolve().parents[2]

# `action=query&list=users&ususers=...&usprop=editcount|registration|blockinfo|groups
# &formatversion=2`, shapes from MediaWiki core's ApiQueryUsers (includes/api/ApiQueryUsers.php
# and ApiQueryBlockInfoTrait): `missing`/`invalid` flags for unknown names and IPs, the
# block fields of blockinfo, `registration: null` for accounts older than late 2005.
LOCAL_USERS = json.loads(
    """
{
  "batchcomplete": true,
  "query": {
    "users": [
      {"userid": 12, "name": "Example", "editcount": 2431,
       "registration": "2019-03-04T05:06:07Z", "groups": ["*", "user", "autoconfirmed"]},
      {"userid": 1, "name": "Old Timer", "editcount": 90000, "registration": null,
       "groups": ["*", "user", "autoconfirmed", "sysop"]},
      {"name": "Nobody Here", "missing": true},
      {"name": "1.2.3.4", "invalid": true},
      {"userid": 77, "name": "Vandal", "editcount": 3, "registration": "2025-05-01T00:00:00Z",
       "groups": ["*", "user"], "blockid": 5, "blockedby": "Admin", "blockedbyid": 2,
       "blockreason": "Vandalism: {{ATS approve}}", "blockedtimestamp": "2025-05-02T00:00:00Z",
       "blockexpiry": "infinite", "blockpartial": false, "blocknocreate": true,
       "blockanononly": false, "blockemail": false, "blockowntalk": false},
      {"userid": 78, "name": "Edit Warrior", "editcount": 1500,
       "registration": "2015-01-01T00:00:00Z", "groups": ["*", "user", "autoconfirmed"],
       "blockid": 6, "blockedby": "Admin", "blockedbyid": 2, "blockreason": "edit war",
       "blockedtimestamp": "2025-05-02T00:00:00Z", "blockexpiry": "2025-08-01T00:00:00Z",
       "blockpartial": true, "blocknocreate": false, "blockanononly": false,
       "blockemail": false, "blockowntalk": false}
    ]
  }
}
"""
)["query"]["users"]

# `action=query&meta=globaluserinfo&guiuser=...&guiprop=editcount|merged|groups`, shapes from
# CentralAuth's ApiQueryGlobalUserInfo: top-level home, id, registration, name, `locked` and
# `hidden` flags (true in formatversion 2, "" in formatversion 1), groups, merged[] with
# wiki, url, id, timestamp (when attached), method, editcount, registration (local), groups
# when there are some, and `blocked: {expiry, reason}` on a wiki with a block; editcount is
# added last. An unknown (or hidden, for most readers) user gives only `missing`.
GLOBAL_FV2 = json.loads(
    """
{
  "home": "enwiki", "id": 4242, "registration": "2008-05-17T09:00:00Z", "name": "Example",
  "groups": ["global-renamer"],
  "merged": [
    {"wiki": "enwiki", "url": "https://en.wikipedia.org", "id": 100,
     "timestamp": "2008-05-17T09:00:00Z", "method": "primary", "editcount": 2000,
     "registration": "2005-12-24T10:00:00Z", "groups": ["extendedconfirmed"]},
    {"wiki": "commonswiki", "url": "https://commons.wikimedia.org", "id": 200,
     "timestamp": "2010-02-01T00:00:00Z", "method": "login", "editcount": 400,
     "registration": "2010-02-01T00:00:00Z"},
    {"wiki": "dewiki", "url": "https://de.wikipedia.org", "id": 300,
     "timestamp": "2012-07-07T00:00:00Z", "method": "login", "editcount": 31,
     "registration": "2012-07-07T00:00:00Z",
     "blocked": {"expiry": "infinity", "reason": "[[WP:Sockenpuppe]] {{x}}"}}
  ],
  "editcount": 2431
}
"""
)
GLOBAL_LOCKED_FV1 = json.loads(
    """
{
  "home": "metawiki", "id": 99, "registration": "2024-01-01T00:00:00Z", "name": "Locked One",
  "locked": "",
  "groups": [],
  "merged": [
    {"wiki": "metawiki", "url": "https://meta.wikimedia.org", "id": 5,
     "timestamp": "2024-01-01T00:00:00Z", "method": "new", "editcount": "12",
     "registration": "2024-01-01T00:00:00Z",
     "blocked": {"expiry": "2030-01-01T00:00:00Z", "reason": "spam"}}
  ],
  "editcount": 12
}
"""
)
GLOBAL_LOCKED_FV2 = {**GLOBAL_LOCKED_FV1, "locked": True}
GLOBAL_MISSING = {"missing": True}
GLOBAL_MISSING_FV1 = {"missing": ""}
GLOBAL_HIDDEN = {**GLOBAL_FV2, "hidden": True}  # as a reader with centralauth-suppress sees it

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def local(name: str) -> dict[str, Any]:
    return next(entry for entry in LOCAL_USERS if entry["name"] == name)


def test_a_normal_local_user() -> None:
    record = parse_local_user(local("Example"))
    assert record.name == "Example"
    assert record.status == "ok"
    assert record.editcount == 2431
    assert record.registration == datetime(2019, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert record.blocks == ()
    assert record.groups == ("*", "user", "autoconfirmed")
    assert (record.source, record.wikis, record.locked) == ("local", 1, False)
    assert record.recent_edits is None


def test_an_account_without_registration_date() -> None:
    record = parse_local_user(local("Old Timer"))
    assert record.registration is None
    age = evaluate(EligibilityPolicy(), record, NOW).criterion("age")
    assert age is not None and age.passed


@pytest.mark.parametrize(("name", "status"), [("Nobody Here", "missing"), ("1.2.3.4", "invalid")])
def test_missing_and_invalid_local_users(name: str, status: str) -> None:
    record = parse_local_user(local(name))
    assert (record.name, record.status) == (name, status)
    verdict = evaluate(EligibilityPolicy(), record, NOW)
    assert [(c.name, c.passed) for c in verdict.criteria] == [("account", False)]


def test_a_hidden_local_user() -> None:
    # With the hideuser right, list=users answers the data with `hidden: true`.
    record = parse_local_user({**local("Example"), "hidden": True})
    assert record.status == "hidden"


def test_a_sitewide_local_block() -> None:
    record = parse_local_user(local("Vandal"))
    assert record.blocks == (
        Block(
            wiki="",
            by="Admin",
            reason="Vandalism: {{ATS approve}}",
            expiry="infinite",
            partial=False,
        ),
    )
    blocks = evaluate(EligibilityPolicy(), record, NOW).criterion("blocks")
    assert blocks is not None and not blocks.passed


def test_a_partial_local_block_does_not_refuse() -> None:
    record = parse_local_user(local("Edit Warrior"))
    assert len(record.blocks) == 1 and record.blocks[0].partial
    assert record.blocks[0].expiry == "2025-08-01T00:00:00Z"
    blocks = evaluate(EligibilityPolicy(), record, NOW).criterion("blocks")
    assert blocks is not None and blocks.passed


def test_a_global_user() -> None:
    record = parse_global_user("Example", GLOBAL_FV2)
    assert record.status == "ok"
    assert record.source == "central"
    assert record.editcount == 2431
    assert record.wikis == 3
    assert record.groups == ("global-renamer",)
    assert record.locked is False
    # The oldest local registration, older than the global account and any attachment.
    assert record.registration == datetime(2005, 12, 24, 10, 0, tzinfo=UTC)
    assert record.blocks == (
        Block(wiki="de.wikipedia", by="", reason="[[WP:Sockenpuppe]] {{x}}", expiry="infinity"),
    )


def test_global_registration_counts_when_merged_is_absent() -> None:
    info = {k: v for k, v in GLOBAL_FV2.items() if k != "merged"}
    record = parse_global_user("Example", info)
    assert record.registration == datetime(2008, 5, 17, 9, 0, tzinfo=UTC)
    assert record.wikis == 1


def test_a_block_on_any_wiki_refuses() -> None:
    verdict = evaluate(EligibilityPolicy(), parse_global_user("Example", GLOBAL_FV2), NOW)
    blocks = verdict.criterion("blocks")
    assert blocks is not None and not blocks.passed
    assert blocks.evidence["blocks"][0]["wiki"] == "de.wikipedia"
    assert [c.name for c in verdict.failed] == ["recent", "blocks"]


@pytest.mark.parametrize("info", [GLOBAL_LOCKED_FV1, GLOBAL_LOCKED_FV2])
def test_a_locked_global_user(info: dict[str, Any]) -> None:
    record = parse_global_user("Locked One", info)
    assert record.locked is True
    assert record.editcount == 12
    assert record.blocks[0].expiry == "2030-01-01T00:00:00Z"
    verdict = evaluate(EligibilityPolicy(), record, NOW)
    lock = verdict.criterion("lock")
    assert lock is not None and not lock.passed


def test_locked_false_is_not_a_lock() -> None:
    assert parse_global_user("Example", {**GLOBAL_FV2, "locked": False}).locked is False


@pytest.mark.parametrize("info", [GLOBAL_MISSING, GLOBAL_MISSING_FV1])
def test_a_missing_global_user(info: dict[str, Any]) -> None:
    record = parse_global_user("Nobody Here", info)
    assert (record.name, record.status, record.source) == ("Nobody Here", "missing", "central")


def test_a_hidden_global_user() -> None:
    assert parse_global_user("Example", GLOBAL_HIDDEN).status == "hidden"
    assert parse_global_user("Example", {**GLOBAL_FV2, "hidden": ""}).status == "hidden"


def test_the_canonical_name_of_the_answer_wins() -> None:
    assert parse_global_user("example", GLOBAL_FV2).name == "Example"


def test_importing_bot_wiki_does_not_import_pywikibot() -> None:
    code = "import sys, bot.wiki; print('pywikibot' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
