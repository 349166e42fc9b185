"""The yearly renewal end to end: a reminder on the real wiki's talk page (once, never
to a member who opted out), then a lapsed member's account suspended in a real slapd
by the worker, and restored once they pay again."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from ats.config import load_config
from ats.wiring import run_renewal
from membership.store import Store
from policies.fees import load_fees
from provisioning.backend import NOLOGIN
from provisioning.ldap import LdapBackend
from provisioning.worker import provision_person, run_once
from tests.integration.conftest import WikiBot
from tests.integration.slapd import Slapd

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq7wDgO5m3m0n8rHj1bQ2pQ1pC2yq1zQ0S6c1VfQ9x1"
FEES = load_fees()


def talk_revisions(wikibot: WikiBot, title: str) -> list[dict[str, Any]]:
    response = requests.get(
        wikibot.wiki.api_url,
        params={
            "action": "query",
            "list": "recentchanges",
            "rctitle": title,
            "rcprop": "user|comment|flags|ids",
            "rclimit": "max",
            "format": "json",
            "formatversion": 2,
        },
        timeout=30,
    )
    return response.json()["query"]["recentchanges"]


def pay(store: Store, member: str, on: date, reference: str) -> None:
    store.record_payment(
        member,
        amount=FEES.annual_fee,
        currency=FEES.currency,
        paid_on=on.isoformat(),
        method="bank",
        reference=reference,
        recorded_by="Treasurer",
    )


def shell(server: Slapd, name: str) -> str:
    [person] = server.search(server.base_dn, f"(uid={name})")
    return person["loginShell"][0]


def test_reminder_then_suspension_then_restore(
    wikibot: WikiBot, slapd: Slapd, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ATS_BOT_PASSWORD", wikibot.wiki.bot_password)
    tag = uuid.uuid4().hex[:6]
    member, quiet = f"Renewer{tag}", f"Quiet{tag}"
    talk, quiet_talk = f"User talk:{member}", f"User talk:{quiet}"
    config = load_config(wikibot.config)
    store = wikibot.store()
    backend = LdapBackend(slapd.url, slapd.base_dn, slapd.root_dn, slapd.password)
    accounts = {n: provision_person(store, backend, n, [KEY]).name for n in (member, quiet)}
    today = datetime.now(UTC).date()
    for name in (member, quiet):
        pay(store, name, today - timedelta(days=350), f"first-{name}")
    wikibot.wiki.edit_as(
        wikibot.wiki.admin_user, quiet_talk, "{{ATS no reminders}}\nHello.\n", "opt out"
    )

    first = run_renewal(config, today=today)
    assert first.posted == [member], first.summary()
    assert quiet in first.skipped and "ATS no reminders" in first.skipped[quiet]
    renews = today - timedelta(days=350) + timedelta(days=365)
    text = wikibot.wiki.page_text(talk)
    assert f"== Your American Toolserver membership renews on {renews.isoformat()} ==" in text
    assert "[[User:ClerkBot|ClerkBot]]" in text  # signed by the bot
    assert config.bridge.url in text and "{{ATS no reminders}}" in text
    for private in ("waiver", "Waiver", "20.00", "USD", "$"):
        assert private not in text, private
    [edit] = talk_revisions(wikibot, talk)
    assert edit["user"] == "ClerkBot" and edit["bot"] is True
    assert "renewal reminder" in edit["comment"]
    assert wikibot.wiki.page_text(quiet_talk) == "{{ATS no reminders}}\nHello."

    second = run_renewal(config, today=today)
    assert second.posted == [] and second.skipped == {}, second.summary()
    assert len(talk_revisions(wikibot, talk)) == 1
    assert len(talk_revisions(wikibot, quiet_talk)) == 1  # only the member's own edit

    dry = run_renewal(config, today=today + timedelta(days=10), dry_run=True)
    assert dry.posted == [member]  # the 7-day reminder is due then, but nothing is written
    assert len(talk_revisions(wikibot, talk)) == 1

    # The year and the grace period run out: both are suspended in the directory.
    late = renews + timedelta(days=FEES.grace_days + 1)
    lapsed = run_renewal(config, today=late)
    assert sorted(lapsed.suspended) == sorted([member, quiet]), lapsed.summary()
    assert lapsed.posted == []
    assert run_renewal(config, today=late).suspended == []  # once
    while run_once(store, backend) is not None:
        pass
    assert shell(slapd, accounts[member]) == NOLOGIN
    assert shell(slapd, accounts[quiet]) == NOLOGIN
    assert [s.member for s in store.suspensions()] == sorted([member, quiet])
    assert any(a.action == "lapsed-suspension-queued" for a in store.audit_log())

    # The member pays again: their account comes back; the other stays suspended.
    pay(store, member, late, f"second-{member}")
    renewed = run_renewal(config, today=late)
    assert renewed.restored == [member], renewed.summary()
    while run_once(store, backend) is not None:
        pass
    assert shell(slapd, accounts[member]) == backend.shell
    assert shell(slapd, accounts[quiet]) == NOLOGIN
    assert backend.describe(accounts[member]).keys == (KEY,)  # type: ignore[union-attr]
    assert run_renewal(config, today=late).restored == []
    assert len(talk_revisions(wikibot, talk)) == 1  # no talk page edit for any of this
