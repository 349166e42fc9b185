"""A tool's page in a real browser (Debian's Chromium through playwright), on `ats bridge
serve` signed in through the OAuth handshake: the maintainer finds the tool on `/me`,
adds a co-maintainer, is told plainly why a name that is no member is refused (in
German too), removes the co-maintainer again, and the tool's history shows both
changes to an admin; the maintainer and the admin see the tool's databases and their
sizes, someone else nothing. Screenshots go to test-artifacts/bridge/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from membership.records import DatabaseUsage
from tests.integration.bridge_server import BridgeServer
from tests.integration.conftest import WikiBot
from tests.integration.test_bridge_browser import ADMIN_ID, NEWCOMER_ID, VETERAN_ID, Visitor


@pytest.fixture
def visitors(browser: Any) -> Iterator[Callable[[BridgeServer, str], Visitor]]:
    opened: list[Visitor] = []

    def open_one(bridge: BridgeServer, name: str) -> Visitor:
        opened.append(Visitor(browser, bridge, name))
        return opened[-1]

    yield open_one
    for visitor in opened:
        visitor.close()


def test_a_maintainer_adds_and_removes_a_co_maintainer_in_the_browser(
    wikibot: WikiBot,
    bridge_server: Callable[..., BridgeServer],
    visitors: Callable[[BridgeServer, str], Visitor],
) -> None:
    store = wikibot.store()
    store.record_account("veteran", "person", "Veteran", 2000)
    store.record_account("newcomer", "person", "Newcomer", 2001)
    store.record_account("mytool", "tool", "mytool", 3000)
    store.set_tool_maintainers("mytool", ["Veteran"], "test")
    mb = 1024 * 1024
    store.record_database_usage(
        [
            DatabaseUsage(
                "s3000", "tool", "mytool", "mytool", 12 * mb, 10 * mb, True,
                "2026-11-29T08:00:00+00:00", 1, "2026-11-30T11:44:00+00:00",
                (("s3000__cache", 12 * mb),),
            )
        ]
    )  # fmt: skip
    bridge = bridge_server()
    maintainer = visitors(bridge, "Veteran")
    page = maintainer.page
    maintainer.log_in("Veteran", VETERAN_ID, editcount=650)

    tools = page.locator("#tools")
    assert "Your tools" in tools.inner_text() and "maintainers: Veteran" in tools.inner_text()
    tools.get_by_role("link", name="mytool").click()
    page.wait_for_url(bridge.url + "/tool/mytool")
    assert page.locator("h1").inner_text() == "Tool mytool"
    databases = page.locator("#databases").inner_text()
    assert "Its database user is s3000" in databases
    assert "s3000__cache\t12.0 MB" in databases and "All its databases\t12.0 MB" in databases
    assert "Its databases hold more than the chapter's limit" in databases
    assert "The chapter's limit for all of them together: 10.0 MB." in databases
    maintainer.shot("20-tool-page")

    page.get_by_label("Wiki username of the new co-maintainer").fill("Newcomer")
    page.get_by_role("button", name="Add co-maintainer").click()
    page.wait_for_url(bridge.url + "/tool/mytool")
    assert maintainer.flash() == (
        "Newcomer is now a maintainer of mytool and can become it within a minute."
    )
    assert "The latest change is on its way to the login hosts." in page.content()
    rows = page.locator("#maintainers tr").all_inner_texts()
    assert [row.split("\t")[0].strip() for row in rows] == ["Newcomer", "Veteran (you)"]
    maintainer.shot("21-tool-co-maintainer-added")

    page.get_by_label("Wiki username of the new co-maintainer").fill("Nobody")
    page.get_by_role("button", name="Add co-maintainer").click()
    assert maintainer.flash() == (
        "Nobody is not a member: only a wiki user who holds a shell account can be a co-maintainer."
    )
    maintainer.shot("22-tool-refused")
    maintainer.goto("/language?language=de&next=/tool/mytool")  # the selector's choice
    page.get_by_label("Wiki-Benutzername des neuen Co-Maintainers").fill("Newcomer")
    page.get_by_role("button", name="Co-Maintainer hinzufügen").click()
    assert maintainer.flash() == "Newcomer ist bereits Maintainer von mytool."
    maintainer.goto("/language?language=en&next=/tool/mytool")

    page.locator("#maintainers tr", has_text="Newcomer").get_by_role(
        "button", name="Remove"
    ).click()
    assert maintainer.flash() == "Newcomer is no longer a maintainer of mytool."
    assert store.tool_maintainers_set("mytool") == ("Veteran",)
    assert page.get_by_role("button", name="Remove").count() == 0  # never the last one
    assert maintainer.csp_errors == []

    admin = visitors(bridge, "ChapterAdmin")
    admin.log_in("ChapterAdmin", ADMIN_ID)
    admin.goto("/tool/mytool")
    history = admin.page.locator("#history").inner_text()
    assert "Veteran added Newcomer as a maintainer." in history
    assert "Veteran removed Newcomer from the maintainers." in history
    assert admin.page.get_by_role("button", name="Add co-maintainer").count() == 0
    assert "s3000__cache\t12.0 MB" in admin.page.locator("#databases").inner_text()
    admin.shot("23-tool-history-for-admins")

    other = visitors(bridge, "Newcomer")
    other.log_in("Newcomer", NEWCOMER_ID, editcount=12)
    assert other.goto("/tool/mytool").status == 403
    assert "Only the maintainers of mytool can change its maintainers." in (
        other.page.locator("main").inner_text()
    )
    assert "s3000" not in other.page.content()
    store.close()
