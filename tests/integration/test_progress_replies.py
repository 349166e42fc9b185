"""One bot reply per change of what the requester is told, on the real wiki: gate steps on
the bridge between two cycles make one reply, a cycle with nothing new makes no edit
(each cycle is a fresh `ats bot run --once` process, so nothing is remembered but the
store), provisioning after "approved" adds no line, and the done reply gives the first
commands. The replies are counted from the page's history."""

from __future__ import annotations

import re
import time
from datetime import date
from typing import Any

from bridge.testing import log_in
from tests.builders import ssh_public_key
from tests.integration.conftest import WikiBot
from tests.integration.test_clerk import bot_replies, section
from tests.waiting import wait_until

HEADING = "Account request: Veteran"
HOST = "login.toolserver.example"


def csrf(client: Any, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(True))
    assert found, path
    return found.group(1)


def bot_edits(wikibot: WikiBot) -> list[dict[str, Any]]:
    return [r for r in wikibot.revisions() if r["user"] == wikibot.wiki.bot_user]


def states_said(wikibot: WikiBot) -> list[str]:
    lines = bot_replies(section(wikibot.text(), HEADING))
    return [line.split("|", 1)[1].split("}}", 1)[0] for line in lines]


def test_one_reply_per_change_of_state(wikibot: WikiBot, bridge_app: Any) -> None:
    wikibot.configure(extra=f'\n[provisioning]\nlogin_host = "{HOST}"\n')
    wikibot.file("Veteran", HEADING)
    wikibot.cycle()
    store = wikibot.store()
    [record] = store.requests(wikibot.page)
    assert states_said(wikibot) == ["awaiting-identity"]

    requester = bridge_app.test_client()
    log_in(bridge_app, requester, "Veteran")
    wikibot.cycle()
    assert states_said(wikibot) == ["awaiting-identity", "awaiting-requester"]
    line = bot_replies(section(wikibot.text(), HEADING))[-1]
    assert line.count("fee") == 1 and line.count("identif") == 1, line
    edits = len(bot_edits(wikibot))

    # Terms, then a cycle, then the key, then a cycle: the state does not change, so
    # the page does not either.
    token = csrf(requester, "/terms")
    version = bridge_app.extensions["ats_bridge"].terms.version
    requester.post("/terms", data={"csrf_token": token, "version": version})
    wikibot.cycle()
    requester.post("/keys", data={"csrf_token": token, "key": ssh_public_key() + " laptop"})
    wikibot.cycle()
    assert len(bot_edits(wikibot)) == edits
    assert states_said(wikibot) == ["awaiting-identity", "awaiting-requester"]

    # Identification and the fee between two cycles: one reply for both.
    admin = bridge_app.test_client()
    log_in(bridge_app, admin, "ChapterAdmin")
    token = csrf(admin, "/admin/member/Veteran")
    admin.post(
        "/admin/member/Veteran/identification", data={"csrf_token": token, "method": "in person"}
    )
    admin.post(
        "/admin/member/Veteran/payment",
        data={
            "csrf_token": token,
            "amount": "20.00",
            "currency": "USD",
            "paid_on": date.today().isoformat(),
            "method": "bank",
            "reference": "REF-1",
        },
    )
    assert store.request_by_id(record.id).state == "awaiting-approval"
    wikibot.cycle()
    wikibot.cycle()  # a second process: the store says it was said
    assert len(bot_edits(wikibot)) == edits + 1
    assert states_said(wikibot)[-1] == "awaiting-approval"

    wikibot.append("ChapterAdmin", HEADING, ":{{ATS approve}} ~~~~")
    wikibot.cycle()
    assert states_said(wikibot)[-1] == "approved"
    edits = len(bot_edits(wikibot))

    # The worker takes the job: "creating the account now" says nothing "approved"
    # did not, so no line; the done reply follows.
    store.update_request(record.id, state="provisioning")
    wikibot.cycle()
    wikibot.cycle()
    assert len(bot_edits(wikibot)) == edits
    assert [r.state for r in store.replies(record.id)][-1] == "provisioning"
    store.update_request(record.id, state="done", detail={"account": "veteran"})
    wikibot.cycle()
    wikibot.cycle()
    assert len(bot_edits(wikibot)) == edits + 1
    assert states_said(wikibot) == [
        "awaiting-identity",
        "awaiting-requester",
        "awaiting-approval",
        "approved",
        "done",
    ]
    done = bot_replies(section(wikibot.text(), HEADING))[-1]
    assert f"<code>ssh veteran@{HOST}</code>" in done, done
    assert "become" not in done


def test_steps_in_a_burst_make_one_reply_once_they_rest(wikibot: WikiBot, bridge_app: Any) -> None:
    """With `progress_settle`, logging in and then taking two steps at once is one reply,
    said once the steps have rested, naming only what is left."""
    wikibot.file("Veteran", HEADING)
    wikibot.cycle()
    settle = 20
    text = wikibot.config.read_text("utf-8")
    wikibot.config.write_text(text.replace("progress_settle = 0", f"progress_settle = {settle}"))
    edits = len(bot_edits(wikibot))

    requester = bridge_app.test_client()
    log_in(bridge_app, requester, "Veteran")
    token = csrf(requester, "/terms")
    version = bridge_app.extensions["ats_bridge"].terms.version
    requester.post("/terms", data={"csrf_token": token, "version": version})
    requester.post("/keys", data={"csrf_token": token, "key": ssh_public_key() + " laptop"})
    started = time.monotonic()
    wikibot.cycle()
    if time.monotonic() - started < settle:  # the steps had not rested: nothing said yet
        assert len(bot_edits(wikibot)) == edits

    def said() -> bool:
        wikibot.cycle()
        return len(bot_edits(wikibot)) > edits

    wait_until(said, settle + 90, interval=2, what="the reply once the steps rested")
    assert len(bot_edits(wikibot)) == edits + 1
    assert states_said(wikibot) == ["awaiting-identity", "awaiting-requester"]
    line = bot_replies(section(wikibot.text(), HEADING))[-1]
    assert "settle the yearly fee" in line and "identify privately" in line, line
    assert "accept the terms" not in line and "add an SSH" not in line, line
    wikibot.cycle()
    assert len(bot_edits(wikibot)) == edits + 1
