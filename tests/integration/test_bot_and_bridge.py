"""The bot, the bridge and provisioning agree through the store: a requester's steps
on the bridge move the request, the bot says so on the real wiki without a private
fact, and once approved the account appears in a real directory."""

from __future__ import annotations

import re
from datetime import date

from bridge.testing import log_in
from tests.builders import ssh_public_key
from tests.integration.conftest import WikiBot
from tests.integration.slapd import Slapd
from tests.integration.test_clerk import bot_replies, section

HEADING = "Account request: Veteran"


def csrf(client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(True))
    assert found, path
    return found.group(1)


def test_bridge_steps_are_posted_on_wiki_by_the_bot(wikibot: WikiBot, bridge_app) -> None:
    wikibot.file("Veteran", HEADING)
    wikibot.cycle()
    store = wikibot.store()
    [record] = store.requests(wikibot.page)
    assert record.state == "awaiting-identity"

    # The requester logs in (identity proven): the bridge moves the request...
    requester = bridge_app.test_client()
    log_in(bridge_app, requester, "Veteran")
    assert store.request_by_id(record.id).state == "awaiting-requester"
    # ...and the bot, on its next cycle, says so on-wiki.
    wikibot.cycle()
    line = bot_replies(section(wikibot.text(), HEADING))[-1]
    assert line.startswith(":{{ATS status|awaiting-requester}}")
    assert "logged in with the wiki account" in line and "settle the yearly fee" in line
    assert "identify privately to a chapter admin" in line

    token = csrf(requester, "/terms")
    version = bridge_app.extensions["ats_bridge"].terms.version
    requester.post("/terms", data={"csrf_token": token, "version": version})
    key = ssh_public_key()
    requester.post("/keys", data={"csrf_token": token, "key": key + " laptop"})
    requester.post("/waiver", data={"csrf_token": token, "reason": "PRIVATE-WAIVER-REASON"})

    admin = bridge_app.test_client()
    log_in(bridge_app, admin, "ChapterAdmin")
    token = csrf(admin, "/admin/member/Veteran")
    admin.post(
        "/admin/member/Veteran/identification",
        data={"csrf_token": token, "method": "PRIVATE-ID-METHOD"},
    )
    admin.post(
        "/admin/member/Veteran/payment",
        data={
            "csrf_token": token,
            "amount": "20.00",
            "currency": "USD",
            "paid_on": date.today().isoformat(),
            "method": "PRIVATE-PAY-METHOD",
            "reference": "PRIVATE-REF-123",
        },
    )
    assert store.request_by_id(record.id).state == "awaiting-approval"

    revisions = len(wikibot.revisions())
    wikibot.cycle()
    assert len(wikibot.revisions()) == revisions + 1  # one edit says it all
    line = bot_replies(section(wikibot.text(), HEADING))[-1]
    assert line.startswith(":{{ATS status|awaiting-approval}}")
    assert "fee: settled" in line and "identification: received" in line

    # The admin approves on-wiki: every gate is passed.
    wikibot.append("ChapterAdmin", HEADING, ":{{ATS approve}} ~~~~")
    wikibot.cycle()
    line = bot_replies(section(wikibot.text(), HEADING))[-1]
    assert line.startswith(":{{ATS status|approved}}")
    assert store.request_by_id(record.id).state == "approved"

    # Provisioning: the worker creates the account in the real directory...
    server = Slapd.start()
    try:
        wikibot.configure(
            extra=f"""
[provisioning]
backend = "ldap"
ldap_url = "{server.url}"
base_dn = "{server.base_dn}"
bind_dn = "{server.root_dn}"
login_host = "login.toolserver.example"
"""
        )
        done = wikibot.run("provision", "run", "--once", env={"ATS_LDAP_PASSWORD": server.password})
        assert "done" in done.stdout
        [person] = server.search(server.base_dn, "(uid=veteran)")
        assert person["sshPublicKey"] == [key]
    finally:
        server.stop()
    assert store.request_by_id(record.id).state == "done"
    # ...and the bot tells the requester how to log in.
    wikibot.cycle()
    line = bot_replies(section(wikibot.text(), HEADING))[-1]
    assert line.startswith(":{{ATS status|done}}")
    assert "<code><nowiki>veteran</nowiki></code>" in line
    assert "login.toolserver.example" in line

    wikibot.cycle()  # nothing more to say
    assert len(bot_replies(section(wikibot.text(), HEADING))) == 5

    text = wikibot.text()
    for private in ("PRIVATE", "waiver", "Waiver", "20.00", "USD"):
        assert private not in text, private
