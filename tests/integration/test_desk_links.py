"""The admins' desk against the real local wiki: the links it builds from the configured
wiki lead where they say — the request's section, the revision that holds a decision,
and that edit's diff."""

from __future__ import annotations

import re

import requests

from bridge.testing import log_in
from tests.integration.conftest import WikiBot

VETERAN = "Account request: Veteran"
DECLINE = "{{ATS decline|too new; try again next year}}"


def test_the_desks_links_lead_to_the_section_and_the_decisions_revision(
    wikibot: WikiBot, bridge_app
) -> None:
    wikibot.file("Veteran", VETERAN)
    wikibot.cycle()
    wikibot.append("ChapterAdmin", VETERAN, f":{DECLINE} ~~~~")
    wikibot.cycle()
    admin = bridge_app.test_client()
    log_in(bridge_app, admin, "ChapterAdmin")
    html = admin.get("/admin/member/Veteran").get_data(as_text=True)
    assert "Reason given: too new; try again next year" in html

    index = wikibot.wiki.api_url.rsplit("/", 1)[0] + "/index.php"
    revision = re.search(
        rf'href="({re.escape(index)}\?oldid=(\d+))" class="ats-decision-revision"', html
    )
    diff = re.search(rf'href="({re.escape(index)}\?diff=(\d+))" class="ats-decision-diff"', html)
    section = re.search(r'href="([^"]+)" class="ats-wiki-section"', html)
    assert revision and diff and section
    assert revision.group(2) == diff.group(2)

    # The revision is the edit that added the decision, by the admin who wrote it.
    held = requests.get(revision.group(1), params={"action": "raw"}, timeout=30).text
    assert DECLINE in held
    before = requests.get(
        index, params={"oldid": revision.group(2), "direction": "prev", "action": "raw"}, timeout=30
    ).text
    assert DECLINE not in before
    [made] = [r for r in wikibot.revisions() if str(r["revid"]) == revision.group(2)]
    assert made["user"] == "ChapterAdmin"
    # The diff shows that edit adding the decision.
    shown = requests.get(diff.group(1), timeout=30).text
    assert "diff-addedline" in shown and "ATS decline" in shown

    # The section link is the page, and its anchor is the heading's id there.
    url, anchor = section.group(1).split("#", 1)
    page = requests.get(url.replace("&amp;", "&"), timeout=30).text
    assert f'id="{anchor}"' in page
