"""The two-wiki farm with the real CentralAuth: what metawiki and enwiki answer about every
persona (global accounts, per-wiki counts, blocks, locks, hidden accounts, recent edits),
the bot's login, the steward's lock and unlock, bulk accounts and request counting."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.builders import request_wikitext

from .conftest import (
    KILL_SWITCH_PAGE,
    PERSONAS,
    STEWARD,
    DevFarm,
    DevFarmError,
    FarmWiki,
    GlobalUserSpec,
    WikiBot,
    centralauth_dir,
    default_centralauth_dir,
)

COMMON = {"format": "json", "formatversion": "2"}
FARM_MODULE = DevFarm.__module__  # for the child processes below

# name: (global editcount, {wiki: editcount}, edits in the last 55 days per wiki)
EXPECTED: dict[str, tuple[int, dict[str, int], dict[str, int]]] = {
    "Wanderer": (800, {"enwiki": 800, "metawiki": 0}, {"enwiki": 40, "metawiki": 0}),
    "Split Editor": (600, {"enwiki": 400, "metawiki": 200}, {"enwiki": 6, "metawiki": 6}),
    "Long Gone": (900, {"enwiki": 900, "metawiki": 0}, {"enwiki": 0, "metawiki": 0}),
    "Locked Out": (700, {"enwiki": 700, "metawiki": 0}, {"enwiki": 30, "metawiki": 0}),
    "Blocked Abroad": (700, {"enwiki": 700, "metawiki": 0}, {"enwiki": 30, "metawiki": 0}),
    "Later Locked": (700, {"enwiki": 700, "metawiki": 0}, {"enwiki": 30, "metawiki": 0}),
    "ChapterAdmin": (600, {"enwiki": 0, "metawiki": 600}, {"enwiki": 0, "metawiki": 30}),
}
AGES = {
    "Wanderer": 5 * 365,
    "Split Editor": 3 * 365,
    "Long Gone": 8 * 365,
    "Locked Out": 5 * 365,
    "Blocked Abroad": 5 * 365,
    "Hidden Account": 5 * 365,
    "Later Locked": 5 * 365,
    "ChapterAdmin": 5 * 365,
}


def get(url: str, session: requests.Session | None = None, **params: Any) -> dict[str, Any]:
    resp = (session or requests).get(url, params={**params, **COMMON}, timeout=30)
    resp.raise_for_status()
    data = resp.json()
    assert "error" not in data, data
    return data


def global_info(farm: DevFarm, name: str, session: requests.Session | None = None) -> Any:
    data = get(
        farm.meta.api_url,
        session,
        action="query",
        meta="globaluserinfo",
        guiuser=name,
        guiprop="editcount|merged|groups",
    )
    return data["query"]["globaluserinfo"]


def parse_ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def bot_session(wiki: FarmWiki) -> requests.Session:
    session = requests.Session()
    token = session.get(
        wiki.api_url, params={"action": "query", "meta": "tokens", "type": "login", **COMMON}
    ).json()["query"]["tokens"]["logintoken"]
    login = session.post(
        wiki.api_url,
        data={
            "action": "login",
            "lgname": wiki.bot_login_name,
            "lgpassword": wiki.bot_password,
            "lgtoken": token,
            **COMMON,
        },
    ).json()
    assert login["login"]["result"] == "Success", login
    return session


def client_login(wiki: FarmWiki, name: str, password: str) -> dict[str, Any]:
    session = requests.Session()
    token = session.get(
        wiki.api_url, params={"action": "query", "meta": "tokens", "type": "login", **COMMON}
    ).json()["query"]["tokens"]["logintoken"]
    return session.post(
        wiki.api_url,
        data={
            "action": "clientlogin",
            "username": name,
            "password": password,
            "logintoken": token,
            "loginreturnurl": wiki.server,
            **COMMON,
        },
    ).json()["clientlogin"]


def recent_contribs(wiki: FarmWiki, names: list[str], days: int) -> dict[str, int]:
    """Edits per user on ``wiki`` in the last ``days`` days, from one usercontribs query."""
    now = datetime.now(UTC)
    data = get(
        wiki.api_url,
        action="query",
        list="usercontribs",
        ucuser="|".join(names),
        ucstart=now.strftime("%Y-%m-%dT%H:%M:%SZ"),  # the newer bound (ucdir=older)
        ucend=(now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        uclimit="max",
        ucprop="timestamp",
    )
    assert "continue" not in data
    counts = dict.fromkeys(names, 0)
    for contrib in data["query"]["usercontribs"]:
        counts[contrib["user"]] += 1
    return counts


def test_centralauth_dir_is_the_shared_folder_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ATS_CENTRALAUTH_DIR", raising=False)
    default = default_centralauth_dir()
    assert default.parent.name == "shared"
    # A checkout beside the shared folder (as in CI) finds it; one elsewhere finds nothing.
    if (default / "CentralAuth" / "extension.json").is_file():
        assert centralauth_dir() == default.resolve()
    else:
        assert centralauth_dir() is None
    monkeypatch.setenv("ATS_CENTRALAUTH_DIR", str(tmp_path))
    assert centralauth_dir() is None  # no CentralAuth/extension.json there
    (tmp_path / "CentralAuth").mkdir()
    (tmp_path / "CentralAuth" / "extension.json").write_text("{}")
    assert centralauth_dir() == tmp_path.resolve()


def test_seed_returns_every_persona_with_passwords_in_a_private_state_file(
    farm: DevFarm,
) -> None:
    users = farm.seed()
    assert set(users) == {spec.name for spec in PERSONAS} | set(users) - set(AGES)
    assert {spec.name for spec in PERSONAS} == set(AGES)
    assert users["Wanderer"].editcount == 800
    assert users["Split Editor"].editcount == 600
    assert users["Blocked Abroad"].blocked and not users["Wanderer"].blocked
    assert stat.S_IMODE(farm.state_path.stat().st_mode) == 0o600
    state = farm.state_path.read_text()
    assert users["Wanderer"].password in state and farm.steward_password in state
    assert farm.seed() == users  # a finished seed is read back, nothing is added


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_globaluserinfo_counts_per_wiki(farm: DevFarm, name: str) -> None:
    total, per_wiki, _recent = EXPECTED[name]
    info = global_info(farm, name)
    assert info["name"] == name
    assert info["home"] == "metawiki"
    assert info["editcount"] == total
    registered = parse_ts(info["registration"])
    age = datetime.now(UTC) - registered
    assert abs(age - timedelta(days=AGES[name])) < timedelta(days=1)
    merged = {entry["wiki"]: entry for entry in info["merged"]}
    assert set(merged) == {"metawiki", "enwiki"}
    assert merged["metawiki"]["url"] == farm.meta.server
    assert merged["enwiki"]["url"] == farm.home.server
    for wiki, count in per_wiki.items():
        assert merged[wiki]["editcount"] == count, wiki
        assert abs(parse_ts(merged[wiki]["registration"]) - registered) < timedelta(seconds=2)
    assert info["groups"] == []
    if name != "Locked Out":
        assert "locked" not in info
    if name != "Blocked Abroad":
        assert all("blocked" not in entry for entry in merged.values())


def test_merged_url_leads_to_that_wikis_api(farm: DevFarm) -> None:
    info = global_info(farm, "Wanderer")
    enwiki = next(entry for entry in info["merged"] if entry["wiki"] == "enwiki")
    site = get(enwiki["url"] + "/api.php", action="query", meta="siteinfo")
    assert site["query"]["general"]["wikiid"] == "enwiki"
    assert site["query"]["general"]["sitename"] == "EnWiki"


def test_chapter_admin_is_sysop_on_metawiki_only(farm: DevFarm) -> None:
    merged = {e["wiki"]: e for e in global_info(farm, "ChapterAdmin")["merged"]}
    assert merged["metawiki"]["groups"] == ["sysop"]
    assert "groups" not in merged["enwiki"]


def test_locked_out_is_locked(farm: DevFarm) -> None:
    assert global_info(farm, "Locked Out")["locked"] is True
    fv1 = requests.get(
        farm.meta.api_url,
        params={
            "action": "query",
            "meta": "globaluserinfo",
            "guiuser": "Locked Out",
            "format": "json",
        },
        timeout=30,
    ).json()
    assert fv1["query"]["globaluserinfo"]["locked"] == ""
    login = client_login(farm.home, "Locked Out", farm.seed()["Locked Out"].password)
    assert login["status"] == "FAIL"
    assert login["messagecode"] == "centralauth-login-error-locked"


def test_blocked_abroad_is_blocked_on_enwiki_only(farm: DevFarm) -> None:
    merged = {e["wiki"]: e for e in global_info(farm, "Blocked Abroad")["merged"]}
    assert "blocked" not in merged["metawiki"]
    block = merged["enwiki"]["blocked"]
    assert set(block) == {"expiry", "reason"}
    assert block["reason"] == "Edit warring on enwiki"
    expiry = parse_ts(block["expiry"]) - datetime.now(UTC)
    assert timedelta(days=27) < expiry < timedelta(days=32)
    users = get(
        farm.home.api_url,
        action="query",
        list="users",
        ususers="Blocked Abroad",
        usprop="blockinfo",
    )["query"]["users"][0]
    assert users["blockreason"] == "Edit warring on enwiki"


def test_hidden_account_reads_as_missing_to_anyone_but_a_steward(farm: DevFarm) -> None:
    assert global_info(farm, "Hidden Account") == {"missing": True}
    assert global_info(farm, "Hidden Account", bot_session(farm.meta)) == {"missing": True}
    assert global_info(farm, "Nobody Here At All") == {"missing": True}
    as_steward = global_info(farm, "Hidden Account", farm.steward_session())
    assert as_steward["hidden"] is True
    assert as_steward["editcount"] == 700
    # Hidden from lists, not from the wiki where it edits.
    local = get(
        farm.home.api_url,
        action="query",
        list="users",
        ususers="Hidden Account",
        usprop="editcount",
    )["query"]["users"][0]
    assert local["editcount"] == 700


def test_usercontribs_several_users_in_one_query(farm: DevFarm) -> None:
    names = [n for n in EXPECTED if n != "ChapterAdmin"]
    for wiki_name, wiki in farm.wikis.items():
        recent = recent_contribs(wiki, names, days=55)
        assert recent == {n: EXPECTED[n][2][wiki_name] for n in names}, wiki_name
        # Older edits end 400 days ago: a year's window counts the same recent edits.
        assert recent_contribs(wiki, names, days=365) == recent, wiki_name
    assert recent_contribs(farm.home, ["Long Gone"], days=2 * 365) == {"Long Gone": 0}
    assert recent_contribs(farm.home, ["Long Gone"], days=2 * 365 + 60)["Long Gone"] > 0


def test_bot_logs_in_on_metawiki_with_its_bot_password(farm: DevFarm) -> None:
    assert farm.meta.bot_login_name == "ClerkBot@clerk"
    me = get(
        farm.meta.api_url,
        bot_session(farm.meta),
        action="query",
        meta="userinfo",
        uiprop="groups",
        **{"assert": "bot"},
    )["query"]["userinfo"]
    assert me["name"] == "ClerkBot"
    assert "bot" in me["groups"]
    assert farm.meta.page_text(KILL_SWITCH_PAGE) == "true"


def test_the_bot_password_is_global_as_on_wikimedia(farm: DevFarm) -> None:
    session = bot_session(farm.home)  # the metawiki BotPassword, on enwiki
    me = get(farm.home.api_url, session, action="query", meta="userinfo", **{"assert": "user"})
    assert me["query"]["userinfo"]["name"] == "ClerkBot"
    merged = {e["wiki"] for e in global_info(farm, "ClerkBot")["merged"]}
    assert merged == {"metawiki", "enwiki"}


def test_lock_and_unlock_round_trip(farm: DevFarm) -> None:
    password = farm.seed()["Later Locked"].password
    assert "locked" not in global_info(farm, "Later Locked")
    assert client_login(farm.meta, "Later Locked", password)["status"] == "PASS"
    farm.lock("Later Locked")
    try:
        assert global_info(farm, "Later Locked")["locked"] is True
        for wiki in farm.wikis.values():
            login = client_login(wiki, "Later Locked", password)
            assert login["messagecode"] == "centralauth-login-error-locked"
        farm.lock("Later Locked")  # locking a locked account changes nothing
    finally:
        farm.unlock("Later Locked")
    assert "locked" not in global_info(farm, "Later Locked")
    assert client_login(farm.home, "Later Locked", password)["status"] == "PASS"


def test_api_requests_counted_per_wiki(farm: DevFarm) -> None:
    offsets = farm.log_sizes()
    get(farm.meta.api_url, action="query", meta="siteinfo")
    get(farm.home.api_url, action="query", meta="siteinfo")
    get(farm.home.api_url, action="query", meta="siteinfo")
    requests.get(farm.home.index_url, params={"title": "Main_Page"}, timeout=30)
    assert farm.api_requests_since(offsets) == {"metawiki": 1, "enwiki": 2}


def test_add_global_users_in_bulk(farm: DevFarm) -> None:
    specs = [
        GlobalUserSpec(
            f"Bulk Editor {i}",
            400 + i,
            {"enwiki": (120, 12)} if i % 2 else {"metawiki": (90, 3)},
        )
        for i in range(10)
    ]
    started = time.monotonic()
    made = farm.add_global_users(specs)
    elapsed = time.monotonic() - started
    assert set(made) == {s.name for s in specs}
    assert elapsed < 60, elapsed
    odd, even = global_info(farm, "Bulk Editor 3"), global_info(farm, "Bulk Editor 4")
    assert odd["editcount"] == 120 and even["editcount"] == 90
    assert {e["wiki"]: e["editcount"] for e in odd["merged"]} == {"enwiki": 120, "metawiki": 0}
    age = datetime.now(UTC) - parse_ts(even["registration"])
    assert abs(age - timedelta(days=404)) < timedelta(days=1)
    recent = recent_contribs(farm.home, ["Bulk Editor 3", "Bulk Editor 4"], days=55)
    assert recent == {"Bulk Editor 3": 12, "Bulk Editor 4": 0}
    login = client_login(farm.home, "Bulk Editor 3", made["Bulk Editor 3"].password)
    assert login["status"] == "PASS"
    # Adding them again duplicates nothing.
    farm.add_global_users(specs[:2])
    assert global_info(farm, "Bulk Editor 1")["editcount"] == 120


def test_add_global_users_with_few_old_revisions(farm: DevFarm) -> None:
    spec = GlobalUserSpec("Quick Editor", 3 * 365, {"enwiki": (5000, 15)}, old_revisions=5)
    started = time.monotonic()
    farm.add_global_users([spec])
    assert time.monotonic() - started < 20
    info = global_info(farm, "Quick Editor")
    assert info["editcount"] == 5000
    assert {e["wiki"]: e["editcount"] for e in info["merged"]} == {"enwiki": 5000, "metawiki": 0}
    assert recent_contribs(farm.home, ["Quick Editor"], days=55) == {"Quick Editor": 15}
    assert recent_contribs(farm.home, ["Quick Editor"], days=10 * 365) == {"Quick Editor": 20}
    # A later batch recounts every account's revisions; the counted edits stay.
    farm.add_global_users([GlobalUserSpec("Later Bulk Editor", 400, {"enwiki": (3, 1)})])
    assert global_info(farm, "Quick Editor")["editcount"] == 5000
    assert farm.seed()["Quick Editor"].editcount == 5000


def test_the_bot_runs_a_cycle_on_metawiki(farm: DevFarm, tmp_path: Path) -> None:
    # A requester of its own: the personas' edit counts must stay as seeded for other tests.
    farm.add_global_users([GlobalUserSpec("Farm Requester", 4 * 365, {"enwiki": (650, 25)})])
    page = "Toolserver/Requests/Farm"
    farm.meta.edit_as(farm.meta.admin_user, page, "Requests for accounts.\n", "new page")
    bot = WikiBot(farm.meta, tmp_path, page)
    bot.file(
        "Farm Requester",
        "Account request: Farm Requester",
        request_wikitext(purpose="Running bots."),
    )
    offsets = farm.log_sizes()
    result = bot.cycle()
    assert "saved" in result.stdout
    assert bot.revisions()[0]["user"] == "ClerkBot"
    assert ":{{ATS status|" in bot.text()
    assert farm.api_requests_since(offsets)["metawiki"] > 0


def test_a_second_farm_killed_while_seeding_resumes_beside_the_first(
    farm: DevFarm, tmp_path: Path
) -> None:
    second = DevFarm.create(tmp_path / "farm")
    try:
        second.start()
        assert {w.port for w in second.wikis.values()}.isdisjoint(
            {w.port for w in farm.wikis.values()}
        )
        seeding = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from {FARM_MODULE} import DevFarm; DevFarm.load({str(second.root)!r}).seed()",
            ],
            start_new_session=True,
        )
        # Kill it (and its php) while enwiki's import is under way.
        deadline = time.monotonic() + 120
        while not list(second.home.root.glob("*.xml")):
            assert seeding.poll() is None, "the seed ended before its import was seen"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1)
        os.killpg(seeding.pid, signal.SIGKILL)
        seeding.wait()
        assert not json.loads(second.state_path.read_text())["seed"]["done"]

        users = second.seed()
        assert set(users) == set(AGES)
        assert users["Wanderer"].password != farm.seed()["Wanderer"].password
        for name, (total, per_wiki, _recent) in EXPECTED.items():
            info = global_info(second, name)
            assert info["editcount"] == total, name
            merged = {e["wiki"]: e for e in info["merged"]}
            assert merged["enwiki"]["url"] == second.home.server
            assert {w: merged[w]["editcount"] for w in per_wiki} == per_wiki, name
        assert global_info(second, "Locked Out")["locked"] is True
        assert global_info(second, "Hidden Account") == {"missing": True}

        # Host-only cookies ignore the port: one HTTP session logged in to both farms keeps
        # both logins, because each farm's cookies have names of their own.
        both = bot_session(farm.meta)
        token = both.get(
            second.meta.api_url,
            params={"action": "query", "meta": "tokens", "type": "login", **COMMON},
        ).json()["query"]["tokens"]["logintoken"]
        login = both.post(
            second.meta.api_url,
            data={
                "action": "clientlogin",
                "username": "Wanderer",
                "password": users["Wanderer"].password,
                "logintoken": token,
                "loginreturnurl": second.meta.server,
                **COMMON,
            },
        ).json()["clientlogin"]
        assert login["status"] == "PASS", login
        for wiki, name in ((farm.meta, "ClerkBot"), (second.meta, "Wanderer")):
            me = get(wiki.api_url, both, action="query", meta="userinfo")["query"]["userinfo"]
            assert me["name"] == name
    finally:
        second.stop()
    assert farm.running()
    assert global_info(farm, "Wanderer")["editcount"] == 800


def test_an_interrupted_build_is_built_again(farm: DevFarm, tmp_path: Path) -> None:
    root = tmp_path / "farm"
    building = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from {FARM_MODULE} import DevFarm; DevFarm.create({str(root)!r})",
        ],
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not (root / "enwiki" / "conf" / "LocalSettings.php").exists():
        assert building.poll() is None, "the build ended before it was interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(building.pid, signal.SIGKILL)
    building.wait()
    with pytest.raises(DevFarmError, match="no finished dev farm"):
        DevFarm.load(root)

    rebuilt = DevFarm.create(root)
    assert DevFarm.load(root).meta.port == rebuilt.meta.port
    assert rebuilt.global_status("ClerkBot") == (False, 0)
    assert rebuilt.global_status(STEWARD) == (False, 0)
    assert rebuilt.global_status("Wanderer") is None  # not seeded yet
