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
    for name in (member, quiet):  # the store's active keys are what the account gets
        store.add_ssh_key(name, type="ssh-ed25519", bits=256, key=KEY, fingerprint="SHA256:k")
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


def test_a_payment_or_waiver_recorded_mid_run_means_no_suspension(
    wikibot: WikiBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import wiki
    from membership import fund, obligations, waivers

    monkeypatch.setenv("ATS_BOT_PASSWORD", wikibot.wiki.bot_password)
    tag = uuid.uuid4().hex[:6]
    reminded, payer, waived = f"Reminded{tag}", f"Payer{tag}", f"Waived{tag}"
    config = load_config(wikibot.config)
    store = wikibot.store()
    today = datetime.now(UTC).date()
    long_ago = today - timedelta(days=365 + FEES.grace_days + 5)
    for n, name in enumerate((reminded, payer, waived)):
        store.record_account(name.lower(), "person", name, 20000 + n)
    pay(store, reminded, today - timedelta(days=350), f"r-{tag}")
    pay(store, payer, long_ago, f"p-{tag}")
    pay(store, waived, long_ago, f"w-{tag}")
    store.record_payment(
        "Donor", amount=10 * FEES.annual_fee, currency=FEES.currency,
        paid_on=today.isoformat(), method="gift", reference=f"g-{tag}", recorded_by="Treasurer",
    )  # fmt: skip
    fund.transfer_surplus(store, 5 * FEES.annual_fee, FEES, "Treasurer", today)
    asked = obligations.request_waiver(store, FEES, waived, "cannot pay", today)
    first = waivers.decide(asked, "ChapterAdmin", "grant", needs_second=True)
    fund.settle_waiver(store, asked, first, "ChapterAdmin", FEES, today)

    # While the run posts the reminder on the wiki, an admin records the payer's fee
    # (another connection, as the bridge would) and a second admin confirms the waiver.
    post = wiki.append_section

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        bridge = Store(wikibot.root / "ats.sqlite")
        obligations.record_payment(
            bridge, FEES, payer, amount=FEES.annual_fee, currency=FEES.currency,
            paid_on=today, method="bank", reference=f"mid-{tag}", recorded_by="ChapterAdmin",
            today=today,
        )  # fmt: skip
        seen = bridge.waiver(asked.id)
        assert seen is not None
        second = waivers.decide(seen, "Treasurer", "grant", needs_second=True)
        assert fund.settle_waiver(bridge, seen, second, "Treasurer", FEES, today).ok
        bridge.close()
        return post(*args, **kwargs)

    monkeypatch.setattr(wiki, "append_section", meanwhile)
    report = run_renewal(config, today=today)
    assert report.posted == [reminded], report.summary()
    assert report.suspended == [], report.summary()
    assert store.suspensions() == [] and store.jobs() == []
