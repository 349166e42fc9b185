"""Renewal reminders claimed before they are posted, against the real local wiki: two
`ats renewal run` at once remind each member once; a run killed after posting (or
before) is followed by one that neither posts twice nor forgets; and with the wiki
unreachable the suspensions and restores are still queued, with one line for the rest."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests

from membership.reminder_claims import CLAIMED
from membership.store import Store
from policies.fees import load_fees
from tests.integration.conftest import WikiBot

FEES = load_fees()
TODAY = datetime.now(UTC).date()  # `ats renewal run` counts from the real date
DUE = TODAY - timedelta(days=350)  # a payment on this day makes the 30-day reminder due


def pay(store: Store, member: str, on: date) -> None:
    store.record_payment(
        member,
        amount=FEES.annual_fee,
        currency=FEES.currency,
        paid_on=on.isoformat(),
        method="bank",
        reference=f"ref-{member}-{on.isoformat()}",
        recorded_by="Treasurer",
    )


def new_members(store: Store, count: int, prefix: str = "Renew") -> list[str]:
    names = []
    for _ in range(count):
        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        uid = 30000 + int(uuid.uuid4().hex[:4], 16)
        store.record_account(name.lower(), "person", name, uid)
        pay(store, name, DUE)
        names.append(name)
    return names


def talk_edits(wikibot: WikiBot, member: str) -> list[dict[str, Any]]:
    response = requests.get(
        wikibot.wiki.api_url,
        params={
            "action": "query",
            "prop": "revisions",
            "titles": f"User talk:{member}",
            "rvlimit": "max",
            "rvprop": "ids|user|comment",
            "format": "json",
            "formatversion": 2,
        },
        timeout=30,
    )
    return response.json()["query"]["pages"][0].get("revisions", [])


def reminders_on_page(wikibot: WikiBot, member: str) -> int:
    if not talk_edits(wikibot, member):
        return 0
    return wikibot.wiki.page_text(f"User talk:{member}").count("<!-- ats-renewal ")


def start(wikibot: WikiBot, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ats.cli", "--config", str(wikibot.config), "renewal", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=wikibot.env,
    )


@pytest.mark.process
def test_two_runs_at_once_remind_each_member_once(wikibot: WikiBot) -> None:
    store = wikibot.store()
    for _ in range(3):
        members = new_members(store, 4)
        runs = [start(wikibot), start(wikibot)]
        outputs = [run.communicate(timeout=180) for run in runs]
        for run, (out, err) in zip(runs, outputs, strict=True):
            assert run.returncode == 0, out + err
            assert "Traceback" not in err
        for member in members:
            edits = talk_edits(wikibot, member)
            assert [e["user"] for e in edits] == ["ClerkBot"], (member, outputs)
            assert reminders_on_page(wikibot, member) == 1
            [record] = store.reminders(member)
            assert record.outcome == "posted" and record.revid == edits[0]["revid"]
        posted = [line for out, _ in outputs for line in out.splitlines() if "reminded:" in line]
        named = [n for line in posted for n in line.split(":", 1)[1].split(", ")]
        assert sorted(n.strip() for n in named if n.strip() in members) == sorted(members)


def test_a_run_killed_between_posting_and_recording_is_not_repeated(wikibot: WikiBot) -> None:
    store = wikibot.store()
    [member] = new_members(store, 1, "Killed")
    killed = wikibot.run("renewal", "run", env={"ATS_KILL_AT": "reminder-posted"}, check=False)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert reminders_on_page(wikibot, member) == 1
    [claim] = store.reminders(member)
    assert claim.outcome == CLAIMED and claim.revid is None  # posted, never recorded

    after = wikibot.run("renewal", "run")
    assert "reminded:" not in after.stdout, after.stdout
    assert len(talk_edits(wikibot, member)) == 1 and reminders_on_page(wikibot, member) == 1
    [settled] = store.reminders(member)
    assert settled.outcome == "posted" and settled.note == "already on the talk page"
    wikibot.run("renewal", "run")
    assert len(talk_edits(wikibot, member)) == 1


def test_a_claim_whose_post_never_happened_is_posted_by_the_next_run(
    wikibot: WikiBot,
) -> None:
    store = wikibot.store()
    [member] = new_members(store, 1, "Claimed")
    killed = wikibot.run("renewal", "run", env={"ATS_KILL_AT": "reminders-claimed"}, check=False)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert talk_edits(wikibot, member) == []
    assert [r.outcome for r in store.reminders(member)] == [CLAIMED]

    after = wikibot.run("renewal", "run")
    assert f"reminded: {member}" in after.stdout, after.stdout
    assert reminders_on_page(wikibot, member) == 1
    [settled] = store.reminders(member)
    assert settled.outcome == "posted" and settled.revid == talk_edits(wikibot, member)[0]["revid"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_with_the_wiki_unreachable_accounts_are_still_suspended_and_restored(
    wikibot: WikiBot,
) -> None:
    store = wikibot.store()
    [reminded] = new_members(store, 1, "Due")
    lapsed, renewed = f"Lapsed{uuid.uuid4().hex[:8]}", f"Renewed{uuid.uuid4().hex[:8]}"
    long_ago = TODAY - timedelta(days=365 + FEES.grace_days + 5)
    for n, name in enumerate((lapsed, renewed)):
        store.record_account(name.lower(), "person", name, 31000 + n)
        pay(store, name, long_ago)
    store.record_suspension(
        renewed, renewed.lower(), "membership lapsed", paid_until=long_ago.isoformat(), job_id=None
    )
    pay(store, renewed, TODAY)
    text = wikibot.config.read_text(encoding="utf-8")
    wikibot.config.write_text(
        text.replace(wikibot.wiki.api_url, f"http://127.0.0.1:{closed_port()}/w/api.php"),
        encoding="utf-8",
    )

    result = wikibot.run("renewal", "run", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "1 suspensions queued, 1 restores queued" in result.stdout, result.stdout
    errors = [line for line in result.stdout.splitlines() if "error:" in line]
    assert len(errors) == 1 and "reminders not posted:" in errors[0], result.stdout
    assert "127.0.0.1" in errors[0]
    # `ats members check` still follows, and fails with one line of its own.
    assert [line for line in result.stderr.splitlines() if line] == [
        line for line in result.stderr.splitlines() if line.startswith("ats: members check:")
    ], result.stderr
    jobs = {(job.member, job.kind) for job in store.jobs()}
    assert jobs == {(lapsed, "suspend"), (renewed, "restore")}
    assert store.reminders(reminded) == []  # released: the next run claims it again
