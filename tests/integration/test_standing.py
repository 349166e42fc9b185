"""The daily re-check against the real local wiki: a member blocked after approval is
flagged once (by `ats members check` and by `ats renewal run`), shown to the admins
with the block's reason and expiry, never to the public and never on the wiki, and
cleared once unblocked. Nobody is suspended. A wiki that cannot be reached is one line,
and the members keep their standing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from markupsafe import escape

from bridge.testing import log_in
from membership import standing
from membership.standing import Finding
from membership.store import Store
from provisioning.dryrun import DryRunBackend
from provisioning.worker import provision_person
from tests import forked_cli
from tests.integration.conftest import WikiBot

GONE = "cannot reach the wiki at http://127.0.0.1:9/api.php: connection refused"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq7wDgO5m3m0n8rHj1bQ2pQ1pC2yq1zQ0S6c1VfQ9x1"


def api(wikibot: WikiBot, **params: Any) -> dict[str, Any]:
    response = requests.get(
        wikibot.wiki.api_url,
        params={**params, "action": "query", "format": "json", "formatversion": 2},
        timeout=30,
    )
    return response.json()["query"]


def block(wikibot: WikiBot, name: str, reason: str, *, unblock: bool = False) -> None:
    args = ["--performer", wikibot.wiki.admin_user, "--reason", reason]
    if unblock:
        args.append("--unblock")
    else:  # every client of this wiki is 127.0.0.1: an autoblock would block them all
        args += ["--expiry", "1 week", "--disable-autoblock"]
    out = wikibot.wiki.run_maintenance("blockUsers.php", *args, stdin=name + "\n")
    assert "succeeded" in out, out


def bot_edits(wikibot: WikiBot) -> int:
    changes = api(wikibot, list="recentchanges", rcuser="ClerkBot", rclimit="max", rcprop="ids")
    return len(changes["recentchanges"])


def entries(wikibot: WikiBot, action: str) -> list[Any]:
    return [e for e in wikibot.store().audit_log() if e.action == action]


def test_a_blocked_member_is_flagged_once_shown_to_admins_and_cleared(
    wikibot: WikiBot, bridge_app: Any
) -> None:
    member = f"Standing{uuid.uuid4().hex[:6]}"
    reason = f"Sockpuppetry ({member} test)"
    wikibot.wiki.create_user(member, f"pw-{uuid.uuid4().hex}")
    store = wikibot.store()
    account = provision_person(store, DryRunBackend(), member, [KEY])
    wikiid = api(wikibot, meta="siteinfo")["general"]["wikiid"]

    clean = wikibot.run("members", "check")
    assert clean.stdout.strip() == "checked 1 member: 0 newly flagged, 0 cleared, 0 not reachable"

    block(wikibot, member, reason)
    [user] = api(wikibot, list="users", ususers=member, usprop="blockinfo")["users"]
    expiry = user["blockexpiry"]  # e.g. 2026-12-07T16:40:02Z
    shown = standing.Finding("blocked", wiki=wikiid, expiry=expiry, reason=reason).describe()
    assert re.fullmatch(
        rf"blocked on {wikiid} until \d{{4}}-\d\d-\d\d \d\d:\d\d UTC: {re.escape(reason)}", shown
    )
    edits_before = bot_edits(wikibot)

    flagged = wikibot.run("members", "check")
    assert flagged.stdout.strip() == (
        f"checked 1 member: 1 newly flagged ({member}: {shown}), 0 cleared, 0 not reachable"
    )
    [entry] = entries(wikibot, "standing-flagged")
    assert entry.actor == "standing-check" and entry.evidence["member"] == member
    [found] = entry.evidence["found"]
    assert (found["kind"], found["wiki"], found["expiry"], found["reason"]) == (
        "blocked",
        wikiid,
        expiry,
        reason,
    )

    # The admins see it on their desk and on the member's page...
    admin = bridge_app.test_client()
    log_in(bridge_app, admin, "ChapterAdmin")
    desk = admin.get("/admin").get_data(as_text=True)
    review = desk[desk.index('id="members-to-review"') : desk.index('id="failed-jobs"')]
    assert f'href="/admin/member/{member}"' in review
    # The same finding, its end and the check's moment as dates in the reader's language.
    on_desk = re.compile(
        rf'blocked on {wikiid} until <time datetime="[^"]+">[^<]+ UTC</time>: '
        + re.escape(str(escape(reason)))
    )
    checked = entry.evidence["checked_at"].replace("+00:00", "Z")
    assert on_desk.search(review) and f'<time datetime="{checked}"' in review
    page = admin.get(f"/admin/member/{member}").get_data(as_text=True)
    assert on_desk.search(page) and "Nothing has been suspended" in page
    # ...the public does not, the wiki is not edited, and the account is not suspended.
    for path in ("/status", "/status.json"):
        public = bridge_app.test_client().get(path).get_data(as_text=True)
        assert member not in public and reason not in public, path
    assert bot_edits(wikibot) == edits_before
    assert not wikibot.store().account_of(member).suspended  # type: ignore[union-attr]
    assert wikibot.store().member_jobs(member) == []
    assert account.name

    # Again, by itself and as part of the daily renewal run: no second entry.
    again = wikibot.run("members", "check")
    assert "0 newly flagged" in again.stdout
    renewal = wikibot.run("renewal", "run")
    assert renewal.stdout.splitlines()[0].startswith("renewal ")
    assert renewal.stdout.strip().splitlines()[-1] == (
        "checked 1 member: 0 newly flagged, 0 cleared, 0 not reachable"
    )
    assert len(entries(wikibot, "standing-flagged")) == 1

    # Unblocked: cleared once, and off the desk.
    block(wikibot, member, "appeal accepted", unblock=True)
    cleared = wikibot.run("members", "check")
    assert cleared.stdout.strip() == (
        f"checked 1 member: 0 newly flagged, 1 cleared ({member}), 0 not reachable"
    )
    wikibot.run("members", "check")
    [gone] = entries(wikibot, "standing-cleared")
    assert gone.evidence["cleared"] == entry.evidence["found"]
    assert gone.evidence["standing"] == []
    assert len(entries(wikibot, "standing-flagged")) == 1
    desk = admin.get("/admin").get_data(as_text=True)
    review = desk[desk.index('id="members-to-review"') : desk.index('id="failed-jobs"')]
    assert member not in review and "None." in review
    page = admin.get(f"/admin/member/{member}").get_data(as_text=True)
    assert "nothing found at the last check" in page and shown not in page
    assert bot_edits(wikibot) == edits_before


def test_members_check_has_nothing_to_do_without_members(wikibot: WikiBot) -> None:
    result = wikibot.run("members", "check")
    assert result.stdout.strip() == "checked 0 members: 0 newly flagged, 0 cleared, 0 not reachable"


def test_an_unreachable_wiki_is_one_line_and_members_keep_their_standing(
    tmp_path: Path,
) -> None:
    config = tmp_path / "ats.toml"
    config.write_text(
        '[wiki]\napi = "http://127.0.0.1:9/api.php"\nrequest_page = "R"\n'
        '[bot]\nusername = "Bot"\n[store]\npath = "ats.sqlite"\n',
        "utf-8",
    )
    store = Store(tmp_path / "ats.sqlite")
    store.record_account("alice", "person", "Alice", 2001)
    standing.record(store, "Alice", [Finding("locked")])
    env = {k: v for k, v in os.environ.items() if k != "PYWIKIBOT_DIR"}
    result = forked_cli.run(["--config", str(config), "members", "check"], env=env, timeout=180)
    assert result.returncode == 1, result
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ats: ") and "127.0.0.1:9" in err[0], err
    kept = standing.standing_of(store, "Alice")
    assert kept is not None and kept.describe() == "locked (globally)"
    assert [e.action for e in store.audit_log() if e.action.startswith("standing-")] == [
        "standing-flagged"
    ]


@pytest.mark.process
def test_renewal_run_keeps_its_result_when_the_check_fails(wikibot: WikiBot) -> None:
    member = f"Lapsed{uuid.uuid4().hex[:6]}"
    provision_person(wikibot.store(), DryRunBackend(), member, [KEY])  # never paid
    # The wiki going away between the renewal and the check, which a test cannot time
    # with a real server: the CLI runs in its own process with the check failing so.
    script = (
        "import sys\n"
        "from bot import standing\n"
        "from bot.wiki import WikiUnreachable\n"
        "def wiki_gone(*args, **kwargs):\n"
        f"    raise WikiUnreachable({GONE!r})\n"
        "standing.check = wiki_gone\n"
        "from ats.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, "--config", str(wikibot.config), "renewal", "run"],
        capture_output=True,
        text=True,
        env=wikibot.env,
        timeout=180,
    )
    assert result.returncode == 1, result
    assert result.stdout.startswith("renewal ") and f"check by hand): {member}" in result.stdout
    assert result.stderr.strip() == f"ats: members check: {GONE}"


def test_a_check_asks_about_50_members_per_request(wikibot: WikiBot) -> None:
    store = wikibot.store()
    for i in range(120):  # accounts the wiki does not know: flagged as missing, once
        store.record_account(f"gone{i}", "person", f"Gone member {i}", 3000 + i)
    first = wikibot.run("members", "check").stdout.strip()
    assert first.startswith("checked 120 members: 120 newly flagged (Gone member 0: account")
    offset = wikibot.wiki.log_size()
    again = wikibot.run("members", "check").stdout.strip()
    assert again == "checked 120 members: 0 newly flagged, 0 cleared, 0 not reachable"
    # The site's information once, then list=users for 50, 50 and 20 names.
    assert wikibot.wiki.api_requests_since(offset) == 1 + 3
    assert len(entries(wikibot, "standing-flagged")) == 120
