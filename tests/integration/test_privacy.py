"""Nothing private leaks to the public side: markers planted in a waiver reason, an
identification method and a payment's reference and method are searched for on the
wiki page, the bot's output, the public pages and JSON, the bridge's log and the audit
log — through the real bridge (`ats bridge serve`), the real OAuth handshake and the
real wiki."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date

from tests.builders import ssh_public_key
from tests.integration.bridge_server import BridgeServer
from tests.integration.conftest import WikiBot
from tests.integration.test_bridge_oauth import VETERAN_ID, Browser

MARKERS = ("MARKERWAIVER7", "MARKERIDMETHOD7", "MARKERREF7", "MARKERPAYMETHOD7")


def token(browser: Browser, url: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(url).text)
    assert found, url
    return found.group(1)


def test_no_private_fact_reaches_the_public_side(
    wikibot: WikiBot, bridge_server: Callable[..., BridgeServer]
) -> None:
    wikibot.file("Veteran", "Account request: Veteran")
    wikibot.cycle()
    bridge = bridge_server()

    bridge.oauth.login_as("Veteran", VETERAN_ID, editcount=650)
    veteran = Browser()
    assert veteran.get(bridge.url + "/login").url == bridge.url + "/me"
    csrf = token(veteran, bridge.url + "/me")
    key = ssh_public_key()
    posts = {"/keys": {"key": key}, "/waiver": {"reason": "I cannot pay MARKERWAIVER7"}}
    for path, data in posts.items():
        response = veteran.http.post(
            bridge.url + path, data={"csrf_token": csrf, **data}, allow_redirects=False, timeout=15
        )
        assert response.status_code in (302, 303), (path, response.text)

    bridge.oauth.login_as("ChapterAdmin", 3, editcount=600)
    admin = Browser()
    admin.get(bridge.url + "/login")
    csrf = token(admin, bridge.url + "/admin/member/Veteran")
    for path, data in {
        "/admin/member/Veteran/identification": {"method": "MARKERIDMETHOD7 call"},
        "/admin/member/Veteran/payment": {
            "amount": "20.00",
            "currency": "USD",
            "paid_on": date.today().isoformat(),
            "method": "MARKERPAYMETHOD7",
            "reference": "MARKERREF7",
        },
    }.items():
        response = admin.http.post(
            bridge.url + path, data={"csrf_token": csrf, **data}, allow_redirects=False, timeout=15
        )
        assert response.status_code in (302, 303), (path, response.text)

    cycle = wikibot.cycle()
    wiki_text = wikibot.text()
    assert ":{{ATS status|awaiting-requester}}" in wiki_text  # the bot did say something

    public = Browser()
    seen = {
        "wiki page": wiki_text,
        "bot output": cycle.stdout + cycle.stderr,
        "landing": public.get(bridge.url + "/").text,
        "status": public.get(bridge.url + "/status").text,
        "status.json": public.get(bridge.url + "/status.json").text,
        "bridge log": bridge.log(),
        "audit log": json.dumps([e.__dict__ for e in wikibot.store().audit_log()], default=str),
    }
    for where, text in seen.items():
        for marker in MARKERS:
            assert marker not in text, f"{marker} leaked into the {where}"
    for word in ("waiver", "Waiver", "20.00"):
        assert word not in wiki_text, word
    # The private facts are in the store, where they belong: the test planted them.
    store = wikibot.store()
    assert store.waivers("Veteran")[0].reason.endswith("MARKERWAIVER7")
    assert store.payments("Veteran")[0].reference == "MARKERREF7"
